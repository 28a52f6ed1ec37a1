"""The lexical index contract: language analysis, add, update, delete, compaction, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.articles import Article
from recommender.errors import IndexNotFound
from recommender.lexical import LexicalSearch
from recommender.lexical.analysis import Analyzer, article_language, detect_language
from recommender.lexical.names import Names, extract_names, name_overlap
from tests.factories import article, small_corpus


def test_dutch_stemming_meets_and_stop_words_go() -> None:
    analyzer = Analyzer()
    terms = analyzer.terms("De Cubaanse regering en het Cubaanse volk van de regeringen", "nl")
    assert "de" not in terms and "en" not in terms and "het" not in terms
    assert terms == ["cubaans", "regeer", "cubaans", "volk", "regeer"]


def test_english_analysis_differs_from_dutch() -> None:
    analyzer = Analyzer()
    assert analyzer.terms("The running elections were held", "en") == ["run", "elect", "held"]
    # a language without a Snowball stemmer is lower-cased, not stemmed
    assert analyzer.terms("Tokyo Olympics", "ja") == ["tokyo", "olympics"]


def test_language_from_record_else_detected() -> None:
    assert article_language("nl-BE", "The text is English") == "nl"
    assert article_language(None, "Het kabinet wil dat de regering meer geld uitgeeft") == "nl"
    assert detect_language("The government said on Tuesday it would spend more") == "en"
    assert detect_language("1234 !!") is None


def corpus() -> list[Article]:
    extra = [
        article("weer-1", "Zware storm op komst", "storm windkracht regen Zeeland code oranje"),
        article("sport-9", "Ajax wint van PSV", "voetbal Ajax PSV eredivisie doelpunt"),
    ]
    return small_corpus() + extra


def test_neighbours_find_the_same_story_and_skip_itself() -> None:
    search = LexicalSearch()
    search.upsert(corpus())
    found = [i for i, _ in search.neighbours("cuba-1", 50)]
    assert found and "cuba-1" not in found
    assert found[0].startswith("cuba")
    sims = search.similarities("cuba-1", [found[0], "weer-1", "nope", "cuba-1"])
    assert 0.0 < sims[0] <= 1.0 and sims[2] == 0.0 and sims[3] == pytest.approx(1.0)
    assert np.all((sims >= 0) & (sims <= 1))


def test_published_found_at_once_unpublished_gone_at_once() -> None:
    search = LexicalSearch()
    search.upsert(corpus())
    fresh = article("cuba-9", "Cuba kampt met stroomuitval", "Havana Cuba eiland stroomuitval")
    search.upsert([fresh])
    assert "cuba-9" in [i for i, _ in search.neighbours("cuba-1", 50)]
    search.upsert([fresh.model_copy(update={"status": "unpublished"})])
    assert "cuba-9" not in [i for i, _ in search.neighbours("cuba-1", 50)]
    assert search.similarities("cuba-1", ["cuba-9"])[0] == 0.0
    assert search.neighbours("cuba-9", 3) == []


def test_update_replaces_the_old_text() -> None:
    search = LexicalSearch()
    search.upsert(corpus())
    moved = article("weer-1", "Cuba en Havana", "Havana Cuba Cubaanse regering eiland")
    search.upsert([moved])
    assert "weer-1" in [i for i, _ in search.neighbours("cuba-1", 50)]
    assert len(search) == len(corpus())


def test_compaction_and_save_load_keep_every_answer(tmp_path: Path) -> None:
    live = LexicalSearch()
    for item in corpus():
        live.upsert([item])  # one by one: every posting in the live segment
    live.remove(["sport-9"])
    before = {i: live.neighbours(i, 5) for i in ("cuba-1", "weer-1")}
    live.save(tmp_path)  # compacts first
    loaded = LexicalSearch.load(tmp_path)
    for source in (live, loaded):
        for query, expected in before.items():
            got = source.neighbours(query, 5)
            assert [i for i, _ in got] == [i for i, _ in expected]
            assert np.allclose([s for _, s in got], [s for _, s in expected])
    assert "sport-9" not in loaded and len(loaded) == len(corpus()) - 1
    loaded.upsert([article("cuba-9", "Cuba", "Havana Cuba eiland")])
    assert "cuba-9" in [i for i, _ in loaded.neighbours("cuba-1", 50)]


def test_unreadable_folder_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "lexical.json").write_text("{not json")
    with pytest.raises(IndexNotFound):
        LexicalSearch.load(tmp_path)


def test_names_meet_across_inflections_and_weigh_rare_ones() -> None:
    analyzer = Analyzer()
    seed = extract_names(analyzer, "Cubaanse soldaten vechten voor Rusland", "", "nl")
    cuba = extract_names(analyzer, "Biden haalt Cuba van terrorismelijst", "", "nl")
    cubans = extract_names(analyzer, "Duizenden Cubanen ontvluchten het eiland", "", "nl")
    other = extract_names(analyzer, "Kim Jong-un bezoekt Moskou", "", "nl")
    assert (
        cuba.names == ("cuba",) and "bid" in cuba.plain
    )  # a capital opening a sentence says nothing
    overlaps = name_overlap(seed, [cuba, cubans, other, None], lambda keys: [1.0] * len(keys))
    assert overlaps[0] > 0 and overlaps[1] > 0 and overlaps[2] == 0.0 and overlaps[3] == 0.0
    # Title Case headlines (English sites) say nothing by their capitals: only rarity counts
    english = extract_names(analyzer, "Trump Visits The Border Wall", "", "en")
    assert english.names == ()
    short = Names.of(["eu"])
    assert short.meets("eu") and not short.meets("euro")


def test_tags_feed_the_same_feature_unless_switched_off() -> None:
    tagged = article("t-1", "Kabinet valt", "Den Haag politiek", tags=["Cuba"])
    cuban = article("t-2", "Havana", "Een Cubaanse kwestie in Havana", tags=["Cuba"])
    with_tags, without = LexicalSearch(), LexicalSearch(use_tags=False)
    for search in (with_tags, without):
        search.upsert([*corpus(), tagged, cuban])
    assert with_tags.name_overlap("t-1", ["t-2", "weer-1"])[0] > 0
    assert without.name_overlap("t-1", ["t-2"])[0] == 0.0


def test_name_overlap_on_served_articles(tmp_path: Path) -> None:
    search = LexicalSearch()
    search.upsert(corpus())
    overlaps = search.name_overlap("cuba-1", ["cuba-2", "weer-1", "unknown"])
    assert overlaps[0] > 0 and overlaps[1] == 0.0 and overlaps[2] == 0.0
    search.save(tmp_path)
    loaded = LexicalSearch.load(tmp_path)
    assert np.allclose(loaded.name_overlap("cuba-1", ["cuba-2", "weer-1"]), overlaps[:2])


def test_an_article_sharing_no_word_has_no_neighbours() -> None:
    search = LexicalSearch()
    search.upsert([*corpus(), article("odd-1", "Xylofoon", "zwoegerig quasar")])
    assert search.neighbours("odd-1", 5) == []
    assert search.similarities("odd-1", ["cuba-1"])[0] == 0.0


def test_a_name_the_story_keeps_mentioning_weighs_more() -> None:
    search = LexicalSearch()
    # two made-up names, each in one other article: equal IDF, so only salience differs
    text = "Volgens Zorlan en Quibo gaat het goed. Het gaat om Zorlan, want Zorlan blijft Zorlan."
    query = article("q-1", "Gesprek in de hoofdstad", text, lead=text)
    search.upsert(
        [
            *corpus(),
            query,
            article("q-2", "Nieuws over Zorlan", "eiland"),
            article("q-3", "Nieuws over Quibo", "stad"),
        ]
    )
    to_often, to_once = search.name_overlap("q-1", ["q-2", "q-3"])
    assert to_often > to_once > 0
