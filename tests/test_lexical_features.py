"""LexicalSearch.features (both lexical features of a request, each candidate looked up once
through NameRows) equals similarities and name_overlap asked one by one, whatever writes came
before: publishes, updates, removals, compactions and writes that bypass LexicalSearch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.articles import Article
from recommender.component_configs import LexicalListsConfig
from recommender.lexical import LexicalSearch
from tests.factories import article, small_corpus

PLACES = ["Cuba", "Havana", "Utrecht", "Zeeland", "Ajax", "Brussel", "Rotterdam", "Groningen"]


def story(i: int, twist: str = "") -> Article:
    place, other = PLACES[i % len(PLACES)], PLACES[(3 * i + 1) % len(PLACES)]
    title = f"{place} en {other} in het nieuws {twist}".strip()
    return article(f"s-{i}", title, f"Bericht over {place} met {other} en de regering. {twist}")


def assert_features_as_one_by_one(search: LexicalSearch, ids: list[str]) -> None:
    candidates = [*ids, "unknown", ids[0], ids[-1]]  # an unknown id and repeats
    checked = 0
    for query in ids[::3]:
        similar, named = search.features(query, candidates)
        assert similar.tolist() == search.similarities(query, candidates).tolist()
        assert named.tolist() == search.name_overlap(query, candidates).tolist()
        checked += int((named > 0).sum())
    assert checked > 0  # real overlaps were compared, not only zeros


@pytest.mark.parametrize("depth", [0, 16])  # the live search and the neighbour lists
def test_features_equal_the_single_calls_through_writes(depth: int, tmp_path: Path) -> None:
    search = LexicalSearch(lists=LexicalListsConfig(depth=depth))
    search.upsert([*small_corpus(), *(story(i) for i in range(40))])
    ids = sorted(search.index.rows)
    assert_features_as_one_by_one(search, ids)
    search.upsert([story(i) for i in range(40, 50)])  # the live segment
    search.upsert([story(i, "update") for i in range(0, 10)])  # re-entered: new rows
    search.remove(["s-11", "s-12"])
    ids = sorted(search.index.rows)
    assert_features_as_one_by_one(search, ids)
    assert search.name_rows.is_current()  # the writes linked their rows
    search.index.compact()  # rows renumbered
    assert search.name_rows.is_current()  # moved along with them, not left to a rebuild
    assert_features_as_one_by_one(search, ids)
    search.save(tmp_path)
    loaded = LexicalSearch.load(tmp_path, lists=LexicalListsConfig(depth=depth))
    assert_features_as_one_by_one(loaded, ids)


def test_features_after_writes_that_bypass_the_search() -> None:
    search = LexicalSearch()
    search.upsert([story(i) for i in range(30)])
    ids = sorted(search.index.rows)
    assert_features_as_one_by_one(search, ids)
    # names re-entered in the table and an article indexed without LexicalSearch: the map of
    # table rows is rebuilt, not trusted
    moved = {"s-4": search.names["s-9"]}
    search.names.update(moved)
    search.name_table.put_many(moved.items())
    search.index.upsert("extra", ["cuba", "havana"])
    assert_features_as_one_by_one(search, [*ids, "extra"])


def test_features_of_an_unknown_query_are_zero() -> None:
    search = LexicalSearch()
    search.upsert([story(i) for i in range(10)])
    similar, named = search.features("nope", ["s-1", "s-2"])
    assert not similar.any() and not named.any()
    similar, named = search.features("s-1", [])
    assert len(similar) == len(named) == 0
    assert np.array_equal(search.features("s-1", ["nope"])[0], [0.0])


def test_features_after_a_write_that_compacts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch the index takes in bulk: it compacts within the write, renumbering rows."""
    search = LexicalSearch()
    search.upsert([story(i) for i in range(30)])
    assert_features_as_one_by_one(search, sorted(search.index.rows))  # the map is built
    monkeypatch.setattr(search.index, "_live_limit", lambda: 1)
    search.upsert([story(i, "update") for i in range(0, 30, 2)])  # dead rows, then renumbered
    assert len(search.index.ids) == 30  # compacted
    assert_features_as_one_by_one(search, sorted(search.index.rows))


