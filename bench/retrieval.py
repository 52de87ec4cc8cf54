"""Retrieval quality and latency: dense vs sparse vs hybrid, on two kinds of collection.

Each set's documents are ingested through the real pipeline (one file each) and each question's
relevant document is the one it came from (see bench/data.py: the Python FAQ, Citewise's guide
with its evaluation questions, and Disfl-QA from BIG-bench where its archive is at hand). Fusion
must not lose to the better single retriever on any kind.

    .venv/bin/python bench/retrieval.py [--datasets python-faq,guide] [--queries 2000] [--seed 13]

``--embedders minilm-torch,minilm,minilm-int8`` ingests once per embedder and writes
``retrieval-embedders``: a new embedder is judged by its nDCG against the others in one run.

``--split dev`` keeps only Disfl-QA's dev questions (the ones bench/answers.py tunes on) and writes
``retrieval-dev``; ``--embedding-texts default,title,raw`` ingests once per way of building the
embedded text (see ``EMBEDDING_TEXTS``), so a change to it is measured before it is made.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services import build_knowledge_base, build_pipeline  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.data import DATASETS, RetrievalSet, write_results  # noqa: E402
from retriever.db.models import Document  # noqa: E402
from retriever.fusion import FusionMethod, FusionWeights  # noqa: E402
from retriever.search import SearchMode, search  # noqa: E402
from retriever.types import embedding_text  # noqa: E402

LATENCY_QUERIES = 500
HIT_CUTOFF = 3  # what ``citewise ask`` retrieves by default

EmbeddingText = Callable[..., str]  # (title, heading_path, text, *, source_uri) -> embedded text
EMBEDDING_TEXTS: dict[str, EmbeddingText] = {
    "default": embedding_text,  # what Citewise builds today
    # the title always, even when it is only the file's name (before issue 17)
    "title": lambda title, path, text, *, source_uri: embedding_text(title, path, text, source_uri=""),
    "raw": lambda title, path, text, *, source_uri: text,  # the chunk text alone
}


@contextlib.contextmanager
def embedded_as(build: EmbeddingText) -> Iterator[None]:
    """Ingest, repair and the keyword index build their text with ``build`` meanwhile."""
    import ingest.pipeline
    import retriever.consistency

    modules = (ingest.pipeline, retriever.consistency)
    saved = [module.embedding_text for module in modules]
    for module in modules:
        module.embedding_text = build  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            module.embedding_text = original  # type: ignore[attr-defined]


def ndcg_at(rank: int | None, cutoff: int) -> float:
    """One relevant document: DCG is 1/log2(rank+1) and the ideal DCG is 1."""
    return 1.0 / math.log2(rank + 1) if rank is not None and rank <= cutoff else 0.0


def evaluate(
    kb, queries: list[tuple[str, frozenset[int]]], mode: SearchMode, weights: FusionWeights | None = None
) -> dict[str, float]:
    """Quality from the top 100 of every query; latency from single searches for the top 10
    (what answering a question asks for) over the first LATENCY_QUERIES queries."""
    totals = {"ndcg@10": 0.0, f"hit@{HIT_CUTOFF}": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr": 0.0}
    for question, relevant in queries:
        hits = search(kb, question, k=100, mode=mode, weights=weights)
        documents = list(dict.fromkeys(hit.document_id for hit in hits))  # first hit per document
        rank = next((n for n, document in enumerate(documents, 1) if document in relevant), None)
        totals["ndcg@10"] += ndcg_at(rank, 10)
        totals[f"hit@{HIT_CUTOFF}"] += 1.0 if rank is not None and rank <= HIT_CUTOFF else 0.0
        totals["recall@10"] += 1.0 if rank is not None and rank <= 10 else 0.0
        totals["recall@100"] += 1.0 if rank is not None else 0.0
        totals["mrr"] += 1.0 / rank if rank is not None else 0.0
    latencies = []
    getattr(kb.embedder, "clear_query_cache", lambda: None)()  # time the model, not the cache
    for question, _ in queries[:LATENCY_QUERIES]:
        started = time.perf_counter()
        search(kb, question, k=10, mode=mode, weights=weights)
        latencies.append((time.perf_counter() - started) * 1000)
    result = {name: round(value / len(queries), 4) for name, value in totals.items()}
    result["latency_p50_ms"] = round(float(np.percentile(latencies, 50)), 2)
    result["latency_p95_ms"] = round(float(np.percentile(latencies, 95)), 2)
    return result


def parse_weights(spec: str) -> FusionWeights:
    """``[zscore:|rrf:]DENSE:SPARSE``, e.g. ``rrf:1:1`` or ``0.6:0.4`` (z-score)."""
    parts = spec.split(":")
    method = parts.pop(0) if parts[0] in {m.value for m in FusionMethod} else FusionMethod.ZSCORE
    dense, sparse = (float(x) for x in parts)
    return FusionWeights(dense=dense, sparse=sparse, method=FusionMethod(method))


def describe(weights: FusionWeights) -> str:
    return f"{weights.method.value} {weights.dense:g}:{weights.sparse:g}"


def dev_queries(data: RetrievalSet) -> list[tuple[str, str]]:
    """Disfl-QA's dev questions as bench/answers.py splits them (its own split, so nothing reported
    on its test questions was chosen on them); other sets have no dev split."""
    if data.name != "disfl-qa":
        raise SystemExit(f"{data.name} has no dev split")
    from bench.answers import DEV_QUESTIONS, sample

    return [(q.question, str(q.sources[0])) for q in sample(DEV_QUESTIONS, 0, split="dev")]


def run_dataset(data: RetrievalSet, args: argparse.Namespace) -> dict:
    if args.split == "dev":
        data = RetrievalSet(data.name, data.documents, dev_queries(data))
    names = [name.strip() for name in args.embedding_texts.split(",") if name.strip()]
    embedders = [name.strip() for name in args.embedders.split(",") if name.strip()]
    runs = {}
    for embedder in embedders:
        for name in names:
            with embedded_as(EMBEDDING_TEXTS[name]):
                label = ": ".join(
                    part for part, many in ((embedder, len(embedders) > 1), (name, len(names) > 1)) if many
                )
                runs[label] = run_variant(data, args, embedder)
    first = next(iter(runs.values()))
    modes = {
        (f"{label}: {mode}" if label else mode): values
        for label, run in runs.items()
        for mode, values in run["modes"].items()
    }
    return {**first, "modes": modes, "embedding_texts": names, "embedders": embedders}


def run_variant(data: RetrievalSet, args: argparse.Namespace, embedder: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"citewise-{data.name}-"))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        for name, text in data.documents:
            (corpus / name).write_text(text, encoding="utf-8")
        settings = Settings(data_dir=work / "data", embedder=embedder)
        kb = build_knowledge_base(settings)
        with kb:
            kb.open(writable=True)
            ingest = build_pipeline(settings, kb).run([corpus])
            with kb.session() as session:
                by_path = dict(session.execute(select(Document.source_uri, Document.id)).all())
            queries = [
                (question, frozenset(by_path[str(corpus / name)] for name in _names(relevant)))
                for question, relevant in data.queries
            ]
            if args.queries and len(queries) > args.queries:
                queries = random.Random(args.seed).sample(queries, args.queries)
            search(kb, "warm up", k=5, mode=SearchMode.HYBRID)  # model and keyword index loaded once
            modes = {mode.value: evaluate(kb, queries, mode) for mode in SearchMode}
            modes[f"hybrid {describe(FusionWeights())} (default)"] = modes.pop("hybrid")
            for spec in filter(None, args.hybrid_weights.split(",")):
                weights = parse_weights(spec)
                modes[f"hybrid {describe(weights)}"] = evaluate(kb, queries, SearchMode.HYBRID, weights)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "documents": len(data.documents),
        "chunks": ingest.counts.get("chunks_added", 0),
        "queries": len(queries),
        "modes": modes,
    }


def _names(relevant: str | tuple[str, ...]) -> tuple[str, ...]:
    return (relevant,) if isinstance(relevant, str) else relevant


METRICS = ["ndcg@10", f"hit@{HIT_CUTOFF}", "recall@10", "recall@100", "mrr"]
METRICS += ["latency_p50_ms", "latency_p95_ms"]


def markdown(results: dict[str, dict]) -> str:
    out = ["# Retrieval benchmark", "", "Latency: one search for the top 10, including loading the hits.", ""]
    for name, result in results.items():
        out += [
            f"## {name}: {result['documents']} documents ({result['chunks']} chunks), "
            f"{result['queries']} questions",
            "",
            "| mode | " + " | ".join(METRICS) + " |",
            "|---" * (len(METRICS) + 1) + "|",
        ]
        out += [
            f"| {mode} | " + " | ".join(str(values[m]) for m in METRICS) + " |"
            for mode, values in result["modes"].items()
        ]
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    choices = ", ".join(DATASETS)
    parser.add_argument(
        "--datasets",
        default="python-faq,guide",
        help=f"comma-separated: {choices} (disfl-qa needs the bigbench 1.0.0 archive in bench/.cache)",
    )
    parser.add_argument(
        "--embedders",
        default="minilm",
        help="comma-separated embedder names, one ingest each, e.g. minilm-torch,minilm,minilm-int8",
    )
    parser.add_argument("--queries", type=int, default=2000, help="questions sampled per set (0 = all)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--split", choices=("all", "dev"), default="all", help="dev: Disfl-QA's dev split")
    parser.add_argument(
        "--embedding-texts",
        default="default",
        help=f"ways to build the embedded text, one ingest each: {', '.join(EMBEDDING_TEXTS)}",
    )
    parser.add_argument(
        "--hybrid-weights",
        default="",
        help="extra hybrid runs, [zscore:|rrf:]DENSE:SPARSE, e.g. rrf:1:1,0.6:0.4 (comparisons, sweeps)",
    )
    args = parser.parse_args()
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    texts = {name.strip() for name in args.embedding_texts.split(",") if name.strip()}
    if not texts or texts - set(EMBEDDING_TEXTS):
        parser.error(f"--embedding-texts: choose from {', '.join(EMBEDDING_TEXTS)}")

    results = {name: run_dataset(DATASETS[name](), args) for name in names}
    stem = "retrieval" if args.split == "all" else f"retrieval-{args.split}"
    if len([name for name in args.embedders.split(",") if name.strip()]) > 1:
        stem += "-embedders"
    fields = {"seed": args.seed, "split": args.split, "datasets": results}
    write_results(stem, "retrieval", fields, markdown(results))


if __name__ == "__main__":
    main()
