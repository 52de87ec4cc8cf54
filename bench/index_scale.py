"""Vector index at scale: exact vs the factory's approximate index, 10k to 1M chunks of 384-d.

The vectors are synthetic but shaped like sentence embeddings of a corpus with themes: each
passage blends three of many topic directions (one per 100 passages) in random proportions, plus
noise, so topics shade into one another instead of forming islands that would flatter a
clustering index. Queries are drawn the same way, separately and a little noisier; their nearest
passage sits at cosine ~0.55 (MiniLM's best passage for a benchmark question: 0.57-0.61).

For every size: build time, index memory, recall@10 of the approximate index against exact
search on held-out queries, and single-query latency p50/p95 with FAISS on 2 threads, through the
``VectorIndex.search`` the product calls.

    .venv/bin/python bench/index_scale.py [--sizes 10000,100000,1000000] [--queries 500]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retriever.index.factory import IndexPolicy, choose_index, exact_top_k, recall_at_k  # noqa: E402
from retriever.index.vector_index import VectorIndex  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DIMENSION = 384


def themed_vectors(count: int, topics: int, spread: float, seed: int, block: int = 100_000) -> np.ndarray:
    """Unit vectors blending three of ``topics`` fixed directions (Dirichlet weights) plus noise.

    Generated in blocks to bound memory. The centres depend only on ``topics``, so queries drawn
    with another seed are about the same themes.
    """
    centres = np.random.default_rng(42).standard_normal((topics, DIMENSION)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((count, DIMENSION), dtype=np.float32)
    for start in range(0, count, block):
        n = min(block, count - start)
        weights = rng.dirichlet(np.ones(3), size=n).astype(np.float32)  # (n, 3)
        points = spread * rng.standard_normal((n, DIMENSION), dtype=np.float32)  # (n, d)
        for column in range(3):
            points += weights[:, column : column + 1] * centres[rng.integers(0, topics, n)]
        out[start : start + n] = points / np.linalg.norm(points, axis=1, keepdims=True)
    return out


def index_bytes(index: VectorIndex) -> int:
    with tempfile.NamedTemporaryFile(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as handle:
        faiss.write_index(index.faiss_index, handle.name)
        return Path(handle.name).stat().st_size


def latencies_ms(index: VectorIndex, queries: np.ndarray) -> tuple[float, float]:
    index.search(queries[:1], 10)  # warm caches
    timings = []
    for row in range(len(queries)):
        started = time.perf_counter()
        index.search(queries[row : row + 1], 10)
        timings.append((time.perf_counter() - started) * 1000)
    return round(float(np.percentile(timings, 50)), 2), round(float(np.percentile(timings, 95)), 2)


def run_size(count: int, query_count: int, seed: int) -> dict:
    topics = max(50, count // 100)
    vectors = themed_vectors(count, topics, spread=0.6, seed=seed)
    queries = themed_vectors(query_count, topics, spread=0.72, seed=seed + 1)
    nearest = np.sort(queries[:100] @ vectors.T, axis=1)  # (100, n): how close the neighbours are
    similarity = {
        "top1": round(float(nearest[:, -1].mean()), 3),
        "top10": round(float(nearest[:, -10].mean()), 3),
    }
    ids = np.arange(1, count + 1, dtype=np.int64)

    started = time.perf_counter()
    exact = VectorIndex(DIMENSION)
    exact.add(ids, vectors)
    exact_build = time.perf_counter() - started
    exact_p50, exact_p95 = latencies_ms(exact, queries[: min(len(queries), 200)])

    policy = IndexPolicy(approximate_above=1, seed=seed)
    chosen, decision = choose_index(exact, policy)
    truth = exact_top_k(vectors, ids, queries, 10)
    recall = recall_at_k(chosen.search(queries, 10)[1], truth)
    approx_p50, approx_p95 = latencies_ms(chosen, queries)
    result = {
        "vectors": count,
        "topics": topics,
        "query_cosine_to_neighbours": similarity,
        "exact": {
            "build_s": round(exact_build, 2),
            "index_mb": round(index_bytes(exact) / 2**20, 1),
            "latency_p50_ms": exact_p50,
            "latency_p95_ms": exact_p95,
        },
        "chosen": {
            "kind": decision.kind,
            **decision.params,
            "build_s": round(decision.build_seconds, 2),
            "index_mb": round(index_bytes(chosen) / 2**20, 1),
            "build_sample_recall@10": decision.recall_at_10,
            "recall@10": round(recall, 4),
            "latency_p50_ms": approx_p50,
            "latency_p95_ms": approx_p95,
        },
    }
    print(json.dumps(result), flush=True)
    return result


def markdown(results: list[dict], threads: int) -> str:
    lines = [
        "# Vector index at scale",
        "",
        f"384-d synthetic themed vectors; single-query latency, FAISS on {threads} threads; "
        "recall@10 of the chosen index against exact search on held-out queries.",
        "",
        "| vectors | index | build s | MB | recall@10 | p50 ms | p95 ms | exact p50 ms | exact p95 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c, e = r["chosen"], r["exact"]
        kind = f"{c['kind']} ({c.get('nlist', '-')} lists, nprobe {c.get('nprobe', '-')})"
        lines.append(
            f"| {r['vectors']:,} | {kind} | {c['build_s']} | {c['index_mb']} | {c['recall@10']} | "
            f"{c['latency_p50_ms']} | {c['latency_p95_ms']} | {e['latency_p50_ms']} | {e['latency_p95_ms']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    results = [run_size(int(size), args.queries, args.seed) for size in args.sizes.split(",")]
    report = {
        "benchmark": "index-scale",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {faiss.omp_get_max_threads()} FAISS threads",
        "faiss": faiss.__version__,
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "index_scale.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(results, args.threads)
    (RESULTS / "index_scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
