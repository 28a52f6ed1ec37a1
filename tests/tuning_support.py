"""Helpers for the tuning tests: a tiny sentence-transformers model made from scratch (a
two-layer BERT with a word-level vocabulary of the test corpus; nothing is downloaded) and a
synthetic corpus of topical articles, so a real training run takes seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recommender.articles import Article
from recommender.config import TuneConfig
from tests.factories import article

# per topic: headline words, body words; disjoint, so finding an article's own body from its
# headline needs the topic (what tuning teaches), not shared words
TOPICS = {
    "cuba": ("havana cuba embargo eiland", "regering suiker sigaren revolutie castro rum"),
    "voetbal": ("feyenoord ajax trainer doelpunt", "stadion competitie keeper spits bal fans"),
    "storm": ("storm dijken waterschap regenval", "windkracht zeeland overstroming zandzak"),
    "beurs": ("aandelen beurs rente inflatie", "koers bank belegger dividend obligatie"),
    "zorg": ("ziekenhuis arts patient zorg", "verpleging wachtlijst medicijn huisarts"),
    "onderwijs": ("school leraar leerling examen", "universiteit student docent klas les"),
}
FILLER = [
    "de",
    "het",
    "een",
    "en",
    "van",
    "in",
    "op",
    "met",
    "voor",
    "door",
    "naar",
    "over",
    "bij",
    "na",
]


def topical_corpus(count: int = 120, seed: int = 3) -> list[Article]:
    """Articles whose headline and body come from their topic's two word lists."""
    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    articles = []
    for i in range(count):
        heads, bodies = (part.split() for part in TOPICS[names[i % len(names)]])
        # the number keeps headlines distinct; the tokenizer does not know it (no signal)
        title = " ".join([*rng.choice(heads, size=3), f"nr{i}"])
        body = " ".join(
            str(rng.choice(bodies)) if rng.random() < 0.5 else str(rng.choice(FILLER))
            for _ in range(int(rng.integers(40, 130)))
        )
        articles.append(article(f"a{i:03d}", title, body, section=names[i % len(names)]))
    return articles


def tiny_model(folder: Path) -> Path:
    """A randomly initialised two-layer BERT with mean pooling, saved as a
    sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules
    from transformers import BertConfig, BertModel, BertTokenizerFast  # type: ignore[attr-defined]

    words = sorted({w for pair in TOPICS.values() for w in " ".join(pair).split()} | set(FILLER))
    bert = folder / "bert"
    bert.mkdir(parents=True)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(special + words)})
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(bert)
    tokenizer.save_pretrained(bert)
    transformer = modules.Transformer(str(bert), max_seq_length=200)
    pooling = modules.Pooling(transformer.get_embedding_dimension(), "mean")
    model = SentenceTransformer(modules=[transformer, pooling], device="cpu")
    location = folder / "tiny-st"
    model.save(str(location))
    return location


def tiny_config(base: Path, **overrides: object) -> TuneConfig:
    values: dict[str, object] = {
        "base_model": str(base),
        "epochs": 1,
        "batch_size": 16,
        "lr": 1e-3,
        "max_tokens": 64,
        "validation_share": 0.25,
        "seed": 5,
        "min_coread_pairs": 3,
    }
    values.update(overrides)
    return TuneConfig(**values)  # type: ignore[arg-type]
