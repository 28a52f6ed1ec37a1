"""Embedding benchmark: articles per second of plain `SentenceTransformer.encode` against the
project's embedding path and its variants, with the quality cost of each.

    .venv/bin/python scripts/bench_embedding.py                  # writes BENCHMARKS.md
    .venv/bin/python scripts/bench_embedding.py --limit 300 --rounds 1 --no-write

Texts: the real Dutch DPG articles (../shared/data/dpg-nl-2019), embedding text =
recommender.articles.embedding_text(article, 200), i.e. exactly what the service embeds.
Model: the bundled all-MiniLM-L6-v2, loaded offline.

Variants (each timed `--rounds` times, interleaved, best round kept: the machine is shared and
noisy, and interleaving exposes every variant to the same noise):
  plain            SentenceTransformer(path).encode(texts, batch_size=32)  ← the baseline
  project          recommender.embedding.SentenceTransformerEmbedder (length-sorted chunks)
  project 1 thread the same with torch.set_num_threads(1)
  project bf16     the same with settings.embed_dtype = "bfloat16" (native on AVX512-BF16/AMX)
  project int8     the same after torch dynamic int8 quantisation of every nn.Linear
  onnx / onnx-int8 sentence-transformers' own backend="onnx" (needs optimum-onnx), if it loads

Quality: mean (and minimum) cosine of each variant's vector to the plain vector of the same
text, and the topical protocol of the evaluation on MIND news (embeddings only): precision@4 of
nearest neighbours sharing the query's subcategory, with its delta to plain.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench_report import cpu_description, write_section  # noqa: E402

from recommender.articles import Article, embedding_text, read_articles, read_mind_news  # noqa: E402
from recommender.config import BUNDLED_MODEL  # noqa: E402
from recommender.embedding import (  # noqa: E402
    SentenceTransformerEmbedder,
    bundled_model_path,
    normalise,
)

DPG = ROOT.parent / "shared" / "data" / "dpg-nl-2019" / "articles.jsonl"
MIND = ROOT.parent / "shared" / "data" / "mind-subset" / "news.tsv"
MARK = "bench_embedding"
Encode = Callable[[Sequence[str]], np.ndarray]


def dpg_texts(limit: int) -> list[str]:
    if not DPG.is_file():
        sys.exit(f"real texts not found at {DPG}: the benchmark needs ../shared/data")
    articles = [a for _, a in read_articles(DPG) if isinstance(a, Article)]
    return [embedding_text(a, 200) for a in articles[:limit]]


def mind_articles(limit: int) -> list[Article]:
    if not MIND.is_file():
        return []
    return [a for _, a in read_mind_news(MIND) if isinstance(a, Article) and a.tags][:limit]


def load_plain() -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(bundled_model_path()), device="cpu")


def plain_variant() -> Encode:
    model = load_plain()
    return lambda texts: np.asarray(model.encode(list(texts), batch_size=32))


def project_variant(
    threads: int | None = None, int8: bool = False, dtype: str = "float32"
) -> Encode:
    import torch

    embedder = SentenceTransformerEmbedder(BUNDLED_MODEL, dtype=dtype)
    if int8:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch marks eager quantisation as deprecated
            torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                embedder._model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
            )
    default_threads = torch.get_num_threads()

    def encode(texts: Sequence[str]) -> np.ndarray:
        torch.set_num_threads(threads or default_threads)
        try:
            return embedder.embed(list(texts))
        finally:
            torch.set_num_threads(default_threads)

    return encode


def onnx_variant(quantised: bool) -> Encode:
    from sentence_transformers import SentenceTransformer

    path = str(bundled_model_path())
    if quantised:
        import tempfile

        from sentence_transformers.backend import export_dynamic_quantized_onnx_model

        model = SentenceTransformer(path, backend="onnx")
        out = tempfile.mkdtemp(prefix="onnx-int8-")
        model.save_pretrained(out)
        export_dynamic_quantized_onnx_model(model, "avx2", out)
        model = SentenceTransformer(
            out, backend="onnx", model_kwargs={"file_name": "onnx/model_qint8_avx2.onnx"}
        )
    else:
        model = SentenceTransformer(path, backend="onnx")
    return lambda texts: np.asarray(model.encode(list(texts), batch_size=32))


def topical_precision(vectors: np.ndarray, articles: Sequence[Article], k: int = 4) -> float:
    """Embeddings-only Lees ook on MIND news: share of the top-k neighbours in the query's
    subcategory (the evaluation's topical protocol, without the blend)."""
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :k]
    subs = np.array([a.tags[0] for a in articles])
    return float((subs[top] == subs[:, None]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=1000, help="DPG texts to embed")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timing rounds")
    parser.add_argument("--mind", type=int, default=1000, help="MIND articles for quality")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import torch

    texts = dpg_texts(args.limit)
    mind = mind_articles(args.mind)
    mind_texts = [embedding_text(a, 200) for a in mind]
    makers: dict[str, Callable[[], Encode]] = {
        "plain encode (baseline)": plain_variant,
        "project (length-sorted)": project_variant,
        "project, 1 torch thread": lambda: project_variant(threads=1),
        "project + bfloat16 (embed_dtype=bfloat16)": lambda: project_variant(dtype="bfloat16"),
        "project + torch int8": lambda: project_variant(int8=True),
        "onnx (sentence-transformers backend)": lambda: onnx_variant(False),
        "onnx int8 (sentence-transformers backend)": lambda: onnx_variant(True),
    }
    variants: dict[str, Encode] = {}
    failures: dict[str, str] = {}
    for name, make in makers.items():
        try:
            variants[name] = make()
            variants[name](texts[:8])  # warm-up
        except Exception as exc:  # noqa: BLE001 - an optional backend may fail in many ways
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            failures[name] = f"{type(exc).__name__}: {reason}"[:160]
            variants.pop(name, None)
            print(f"{name}: unavailable ({failures[name]})", flush=True)

    best: dict[str, float] = {}
    vectors: dict[str, np.ndarray] = {}
    for round_no in range(args.rounds):
        for name, encode in variants.items():
            started = time.perf_counter()
            out = encode(texts)
            rate = len(texts) / (time.perf_counter() - started)
            best[name] = max(best.get(name, 0.0), rate)
            vectors[name] = normalise(out)
            print(f"round {round_no + 1}: {name}: {rate:.1f} articles/s", flush=True)

    plain_name = next(iter(makers))
    plain = vectors[plain_name]
    topical: dict[str, float] = {}
    if mind:
        for name, encode in variants.items():
            topical[name] = topical_precision(normalise(encode(mind_texts)), mind)

    lines = [
        "## Embedding throughput (`scripts/bench_embedding.py`)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {cpu_description()}; torch {torch.__version__}, {torch.get_num_threads()} "
        "threads by default; no GPU in this run",
        f"- Command: `python scripts/bench_embedding.py {' '.join(sys.argv[1:])}`".replace(
            " `", " `", 1
        ),
        f"- Texts: {len(texts)} real Dutch DPG articles, embedding_text(article, 200) "
        f"(title + lead + first 200 words; the model truncates at 256 tokens); best of "
        f"{args.rounds} interleaved rounds per variant",
        f"- Quality: cosine to the plain vector of the same text; topical = precision@4 of "
        f"embedding neighbours sharing the MIND subcategory ({len(mind)} MIND news articles)",
        "",
        "| variant | articles/s | vs plain | mean cosine to plain | min cosine | topical P@4 "
        "| Δ topical |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in variants:
        cos = (vectors[name] * plain).sum(axis=1)
        top = topical.get(name)
        delta = top - topical[plain_name] if top is not None and plain_name in topical else None
        lines.append(
            f"| {name} | {best[name]:.1f} | {best[name] / best[plain_name]:.2f}× "
            f"| {cos.mean():.4f} | {cos.min():.4f} "
            f"| {'–' if top is None else f'{top:.3f}'} "
            f"| {'–' if delta is None else f'{delta:+.3f}'} |"
        )
    for name, reason in failures.items():
        lines.append(f"| {name} | not available: {reason} | | | | | |")
    if failures:
        lines += [
            "",
            "ONNX: sentence-transformers 6 loads ONNX through optimum-onnx, whose only release "
            "(0.1.0) pins transformers<4.58 while sentence-transformers 6 needs transformers>=5; "
            "installing it downgrades transformers and breaks the model stack, so the ONNX rows "
            "stay unavailable on this stack.",
        ]
    report = "\n".join(lines)
    print(report)
    if not args.no_write:
        write_section(args.out, MARK, report)
        print(f"wrote the {MARK} section of {args.out}")


if __name__ == "__main__":
    main()
