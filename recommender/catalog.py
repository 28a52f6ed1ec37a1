"""The in-memory catalogue: what a recommendation list shows of each article, without its text,
so a request never touches the database."""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import logging
import math
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import cast, overload

import numpy as np

from recommender.articles import Article
from recommender.schedule import Schedule

log = logging.getLogger(__name__)

NO_SECTION = -1  # section code of a card without a section
UNKNOWN_SECTION = -2  # code of a section no card has: matches nothing
DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class Card:
    id: str
    title: str
    url: str | None
    section: str | None
    image: str | None
    published_ts: float | None
    published: bool
    tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()

    @classmethod
    def of(cls, article: Article) -> Card:
        return cls(
            id=article.id,
            title=article.title,
            url=article.url,
            section=article.section,
            image=article.image,
            published_ts=article.published_at.timestamp() if article.published_at else None,
            published=article.is_published,
            tags=tuple(article.tags),
            entities=tuple(article.entities),
        )


class Columns:
    """What ranking filters and scores on, one numpy array per attribute, indexed by a slot per
    article id, so a request tests ~150 candidates in a few array operations rather than in a
    Python loop over cards. A slot is never reused: a card that changes overwrites its slot.
    The last entry of every array is never a slot: what slot -1 ("no card") reads there is no
    card's (not published, no time, no section), so no mask of -1 slots is needed."""

    def __init__(self) -> None:
        self.slot: dict[str, int] = {}
        size = 1024
        self.published = np.zeros(size, dtype=bool)
        self.published_ts = np.full(size, np.nan)  # NaN: no publication time
        self.section = np.full(size, NO_SECTION, dtype=np.int32)  # exact section
        self.folded = np.full(size, NO_SECTION, dtype=np.int32)  # lower-cased section
        self.ids = np.full(size, None, dtype=object)  # the article id of each slot
        self._codes: dict[str, int] = {}
        self._folded_codes: dict[str, int] = {}

    def put(self, card: Card) -> None:
        slot = self.slot.get(card.id)
        if slot is None:
            slot = self.slot[card.id] = len(self.slot)
            if slot + 1 >= len(self.published):  # the last entry stays the spare
                self._grow()
            self.ids[slot] = card.id
        self.published[slot] = card.published
        self.published_ts[slot] = math.nan if card.published_ts is None else card.published_ts
        self.section[slot] = self.section_code(card.section, add=True)
        self.folded[slot] = self.folded_code(card.section, add=True)

    def _grow(self) -> None:
        size = len(self.published)
        self.published = np.concatenate([self.published, np.zeros(size, dtype=bool)])
        self.published_ts = np.concatenate([self.published_ts, np.full(size, np.nan)])
        self.section = np.concatenate([self.section, np.full(size, NO_SECTION, np.int32)])
        self.folded = np.concatenate([self.folded, np.full(size, NO_SECTION, np.int32)])
        self.ids = np.concatenate([self.ids, np.full(size, None, dtype=object)])

    def section_code(self, section: str | None, add: bool = False) -> int:
        if section is None:
            return NO_SECTION
        if add:
            return self._codes.setdefault(section, len(self._codes))
        return self._codes.get(section, UNKNOWN_SECTION)

    def folded_code(self, section: str | None, add: bool = False) -> int:
        """Code of the section compared case-insensitively (the section filter); a card
        without a section files under "", as the filter has always compared it."""
        folded = (section or "").lower()
        if add:
            return self._folded_codes.setdefault(folded, len(self._folded_codes))
        return self._folded_codes.get(folded, UNKNOWN_SECTION)

    def slots(self, ids: Iterable[str | None]) -> np.ndarray:
        """Slots of ids, -1 for an id without a card (and for None)."""
        # the type as a string: Callable[...] evaluated cost ~3.5 us a call (typing's cache)
        get = cast("Callable[[str | None, int], int]", self.slot.get)  # None: never a key
        return np.fromiter(map(get, ids, itertools.repeat(-1)), dtype=np.int64)

    def ids_at(self, slots: np.ndarray) -> list[str]:
        """The article ids of (known) slots, in order: one gather, no lookup per slot."""
        found: list[str] = self.ids[slots].tolist()
        return found

    def ids_of(self, slots: np.ndarray) -> SlotIds:
        """ids_at(slots), each read when asked for (see SlotIds)."""
        return SlotIds(self, slots)

    def passing(
        self,
        slots: np.ndarray,
        self_id: str,
        exclude: Collection[str],
        section: str | None,
        max_age_days: float | None,
        now: float,
    ) -> np.ndarray:
        """Which slots may be listed: a card, published, neither the article itself nor
        excluded, in the section (any case) and young enough when asked."""
        keep = self.published[slots]  # slot -1 reads the spare: not published
        own = self.slot.get(self_id)
        if own is not None:
            keep &= slots != own
        if exclude:
            keep &= ~np.isin(slots, self.slots(exclude))
        if section is not None:
            keep &= self.folded[slots] == self.folded_code(section)
        if max_age_days is not None:
            # NaN (no publication time) compares False: such cards are never too old
            keep &= ~(now - self.published_ts[slots] > max_age_days * DAY_SECONDS)
        passing: np.ndarray = keep
        return passing


