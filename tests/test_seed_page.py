"""The Dutch seed-page check (slow: the bundled model on 1,445 real Dutch articles), through the
HTTP API with the shipped ranker file; scripts/seed_page_check.py prints the lists."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from recommender.seedpage import parse_seed_page
from tests.factories import SHARED_DATA

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "seed_page_check.py"
PAGE = SHARED_DATA.parent / "seed" / "example-article-page.txt"


def test_the_page_is_read_as_a_reader_sees_it() -> None:
    if not PAGE.is_file():
        pytest.skip(f"no seed page at {PAGE}")
    page = parse_seed_page(PAGE.read_text())
    assert page.title.startswith("Na Noord-Korea vechten")
    assert len(page.related) == 4 and all("Cuba" in h for h in page.related)
    assert len(page.popular) == 6 and "Cuba" not in " ".join(page.popular)
    assert page.text.startswith("Rusland zet nu ook Cubanen in") and "Bron" not in page.text


@pytest.mark.slow
def test_seed_page_blocks_through_the_api(tmp_path: Path) -> None:
    if not PAGE.is_file() or not (SHARED_DATA / "dpg-nl-2019" / "articles.jsonl").is_file():
        pytest.skip("seed page or DPG data missing")
    spec = importlib.util.spec_from_file_location("seed_page_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.run_check(tmp_path)
    related = [item["id"] for item in result["related"]]
    popular = [item["id"] for item in result["popular"]]
    assert result["related_ok"], related
    assert result["popular_ok"], popular
    assert result["no_overlap"]
    lexical = [item["reasons"].get("lexical", 0.0) for item in result["related"]]
    names = [item["reasons"].get("name_overlap", 0.0) for item in result["related"]]
    assert all(v > 0 for v in lexical) and all(v > 0 for v in names)
