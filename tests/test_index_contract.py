"""The same contract for every VectorIndex backend (exact flat and HNSW)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.errors import IndexMismatch, IndexNotFound
from recommender.index import INDEX_FILE, VectorIndex, choose_kind

DIM = 32
MODEL = "fake-hash-32"


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    normalised: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normalised


@pytest.fixture(params=["flat", "hnsw"])
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def filled(kind: str) -> tuple[VectorIndex, list[str], np.ndarray]:
    rng = np.random.default_rng(0)
    ids = [f"a{i}" for i in range(200)]
    vectors = unit(rng, len(ids))
    index = VectorIndex(DIM, MODEL, kind, hnsw_m=16, ef_search=64)
    index.upsert(ids, vectors, [f"h{i}" for i in range(len(ids))])
    return index, ids, vectors


def test_upsert_then_search_finds_itself_first(
    filled: tuple[VectorIndex, list[str], np.ndarray],
) -> None:
    index, ids, vectors = filled
    assert len(index) == 200 and "a7" in index and index.tombstones == 0
    for i in (0, 7, 199):
        hits = index.search(vectors[i], 5)
        assert hits[0][0] == ids[i]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_replace_moves_the_article(filled: tuple[VectorIndex, list[str], np.ndarray]) -> None:
    index, _, vectors = filled
    index.upsert(["a1"], vectors[2:3], ["new"])
    assert len(index) == 200 and index.tombstones == 1
    assert index.content_hash("a1") == "new"
    moved = index.vector("a1")
    assert moved is not None and np.allclose(moved, vectors[2], atol=1e-6)
    hits = dict(index.search(vectors[2], 3))
    assert {"a1", "a2"} <= set(hits)
    # the old vector of a1 is a tombstone now: searching for it must not return a1 on top
    assert index.search(vectors[1], 1)[0][0] != "a1"


def test_remove_is_excluded_from_search(
    filled: tuple[VectorIndex, list[str], np.ndarray],
) -> None:
    index, ids, vectors = filled
    assert index.remove(["a3", "missing"]) == 1
    assert "a3" not in index and index.vector("a3") is None
    assert all(hit != "a3" for hit, _ in index.search(vectors[3], 50))
    # k live results even when tombstones are the nearest rows
    index.remove(ids[10:60])
    assert len(index.search(vectors[10], 20)) == 20


def test_save_load_roundtrip(
    filled: tuple[VectorIndex, list[str], np.ndarray], tmp_path: Path
) -> None:
    index, ids, vectors = filled
    index.remove(["a5"])
    manifest = index.save(tmp_path / "v1", extra={"store_seq": 42})
    assert manifest["count"] == 199 and manifest["store_seq"] == 42
    loaded = VectorIndex.load(tmp_path / "v1", MODEL, DIM, ef_search=80)
    assert loaded.kind == index.kind and len(loaded) == 199 and loaded.tombstones == 0
    assert loaded.manifest["store_seq"] == 42 and loaded.ef_search == 80
    assert "a5" not in loaded and loaded.content_hash("a9") == "h9"
    assert [h for h, _ in loaded.search(vectors[9], 5)] == [
        h for h, _ in index.search(vectors[9], 5)
    ]
    # a loaded index keeps taking writes
    loaded.upsert(["z"], vectors[5:6], ["hz"])
    assert loaded.search(vectors[5], 1)[0][0] == "z"


def test_load_with_another_model_or_dimension(
    filled: tuple[VectorIndex, list[str], np.ndarray], tmp_path: Path
) -> None:
    index, _, _ = filled
    index.save(tmp_path / "v1")
    with pytest.raises(IndexMismatch):
        VectorIndex.load(tmp_path / "v1", "another-model", DIM)
    with pytest.raises(IndexMismatch):
        VectorIndex.load(tmp_path / "v1", MODEL, DIM * 2)


def test_load_corrupt_folder_is_index_not_found(
    filled: tuple[VectorIndex, list[str], np.ndarray], tmp_path: Path
) -> None:
    index, _, _ = filled
    index.save(tmp_path / "v1")
    (tmp_path / "v1" / INDEX_FILE).write_bytes(b"not an index")
    with pytest.raises(IndexNotFound, match="unreadable"):
        VectorIndex.load(tmp_path / "v1", MODEL, DIM)
    with pytest.raises(IndexNotFound, match="no index manifest"):
        VectorIndex.load(tmp_path / "nothing", MODEL, DIM)


def test_upsert_with_wrong_shape(filled: tuple[VectorIndex, list[str], np.ndarray]) -> None:
    index, _, _ = filled
    with pytest.raises(IndexMismatch):
        index.upsert(["x"], np.zeros((1, DIM + 1), np.float32), ["h"])


def test_compaction_drops_tombstones(
    filled: tuple[VectorIndex, list[str], np.ndarray],
) -> None:
    index, ids, vectors = filled
    index.remove(ids[:50])
    index.upsert(["a60"], vectors[61:62], ["moved"])
    compact = index.compacted()
    assert compact.kind == index.kind and compact.tombstones == 0
    assert len(compact) == len(index) == 150
    assert compact.content_hash("a60") == "moved"
    assert compact.search(vectors[100], 1)[0][0] == "a100"


def test_empty_index(kind: str) -> None:
    index = VectorIndex(DIM, MODEL, kind)
    assert index.search(np.ones(DIM, np.float32), 5) == []
    index.upsert([], np.zeros((0, DIM), np.float32), [])
    assert len(index) == 0


def test_choose_kind() -> None:
    assert choose_kind("auto", 10, 100) == "flat"
    assert choose_kind("auto", 100, 100) == "hnsw"
    assert choose_kind("flat", 10**9, 100) == "flat"
    assert choose_kind("hnsw", 1, 100) == "hnsw"
