"""`recommender tune`: pairs and the validation split, the manifest, activation only when
validation improved, a failed run leaves nothing behind, and a seed gives the same model. A
tiny BERT made in the test stands in for MiniLM; the slow test tunes the real bundled model."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recommender.config import Settings
from recommender.embedding import SentenceTransformerEmbedder, create_embedder, embed_articles
from recommender.errors import InvalidInput, ModelNotFound, ModelNotImproved
from recommender.events import Event
from recommender.store import Store, open_store
from recommender.tuning import TuneResult, activate, list_versions, run_tune
from recommender.tuning.pairs import PairStream, Split, coread_partners, survey
from recommender.tuning.run import sampling_rate
from recommender.tuning.validation import collect_validation, reciprocal_ranks
from tests.factories import make_settings
from tests.tuning_support import tiny_config, topical_corpus


def filled_store(settings: Settings) -> Store:
    opened = open_store(settings)
    articles = topical_corpus()
    opened.upsert_articles(articles)
    # readers who read a story then another of the same topic: co-read pairs
    events = [
        Event(ts=float(i), type="view", article_id=articles[(i // 2 * 6 + i % 2 * 6) % 120].id,
              session_id=f"s{i // 2 % 40}")
        for i in range(400)
    ]  # fmt: skip
    opened.add_events(events)
    return opened


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = filled_store(settings)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def tuned_once(base_model: Path, tmp_path_factory: pytest.TempPathFactory) -> TuneResult:
    """One run of the tiny model on the topical corpus (made current); tests copy it."""
    settings = make_settings(tmp_path_factory.mktemp("tuned"))
    opened = filled_store(settings)
    result = run_tune(settings, opened, tiny_config(base_model), activate=True)
    opened.close()
    return result


def with_good_model(settings: Settings, tuned_once: TuneResult) -> str:
    """A copy of tuned_once under settings' models folder, current; its version."""
    shutil.copytree(tuned_once.folder.parent, settings.tuned_root)
    return tuned_once.folder.name


def folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_pairs_never_touch_a_validation_article(store: Store, base_model: Path) -> None:
    config = tiny_config(base_model)
    split = Split(config.seed, 0.25)
    partners = coread_partners(store.iter_events(), split, config.min_coread_pairs)
    assert partners, "the click log should give co-read pairs"
    stream = PairStream(store, split, config, partners)
    validation = collect_validation(stream)
    held_out = set(validation.ids)
    assert 20 <= len(held_out) <= 60
    held_texts = set(validation.headlines) | set(validation.bodies)
    kinds = set()
    for epoch in (1, 2):
        for batch in stream.batches(epoch, keep=1.0):
            assert len({p.article_id for p in batch}) == len(batch)  # no false negatives
            for pair in batch:
                kinds.add(pair.kind)
                assert pair.article_id not in held_out
                assert pair.anchor not in held_texts and pair.positive not in held_texts
    assert kinds == {"headline", "passage", "coread"}
    for a, partner_ids in partners.items():
        assert a not in held_out and not held_out & set(partner_ids)
    # the split is a property of (seed, id): the same in every pass and process
    assert Split(config.seed, 0.25).is_validation("a001") == split.is_validation("a001")
    assert survey(stream).validation_articles == len(held_out)


def test_sampling_keeps_pairs_within_the_budgets(base_model: Path) -> None:
    config = tiny_config(base_model, max_pairs=100)
    assert sampling_rate(config, 1_000, 1.0, 0.5, None) == pytest.approx(0.1)
    # 2 epochs, 60 s left, a validation takes 2 s, a pair 0.2 s: 0.8 * 60 s less 2
    # validations leave 44 s, 110 pairs per epoch
    timed = tiny_config(base_model, epochs=2)
    rate = sampling_rate(timed, 100_000, 2.0, 0.2, 60.0)
    assert 100_000 * rate == pytest.approx(44 / 0.2 / 2)
    assert sampling_rate(timed, 100_000, 2.0, 0.2, 1.0) == 0.0


def test_reciprocal_rank_of_the_own_body() -> None:
    queries = np.eye(3, dtype=np.float32)
    documents = np.array([[1, 0, 0], [0.6, 0.4, 0], [0, 0.8, 0.6]], dtype=np.float32)
    assert reciprocal_ranks(queries, documents).tolist() == [1.0, 0.5, 1.0]


