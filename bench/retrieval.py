"""Retrieval quality and latency: dense vs sparse vs hybrid, on two kinds of collection.

Each set's documents are ingested through the real pipeline (one file each) and each question's
relevant document is the one it came from (see bench/data.py: Disfl-QA from BIG-bench, and the
Python FAQ). Fusion must not lose to the better single retriever on either kind.

    .venv/bin/python bench/retrieval.py [--datasets disfl-qa,python-faq] [--queries 2000] [--seed 13]
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
import tempfile
import time
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

LATENCY_QUERIES = 500


def ndcg_at(rank: int | None, cutoff: int) -> float:
    """One relevant document: DCG is 1/log2(rank+1) and the ideal DCG is 1."""
    return 1.0 / math.log2(rank + 1) if rank is not None and rank <= cutoff else 0.0


def evaluate(
    kb, queries: list[tuple[str, int]], mode: SearchMode, weights: FusionWeights | None = None
) -> dict[str, float]:
    """Quality from the top 100 of every query; latency from single searches for the top 10
    (what answering a question asks for) over the first LATENCY_QUERIES queries."""
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr": 0.0}
    for question, relevant in queries:
        hits = search(kb, question, k=100, mode=mode, weights=weights)
        documents = list(dict.fromkeys(hit.document_id for hit in hits))  # first hit per document
        rank = documents.index(relevant) + 1 if relevant in documents else None
        totals["ndcg@10"] += ndcg_at(rank, 10)
        totals["recall@10"] += 1.0 if rank is not None and rank <= 10 else 0.0
        totals["recall@100"] += 1.0 if rank is not None else 0.0
        totals["mrr"] += 1.0 / rank if rank is not None else 0.0
    latencies = []
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


def run_dataset(data: RetrievalSet, args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"citewise-{data.name}-"))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        for name, text in data.documents:
            (corpus / name).write_text(text, encoding="utf-8")
        settings = Settings(data_dir=work / "data")
        kb = build_knowledge_base(settings)
        with kb:
            kb.open(writable=True)
            ingest = build_pipeline(settings, kb).run([corpus])
            with kb.session() as session:
                by_path = dict(session.execute(select(Document.source_uri, Document.id)).all())
            queries = [(question, by_path[str(corpus / name)]) for question, name in data.queries]
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


METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr", "latency_p50_ms", "latency_p95_ms"]


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
    parser.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated: {choices}")
    parser.add_argument("--queries", type=int, default=2000, help="questions sampled per set (0 = all)")
    parser.add_argument("--seed", type=int, default=13)
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

    results = {name: run_dataset(DATASETS[name](), args) for name in names}
    write_results("retrieval", "retrieval", {"seed": args.seed, "datasets": results}, markdown(results))


if __name__ == "__main__":
    main()