class SlotIds(Sequence[str]):
    """The article ids of (known) catalogue slots as a sequence, each read when asked for. A
    Lees-ook request reads the ids of the few items it lists (and of the few candidates the
    lexical features look up by id), not all ~200: gathering them touched a string object per
    candidate, scattered in memory (~8 us a request at 10k, ~21 us at 100k, paired A/B). A slot
    is never reused, so an id read later is the one of now. A walk over all gathers them once."""

    __slots__ = ("columns", "slots", "_all")

    def __init__(self, columns: Columns, slots: np.ndarray) -> None:
        self.columns = columns
        self.slots = slots
        self._all: list[str] | None = None

    def __len__(self) -> int:
        return len(self.slots)

    @overload
    def __getitem__(self, at: int) -> str: ...

    @overload
    def __getitem__(self, at: slice) -> list[str]: ...

    def __getitem__(self, at: int | slice) -> str | list[str]:
        if isinstance(at, slice):
            return self.all()[at]
        found: str = self.columns.ids[self.slots[at]]
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self.all())

    def all(self) -> list[str]:
        """Every id, in order: one gather, kept."""
        if self._all is None:
            self._all = self.columns.ids_at(self.slots)
        return self._all


class Catalog:
    """Cards by id and by url, plus the published ids newest first (for filling short lists)
    and the ranking columns of every card.

    Embargo: a published card whose publication time is still ahead is kept as not published
    (so no list, URL lookup or page shows it) until `release_due` makes it live at its time."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._cards: dict[str, Card] = {}
        self._by_url: dict[str, str] = {}
        self._newest: list[tuple[float, str]] | None = None
        self.columns = Columns()
        self._clock = clock
        self._embargo: Schedule[Card] = Schedule()  # the cards as they will go live

    def __len__(self) -> int:
        return len(self._cards)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._cards

    def get(self, article_id: str) -> Card | None:
        return self._cards.get(article_id)

    def by_url(self, url: str) -> Card | None:
        """The live article at this URL: an embargoed or unpublished page is not known by it."""
        card = self._cards.get(self._by_url.get(url.rstrip("/"), ""))
        return card if card is not None and card.published else None

    def put(self, card: Card) -> None:
        self._embargo.discard(card.id)
        if card.published and card.published_ts is not None and card.published_ts > self._clock():
            self._embargo.add(card.id, card.published_ts, card)
            card = dataclasses.replace(card, published=False)
        self._show(card)

    def next_release(self) -> float | None:
        """When the next embargoed card goes live (None: none waits); a cheap peek."""
        return self._embargo.next_time()

    def release_due(self, now: float) -> list[str]:
        """Make every embargoed card whose time has come live; the ids released."""
        released = self._embargo.pop_due(now)
        for card in released:
            self._show(card)
        return [card.id for card in released]

    def release_if_due(self, lock: AbstractContextManager[object]) -> list[str]:
        """release_due under the caller's lock, when anything is due (a cheap peek first)."""
        due = self.next_release()
        if due is None or due > self._clock():
            return []
        with lock:
            released = self.release_due(self._clock())
        log.info("articles.released", extra={"count": len(released), "ids": released[:20]})
        return released

    def is_live(self, article_id: str) -> bool:
        card = self._cards.get(article_id)
        return card is not None and card.published

    def listed_id(self, article_id: str) -> str:
        """The id to rank a list for: an article that exists but is not live (unpublished,
        embargoed) is answered as an unknown one, so its list reveals nothing of it."""
        return article_id if self.is_live(article_id) or article_id not in self else "unlisted:"

    def _show(self, card: Card) -> None:
        old = self._cards.get(card.id)
        if old is not None and old.url:
            self._by_url.pop(old.url.rstrip("/"), None)
        self._cards[card.id] = card
        self.columns.put(card)
        if card.url:
            self._by_url[card.url.rstrip("/")] = card.id
        if self._newest is not None:
            self._newest = None if old is not None else self._newest
            if self._newest is not None and card.published:
                bisect.insort(self._newest, (-(card.published_ts or 0.0), card.id))

    def newest(self) -> list[tuple[float, str]]:
        """(-published_ts, id) of published articles, newest first; rebuilt lazily after edits."""
        if self._newest is None:
            self._newest = sorted(
                (-(c.published_ts or 0.0), c.id) for c in self._cards.values() if c.published
            )
        return self._newest

    def published_ids(self) -> list[str]:
        return [c.id for c in self._cards.values() if c.published]
