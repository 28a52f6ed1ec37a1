"""Training pairs for contrastive tuning, streamed from the store: self-supervised pairs from
each article (headline ↔ start of the body, lead passage ↔ a later passage) and co-read pairs
from the event log. Articles are split by a hash of their id into training and validation, so
no pair ever touches a validation article. Memory stays bounded: one pass over the store per
epoch, a fixed-size shuffle buffer, and only ids (never texts) kept for the co-reads."""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from recommender.articles import Article
from recommender.config import TuneConfig
from recommender.events import Event
from recommender.logs import Progress
from recommender.store import Store

# pairs are shuffled within a buffer this big: a full shuffle for a small site, a local one on
# a big corpus, never all texts in memory
SHUFFLE_BUFFER = 4_096
# one session's consecutive reads count as a co-read only this many reads apart
SESSIONS_TRACKED = 100_000
# a co-read pair counts when this many sessions read the two stories one after the other
MIN_COREAD_SESSIONS = 2
COREAD_EVENTS = ("view", "click")


@dataclass(frozen=True)
class Pair:
    anchor: str
    positive: str
    kind: str  # "headline", "passage" or "coread"
    article_id: str


class Split:
    """Which articles are held out for validation: a hash of (seed, id) below the share. Stable
    across passes and processes, and needs no list of ids."""

    def __init__(self, seed: int, share: float) -> None:
        self.seed = seed
        self.share = share

    def is_validation(self, article_id: str) -> bool:
        digest = hashlib.blake2b(f"{self.seed}\0{article_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") / 2**64 < self.share


def validation_share(published: int, config: TuneConfig) -> float:
    return min(config.validation_share, config.max_validation / max(published, 1))


def passage_words(max_tokens: int) -> int:
    """Words that fill about max_tokens word pieces (Dutch and English take ~1.4 per word)."""
    return max(8, int(max_tokens / 1.4))


def body_words(article: Article) -> list[str]:
    return f"{article.lead} {article.text}".split()


def body_start(article: Article, words: int) -> str:
    return " ".join(body_words(article)[:words])


def article_pairs(article: Article, words: int, rng: np.random.Generator) -> list[Pair]:
    """Headline ↔ start of the body; lead passage ↔ one later passage, when there is one."""
    body = body_words(article)
    if not body or not article.title.strip():
        return []
    pairs = [Pair(article.title, " ".join(body[:words]), "headline", article.id)]
    later = len(body) // words - 1  # whole passages after the first
    if later >= 1:
        start = words * (1 + int(rng.integers(later)))
        passage = " ".join(body[start : start + words])
        pairs.append(Pair(" ".join(body[:words]), passage, "passage", article.id))
    return pairs


def coread_partners(events: Iterable[Event], split: Split, min_pairs: int) -> dict[str, list[str]]:
    """Stories read one after the other in one session, by MIN_COREAD_SESSIONS sessions or
    more, both in the training split; empty when fewer than min_pairs such pairs exist (too
    few readers to learn from). Only ids are kept."""
    last: OrderedDict[str, str] = OrderedDict()
    counts: Counter[tuple[str, str]] = Counter()
    for event in events:
        if event.type not in COREAD_EVENTS or not event.session_id:
            continue
        previous = last.pop(event.session_id, None)
        last[event.session_id] = event.article_id
        if len(last) > SESSIONS_TRACKED:
            last.popitem(last=False)  # the session least recently seen has most likely ended
        if previous is None or previous == event.article_id:
            continue
        if split.is_validation(previous) or split.is_validation(event.article_id):
            continue
        counts[(min(previous, event.article_id), max(previous, event.article_id))] += 1
    kept = sorted(pair for pair, n in counts.items() if n >= MIN_COREAD_SESSIONS)
    if len(kept) < min_pairs:
        return {}
    partners: dict[str, list[str]] = {}
    for a, b in kept:
        partners.setdefault(a, []).append(b)
    return partners


