"""Salient names: the key terms of an article's title and lead (names written with a capital
inside a sentence, and the headline's own terms), stemmed in the article's language, plus the
CMS tags when the site sends them. Two keys meet when one is a prefix of the other (four
letters at least), so "Cuba", "Cubaanse" and "Cubanen" (stems cuba, cubaans, cubaan) meet.

Their overlap is a feature: the share of the query's names, weighted by how rare each is in
the corpus (IDF from the lexical index), that a candidate also carries."""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from recommender.lexical.analysis import Analyzer, stop_words, words

MIN_PREFIX = 4  # shorter keys ("EU", "VS") only meet themselves
QUERY_NAMES = 8  # the query's rarest keys carry the feature
MAX_KEYS = 24  # per kind and article: a bound on memory, far above a headline's names
PLAIN_TERM_WEIGHT = 0.5  # a headline word without a capital counts half a name
# a title with this share of capitalised words is in Title Case: capitals say nothing there
TITLE_CASE_SHARE = 0.6
_SENTENCE_END = re.compile(r"[.!?:;\"“”]\s+|\n")


@dataclass(frozen=True, slots=True)
class Names:
    """One article's keys (names and tags; other headline words) and their four-letter roots:
    only keys whose roots meet need the exact prefix test, so matching stays cheap."""

    names: tuple[str, ...]
    plain: tuple[str, ...]
    roots: frozenset[str]
    # how often the article mentions each key (names, then plain), as 1 + ln(count): a name
    # the story keeps coming back to is what it is about
    salience: tuple[float, ...] = ()

    @classmethod
    def of(
        cls, names: Iterable[str], plain: Iterable[str] = (), salience: Iterable[float] = ()
    ) -> Names:
        named = tuple(dict.fromkeys(sys.intern(k) for k in names))
        other = tuple(k for k in dict.fromkeys(sys.intern(k) for k in plain) if k not in named)
        roots = frozenset(sys.intern(k[:MIN_PREFIX]) for k in (*named, *other))
        weights = tuple(salience)
        if len(weights) != len(named) + len(other):
            weights = (1.0,) * (len(named) + len(other))
        return cls(named, other, roots, weights)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.names + self.plain

    def meets(self, key: str) -> bool:
        """key meets one of these keys: equal, or one a prefix (4 letters at least) of the
        other."""
        if key[:MIN_PREFIX] not in self.roots:
            return False
        for own in self.keys:
            shorter, longer = (own, key) if len(own) <= len(key) else (key, own)
            if longer.startswith(shorter) and (len(shorter) >= MIN_PREFIX or shorter == longer):
                return True
        return False


def _capitalised_inside(text: str) -> list[str]:
    """Words with a capital that do not open a sentence (a capital there says nothing)."""
    found: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        tokens = words(sentence)
        found.extend(t for t in tokens[1:] if t[:1].isupper())
    return found


def extract_names(
    analyzer: Analyzer,
    title: str,
    lead: str,
    language: str | None,
    tags: Sequence[str] = (),
    mentions: Counter[str] | None = None,
) -> Names:
    """Keys of title and lead: capitalised words, other headline words and the CMS tags,
    stemmed in the article's language, stop words left out. mentions: the article's index terms
    with their counts, which weigh each key by how often the article mentions it."""
    stops = stop_words(language)
    title_words = words(title)
    title_case = bool(title_words) and (
        sum(w[:1].isupper() for w in title_words) / len(title_words) >= TITLE_CASE_SHARE
    )
    capitalised = _capitalised_inside(lead)
    if not title_case:
        capitalised += _capitalised_inside(title)
    plain = [w for w in title_words if len(w) > 1 and w.lower() not in stops]
    names = [w for w in capitalised if len(w) > 1 and w.lower() not in stops]
    tag_words = [w for tag in tags for w in words(tag) if w.lower() not in stops]
    named = analyzer.stem([*names, *tag_words], language)[:MAX_KEYS]
    probe = Names.of(named, analyzer.stem(plain, language)[:MAX_KEYS])
    if not mentions:
        return probe
    salience = [1.0 + math.log(max(1, _mentions(key, mentions))) for key in probe.keys]
    return Names.of(probe.names, probe.plain, salience)


def _mentions(key: str, terms: Counter[str]) -> int:
    """How often terms meet key (the same prefix rule as matching)."""
    probe = Names.of([key])
    return sum(count for term, count in terms.items() if probe.meets(term))


def ranked_keys(
    query: Names | None, idf: Callable[[Sequence[str]], Sequence[float]]
) -> list[tuple[float, str]]:
    """The query's weightiest keys (IDF x salience, a plain headline word counting less), best
    first: what name overlap is measured on. Empty when nothing weighs."""
    if query is None:
        return []
    keys = query.keys
    if not keys:
        return []
    named = len(query.names)  # keys are the names, then the plain words (Names.of: disjoint)
    weights = [
        w * s * (1.0 if i < named else PLAIN_TERM_WEIGHT)
        for i, (w, s) in enumerate(zip(idf(keys), query.salience, strict=True))
    ]
    ranked = sorted(zip(weights, keys, strict=True), reverse=True)[:QUERY_NAMES]
    return ranked if sum(w for w, _ in ranked) > 0 else []


def name_overlap(
    query: Names | None,
    candidates: Iterable[Names | None],
    idf: Callable[[Sequence[str]], Sequence[float]],
) -> list[float]:
    """Per candidate: the share of the query's weightiest keys (IDF x salience) it meets,
    in [0, 1]. (The served path is the vectorised NameTable.overlap, equal to this.)"""
    ranked = ranked_keys(query, idf)
    if not ranked:
        return [0.0 for _ in candidates]
    total = sum(w for w, _ in ranked)
    roots = {k[:MIN_PREFIX] for _, k in ranked}
    out = []
    for names in candidates:
        if names is None or names.roots.isdisjoint(roots):
            out.append(0.0)  # the common case, decided by one set operation
            continue
        out.append(sum(w for w, key in ranked if names.meets(key)) / total)
    return out