class Owner:
    """Stands for the catalogue's columns: what numbers the slots."""


def assert_slot_path_as_id_path(
    search: LexicalSearch, ids: list[str], slot_of: dict[str, int], owner: object
) -> None:
    candidates = [*ids, "unknown"]
    slots = np.array([slot_of.setdefault(i, len(slot_of)) for i in candidates])
    for query in ids[::4]:
        by_slot = search.features(query, candidates, slots, owner)
        by_id = search.features(query, candidates)
        assert by_slot[0].tolist() == by_id[0].tolist()
        assert by_slot[1].tolist() == by_id[1].tolist()
    assert search.slot_rows.of(candidates, slots, owner).tolist() == [
        search.index.rows.get(i, -1) for i in candidates
    ]


@pytest.mark.parametrize("depth", [0, 16])
def test_rows_remembered_by_slot_stay_exact_through_writes(depth: int) -> None:
    search = LexicalSearch(lists=LexicalListsConfig(depth=depth))
    search.upsert([story(i) for i in range(40)])
    slot_of: dict[str, int] = {}
    owner = Owner()
    ids = sorted(search.index.rows)
    assert_slot_path_as_id_path(search, ids, slot_of, owner)
    search.upsert([story(i, "update") for i in range(0, 10)])  # re-entered: new rows
    search.remove(["s-11", "s-12"])  # dead rows
    search.upsert([story(i) for i in range(40, 50)])  # new articles, a slot met unknown before
    search.index.upsert("unknown", ["cuba", "havana"])  # straight to the index
    ids = sorted(search.index.rows)
    assert_slot_path_as_id_path(search, ids, slot_of, owner)
    search.index.compact()  # rows renumbered: the remembered rows move along
    assert_slot_path_as_id_path(search, ids, slot_of, owner)
    search.remove(["s-13"])

    # renumberings the slot map is not told of: what it remembers is forgotten, not trusted,
    # whether a read (below) or a renumbering it is told of (further below) comes next
    def all_but_the_slot_map(moved: np.ndarray) -> None:
        search.listed.renumbered(moved)
        search.name_rows.renumbered(moved)

    for deleted in ["s-13", "s-14"]:
        search.index.on_renumber = all_but_the_slot_map
        search.remove([deleted])
        search.index.compact()
        search.index.on_renumber = search._renumbered
        if deleted == "s-14":
            search.remove(["s-15"])
            search.index.compact()
        ids = sorted(search.index.rows)
        assert_slot_path_as_id_path(search, ids, slot_of, owner)
    # another owner numbers the articles differently: what one owner's slots meant is dropped
    assert_slot_path_as_id_path(search, ids[::-1], {}, Owner())


@pytest.mark.parametrize("seed", range(3))
def test_slots_anywhere_read_the_rows_of_their_articles(seed: int) -> None:
    """Slots in any order, far apart and around where the map ends (it grows to 1025 places,
    then doubles), read what the ids read, call after call and after removals."""
    rng = np.random.default_rng(seed)
    search = LexicalSearch()
    search.upsert([story(i) for i in range(60)])
    ids = [*sorted(search.index.rows), "unknown"]
    numbers = [0, 1023, 1024, 1025, 2047, 2048, 2049, 4096, 9000]
    others = np.setdiff1d(np.arange(8000), numbers)
    numbers += rng.choice(others, size=len(ids) - len(numbers), replace=False).tolist()
    slot_of = dict(zip(ids, rng.permutation(numbers).tolist(), strict=True))
    owner = Owner()
    for step in range(12):
        if step == 6:
            search.remove(ids[:5])
        candidates = rng.choice(ids, size=int(rng.integers(1, 80))).tolist()
        slots = np.array([slot_of[i] for i in candidates])
        got = search.slot_rows.of(candidates, slots, owner)
        assert got.tolist() == [search.index.rows.get(i, -1) for i in candidates]