@dataclass
class Survey:
    """One pass over the store: what there is to train on, and the fingerprint of it."""

    published: int = 0
    train_articles: int = 0
    validation_articles: int = 0
    pairs: Counter[str] = field(default_factory=Counter)
    fingerprint: str = ""

    @property
    def total_pairs(self) -> int:
        return sum(self.pairs.values())


class PairStream:
    """Batches of pairs, one pass over the store per epoch. `keep` samples pairs (a time or
    pair budget on a big corpus); the same seed and epoch give the same batches."""

    def __init__(
        self,
        store: Store,
        split: Split,
        config: TuneConfig,
        partners: dict[str, list[str]],
    ) -> None:
        self.store = store
        self.split = split
        self.config = config
        self.partners = partners
        self.words = passage_words(config.max_tokens)

    def training_articles(self) -> Iterator[Article]:
        for article in self.store.iter_articles():
            if article.is_published and not self.split.is_validation(article.id):
                yield article

    def pairs_of(self, article: Article, rng: np.random.Generator) -> list[Pair]:
        pairs = article_pairs(article, self.words, rng)
        for partner_id in self.partners.get(article.id, ()):
            partner = self.store.get_article(partner_id)
            if partner is not None and partner.is_published and pairs:
                text = f"{partner.title}\n{body_start(partner, self.words)}"
                pairs.append(
                    Pair(f"{article.title}\n{pairs[0].positive}", text, "coread", article.id)
                )
        return pairs

    def batches(self, epoch: int, keep: float) -> Iterator[list[Pair]]:
        rng = np.random.default_rng([self.config.seed, epoch])
        buffer: list[Pair] = []
        for article in self.training_articles():
            for pair in self.pairs_of(article, rng):
                if keep >= 1.0 or rng.random() < keep:
                    buffer.append(pair)
            if len(buffer) >= SHUFFLE_BUFFER:
                rng.shuffle(buffer)  # type: ignore[arg-type,unused-ignore]
                yield from self._drain(buffer, keep_tail=True)
        rng.shuffle(buffer)  # type: ignore[arg-type,unused-ignore]
        yield from self._drain(buffer, keep_tail=False)

    def _drain(self, buffer: list[Pair], keep_tail: bool) -> Iterator[list[Pair]]:
        """Batches from the buffer with no article twice in a batch (its other pair would be a
        false negative); deferred pairs wait for the next batch. Leaves half the buffer in
        place while more articles are coming, so they mix with the next ones."""
        floor = SHUFFLE_BUFFER // 2 if keep_tail else 0
        size = self.config.batch_size
        while len(buffer) > floor and (len(buffer) >= size or not keep_tail):
            batch: list[Pair] = []
            seen: set[str] = set()
            deferred: list[Pair] = []
            while buffer and len(batch) < size:
                pair = buffer.pop()
                (deferred if pair.article_id in seen else batch).append(pair)
                seen.add(pair.article_id)
            buffer.extend(deferred)
            if len(batch) < 2:
                buffer.clear()  # a lone pair has no in-batch negative to learn from
                return
            yield batch


def survey(
    stream: PairStream,
    progress: Progress | None = None,
    held_out: Callable[[Article], None] | None = None,
) -> Survey:
    """Count articles and pairs (without the co-read texts) and fingerprint the training data;
    each validation article goes to held_out."""
    result = Survey()
    digest = hashlib.sha256()
    rng = np.random.default_rng(stream.config.seed)
    for article in stream.store.iter_articles():
        if not article.is_published:
            continue
        result.published += 1
        if progress:
            progress(1)
        if stream.split.is_validation(article.id):
            result.validation_articles += 1
            if held_out:
                held_out(article)
            continue
        result.train_articles += 1
        digest.update(f"{article.id}\0{article.title}\0{article.text}\n".encode())
        for pair in article_pairs(article, stream.words, rng):
            result.pairs[pair.kind] += 1
        result.pairs["coread"] += len(stream.partners.get(article.id, ()))
    result.fingerprint = digest.hexdigest()[:16]
    return result
