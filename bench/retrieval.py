"""Retrieval quality and latency on Disfl-QA (BIG-bench): dense vs sparse vs hybrid.

The 1,204 distinct SQuAD v2 paragraphs of the task are the corpus, ingested through the real
pipeline (one file each); each question's relevant passage is the paragraph it came from. The
data is read out of the BIG-bench sdist at run time (``pip download --no-deps bigbench==1.0.0``
into bench/.cache) and never committed.

    .venv/bin/python bench/retrieval.py [--queries 2000] [--seed 13]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services import build_knowledge_base, build_pipeline  # noqa: E402
from app.settings import Settings  # noqa: E402
from retriever.db.models import Document  # noqa: E402
from retriever.search import FusionWeights, SearchMode, search  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
TASK_MEMBER = "bigbench/benchmark_tasks/disfl_qa/task.json"


def load_examples() -> list[tuple[str, str]]:
    """(question, paragraph) pairs from the task file inside the sdist."""
    archives = sorted(CACHE.glob("bigbench-1.0.0*.tar.gz"))
    if not archives:
        # pip >= 24 refuses this sdist (it declares a direct-URL dependency even with --no-deps);
        # the pip that ships with Python 3.11, which bootstrap.sh leaves in .venv, downloads it.
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(CACHE), "bigbench==1.0.0"]
        if subprocess.run(command).returncode != 0:
            raise SystemExit(
                "could not download bigbench==1.0.0: run `python3 -m pip download --no-deps -d bench/.cache "
                "bigbench==1.0.0` with pip < 24, then run this benchmark again"
            )
        archives = sorted(CACHE.glob("bigbench-1.0.0*.tar.gz"))
    with tarfile.open(archives[0]) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(TASK_MEMBER))
        task = json.load(archive.extractfile(member))  # type: ignore[arg-type]
    pairs = []
    for example in task["examples"]:
        question, _, paragraph = example["input"].partition("context:")
        pairs.append((question.strip(), paragraph.strip()))
    return pairs


def ndcg_at(rank: int | None, cutoff: int) -> float:
    """One relevant document: DCG is 1/log2(rank+1) and the ideal DCG is 1."""
    return 1.0 / math.log2(rank + 1) if rank is not None and rank <= cutoff else 0.0


def evaluate(
    kb, queries: list[tuple[str, int]], mode: SearchMode, weights: FusionWeights | None = None
) -> dict[str, float]:
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr": 0.0}
    latencies = []
    for question, relevant in queries:
        started = time.perf_counter()
        hits = search(kb, question, k=100, mode=mode, weights=weights)
        latencies.append((time.perf_counter() - started) * 1000)
        documents = list(dict.fromkeys(hit.document_id for hit in hits))  # first hit per document
        rank = documents.index(relevant) + 1 if relevant in documents else None
        totals["ndcg@10"] += ndcg_at(rank, 10)
        totals["recall@10"] += 1.0 if rank is not None and rank <= 10 else 0.0
        totals["recall@100"] += 1.0 if rank is not None else 0.0
        totals["mrr"] += 1.0 / rank if rank is not None else 0.0
    result = {name: round(value / len(queries), 4) for name, value in totals.items()}
    result["latency_p50_ms"] = round(float(np.percentile(latencies, 50)), 2)
    result["latency_p95_ms"] = round(float(np.percentile(latencies, 95)), 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=2000, help="questions sampled (0 = all)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--hybrid-weights",
        default="",
        help="extra hybrid runs as DENSE:SPARSE weight pairs, e.g. 0.5:1,1:0.5 (tuning sweeps)",
    )
    args = parser.parse_args()

    pairs = load_examples()
    paragraphs = list(dict.fromkeys(paragraph for _, paragraph in pairs))
    work = Path(tempfile.mkdtemp(prefix="citewise-retrieval-"))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        for i, paragraph in enumerate(paragraphs):
            (corpus / f"p{i:04d}.txt").write_text(paragraph + "\n")
        settings = Settings(data_dir=work / "data")
        kb = build_knowledge_base(settings)
        with kb:
            kb.open(writable=True)
            ingest = build_pipeline(settings, kb).run([corpus])
            with kb.session() as session:
                by_path = dict(session.execute(select(Document.source_uri, Document.id)).all())
            doc_of = {
                paragraph: by_path[str(corpus / f"p{i:04d}.txt")] for i, paragraph in enumerate(paragraphs)
            }
            queries = [(question, doc_of[paragraph]) for question, paragraph in pairs if question]
            if args.queries:
                queries = random.Random(args.seed).sample(queries, min(args.queries, len(queries)))
            search(kb, "warm up", k=5, mode=SearchMode.HYBRID)  # model and keyword index loaded once
            modes = {mode.value: evaluate(kb, queries, mode) for mode in SearchMode}
            for pair in filter(None, args.hybrid_weights.split(",")):
                dense, sparse = (float(x) for x in pair.split(":"))
                weights = FusionWeights(dense=dense, sparse=sparse)
                modes[f"hybrid {dense:g}:{sparse:g}"] = evaluate(kb, queries, SearchMode.HYBRID, weights)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "benchmark": "retrieval-disfl-qa",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "paragraphs": len(paragraphs),
        "chunks": ingest.counts.get("chunks_added", 0),
        "queries": len(queries),
        "modes": modes,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "retrieval.json").write_text(json.dumps(result, indent=2) + "\n")
    metrics = ["ndcg@10", "recall@10", "recall@100", "mrr", "latency_p50_ms", "latency_p95_ms"]
    lines = ["| mode | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    lines += [
        f"| {mode} | " + " | ".join(str(values[m]) for m in metrics) + " |" for mode, values in modes.items()
    ]
    header = f"{len(paragraphs)} paragraphs ({result['chunks']} chunks), {len(queries)} questions"
    (RESULTS / "retrieval.md").write_text(
        f"# Retrieval benchmark: Disfl-QA\n\n{header}\n\n" + "\n".join(lines) + "\n"
    )
    print(header)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