def test_tune_writes_a_versioned_model_with_its_manifest(
    tmp_path: Path, tuned_once: TuneResult, base_model: Path
) -> None:
    result = tuned_once
    manifest = result.manifest
    assert folders(result.folder.parent) == sorted([".build.lock", "CURRENT", result.folder.name])
    on_disk = json.loads((result.folder / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["base_model"] == str(base_model)
    assert manifest["model_name"] == f"tuned:{result.folder.name}"
    assert manifest["articles"]["published"] == 120
    assert manifest["articles"]["train"] + manifest["articles"]["validation"] == 120
    assert manifest["pairs"]["available"]["coread"] > 0
    assert manifest["pairs"]["trained"] > 0 and manifest["epochs"]["run"] == 1
    assert manifest["options"]["seed"] == 5 and len(manifest["data_fingerprint"]) == 16
    validation = manifest["validation"]
    assert validation["after"] > validation["before"]  # the tiny model learns the topics
    # it improved, so activate=True made it current, and tuned:current serves it
    assert result.activated
    settings = make_settings(tmp_path)
    version = with_good_model(settings, tuned_once)
    served = create_embedder(settings.model_copy(update={"model_name": "tuned:current"}))
    assert served.name == f"tuned:{version}"
    assert [m["current"] for m in list_versions(settings.tuned_root)] == [True]
    # the cache keys differ from the base model's, so nothing stale is reused
    base = SentenceTransformerEmbedder(str(base_model))
    store = open_store(settings)
    articles = topical_corpus(4)
    first = embed_articles(store, served, articles, 50)
    second = embed_articles(store, base, articles, 50)
    store.close()
    assert first.embedded == 4 and second.embedded == 4
    assert set(first.hashes).isdisjoint(second.hashes)


def test_a_worse_model_is_not_made_current_unless_forced(
    settings: Settings, store: Store, base_model: Path, tuned_once: TuneResult
) -> None:
    good = with_good_model(settings, tuned_once)
    # from the good model, one step at a learning rate this high wrecks it: validation drops
    wrecking = tiny_config(base_model, lr=0.5, max_pairs=16)
    bad = run_tune(settings, store, replace(wrecking, base_model=f"tuned:{good}"), activate=True)
    assert bad.manifest["validation"]["after"] <= bad.manifest["validation"]["before"]
    assert not bad.activated
    assert (settings.tuned_root / "CURRENT").read_text() == good
    with pytest.raises(ModelNotImproved):
        activate(settings.tuned_root, bad.folder.name)
    assert (settings.tuned_root / "CURRENT").read_text() == good
    activate(settings.tuned_root, bad.folder.name, force=True)
    assert (settings.tuned_root / "CURRENT").read_text() == bad.folder.name
    with pytest.raises(ModelNotFound):
        activate(settings.tuned_root, "../index")


class Killed(Exception):
    pass


def test_a_killed_run_leaves_the_served_model_and_no_half_made_folder(
    settings: Settings,
    store: Store,
    base_model: Path,
    tuned_once: TuneResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = with_good_model(settings, tuned_once)
    before = folders(settings.tuned_root)

    def bars(label: str, total: int) -> object:
        def advance(n: int) -> None:
            if label.startswith("epoch"):
                raise Killed  # mid-training

        return advance

    with pytest.raises(Killed):
        run_tune(settings, store, tiny_config(base_model), bars, activate=True)  # type: ignore[arg-type]
    assert folders(settings.tuned_root) == before

    # killed while writing the model folder
    from recommender.tuning.train import Trainer

    def broken_save(self: Trainer, folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{")
        raise Killed

    monkeypatch.setattr(Trainer, "save", broken_save)
    with pytest.raises(Killed):
        run_tune(settings, store, tiny_config(base_model, max_pairs=32), activate=True)
    assert folders(settings.tuned_root) == before
    # killed outright (SIGKILL): the .partial it leaves is removed by the next run
    (settings.tuned_root / "20990101T000000000000Z-dead.partial").mkdir()
    monkeypatch.undo()
    run_tune(settings, store, tiny_config(base_model, epochs=1, max_pairs=32))
    assert not [name for name in folders(settings.tuned_root) if name.endswith(".partial")]
    assert (settings.tuned_root / "CURRENT").read_text() == good
    served = create_embedder(settings.model_copy(update={"model_name": "tuned:current"}))
    assert served.name == f"tuned:{good}"


def test_the_same_seed_gives_the_same_model(
    settings: Settings, store: Store, base_model: Path
) -> None:
    runs = [
        run_tune(settings, store, tiny_config(base_model, seed=s, max_pairs=48)) for s in (7, 7, 8)
    ]
    texts = [a.title for a in topical_corpus(12)]
    vectors = [
        SentenceTransformerEmbedder(r.manifest["model_name"], tuned_root=settings.tuned_root)
        .embed(texts)
        for r in runs
    ]  # fmt: skip
    assert runs[0].manifest["validation"] == runs[1].manifest["validation"]
    assert runs[0].manifest["pairs"] == runs[1].manifest["pairs"]
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert not np.array_equal(vectors[0], vectors[2])


def test_too_little_data_is_a_clear_error(tmp_path: Path, base_model: Path) -> None:
    settings = make_settings(tmp_path)
    small = open_store(settings)
    small.upsert_articles(topical_corpus(30))
    with pytest.raises(InvalidInput, match="too few articles"):
        run_tune(settings, small, tiny_config(base_model))
    small.close()
    assert not (settings.tuned_root / "CURRENT").exists()


def test_an_unknown_tuned_model_is_a_named_error(settings: Settings) -> None:
    for name in ("tuned:current", "tuned:nope", "tuned:../index"):
        with pytest.raises(ModelNotFound):
            create_embedder(settings.model_copy(update={"model_name": name}))
