"""Tuning the real bundled MiniLM on a few hundred real Dutch DPG articles (a few minutes;
`make test-slow`): validation improves, the tuned model is served under its own name and
the index is rebuilt with it. Skips when ../shared/data is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.articles import Article, read_articles
from recommender.build import build_index
from recommender.embedding import create_embedder
from recommender.index import VectorIndex
from recommender.store import open_store
from recommender.tuning import run_tune
from tests.factories import SHARED_DATA, make_settings

DPG = SHARED_DATA / "dpg-nl-2019" / "articles.jsonl"


@pytest.mark.slow
def test_tuning_the_bundled_model_on_dpg_improves_validation(tmp_path: Path) -> None:
    if not DPG.is_file():
        pytest.skip(f"DPG corpus not found at {DPG}: the test needs the shared data")
    settings = make_settings(tmp_path, model_name="bundled:all-MiniLM-L6-v2")
    store = open_store(settings)
    articles = [item for _, item in read_articles(DPG) if isinstance(item, Article)][:400]
    store.upsert_articles(articles)
    # ten steps: a higher rate than the default 3e-5 (one full epoch) to move in so few
    config = settings.tune_config(max_pairs=320, seed=13, lr=1e-4)
    result = run_tune(settings, store, config, activate=True)
    validation = result.manifest["validation"]
    assert validation["articles"] >= 40
    assert validation["after"] > validation["before"], validation
    assert result.activated and result.manifest["pairs"]["trained"] <= 320
    tuned = settings.model_copy(update={"model_name": "tuned:current"})
    embedder = create_embedder(tuned)
    assert embedder.name == result.manifest["model_name"]
    base = build_index(settings, store, create_embedder(settings))
    built = build_index(tuned, store, embedder)
    # every vector comes from the tuned model: nothing the base model embedded is reused
    assert built.count == base.count == 400 and built.embedded == base.embedded > 300
    VectorIndex.load(built.folder, embedder.name, embedder.dim, 64)
    store.close()
