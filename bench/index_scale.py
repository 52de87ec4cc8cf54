"""Vector index at scale: exact search vs the factory's choice, 50k real and 10k-1M blended vectors.

Vectors: MiniLM embeddings of 50,000 sentences of the Python docs (real), and for 10k, 100k and
1M chunks, synthetic passages that each mix two of those real vectors in random proportion, so
they lie where real embeddings lie (which is what decides how well an approximate index's
clustering works) and come in any number. Queries are real: MiniLM embeddings of the Python FAQ
questions and of held-out sentences.

For every size: build time, index memory, recall@10 of the chosen index against exact search on
those queries (the factory's own build-time estimate is reported beside it), and single-query
latency p50/p95 with FAISS on 2 threads through the ``VectorIndex.search`` the product calls.

    .venv/bin/python bench/index_scale.py [--sizes 10000,100000,1000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import CACHE, doc_sentences, python_faq, write_results  # noqa: E402
from retriever.embedders.registry import create_embedder  # noqa: E402
from retriever.index.factory import IndexPolicy, choose_index, exact_top_k, recall_at_k  # noqa: E402
from retriever.index.vector_index import VectorIndex  # noqa: E402

DIMENSION = 384
REAL_VECTORS = 50_000
QUERIES = 500


def real_embeddings(count: int = REAL_VECTORS) -> tuple[np.ndarray, np.ndarray]:
    """MiniLM vectors of ``count`` Python-doc sentences, and of 500 real queries (the Python FAQ
    questions, then held-out sentences). Embedding takes ~7 minutes, so they are cached."""
    cache = CACHE / f"minilm-python-doc-{count}.npz"
    if cache.is_file():
        saved = np.load(cache)
        return saved["corpus"], saved["queries"]
    pool = doc_sentences()
    random.Random(1).shuffle(pool)
    questions = [question for question, _ in python_faq().queries]
    held_out = pool[count : count + QUERIES - len(questions)]
    embedder = create_embedder("minilm")
    embedder.warm_up()
    corpus = np.concatenate(
        [embedder.embed_documents(pool[i : min(i + 256, count)]) for i in range(0, count, 256)]
    )
    queries = embedder.embed_documents(questions + held_out)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, corpus=corpus, queries=queries)
    return corpus, queries


def blended_vectors(base: np.ndarray, count: int, seed: int, block: int = 100_000) -> np.ndarray:
    """Synthetic passages: each a random mix of two real sentence vectors, normalised.

    Mixes stay on the manifold real embeddings occupy (what an approximate index's clustering
    relies on) while giving any number of distinct vectors.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((count, base.shape[1]), dtype=np.float32)
    for start in range(0, count, block):
        n = min(block, count - start)
        share = rng.random((n, 1), dtype=np.float32)  # (n, 1)
        mixed = (
            share * base[rng.integers(0, len(base), n)] + (1 - share) * base[rng.integers(0, len(base), n)]
        )
        out[start : start + n] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
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


def run_size(label: str, vectors: np.ndarray, queries: np.ndarray, seed: int) -> dict:
    count = len(vectors)
    ids = np.arange(1, count + 1, dtype=np.int64)
    scores = queries[:100] @ vectors.T  # (100, n): how close the neighbours are
    nearest = -np.sort(-np.partition(scores, -10, axis=1)[:, -10:], axis=1)  # (100, 10), best first
    similarity = {
        "top1": round(float(nearest[:, 0].mean()), 3),
        "top10": round(float(nearest[:, 9].mean()), 3),
    }

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
        "data": label,
        "vectors": count,
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
        f"384-d MiniLM vectors (real, or blends of two real ones); real queries; single-query latency, "
        f"FAISS on {threads} threads. recall@10 of the chosen index against exact search; "
        "'sample' is the factory's own estimate at build time.",
        "",
        "| data | vectors | index | build s | MB | recall@10 | sample | p50 ms | p95 ms "
        "| exact p50 ms | exact p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c, e = r["chosen"], r["exact"]
        kind = c["kind"] if "nlist" not in c else f"{c['kind']} ({c['nlist']} lists, nprobe {c['nprobe']})"
        lines.append(
            f"| {r['data']} | {r['vectors']:,} | {kind} | {c['build_s']} | {c['index_mb']} | "
            f"{c['recall@10']} | {c['build_sample_recall@10']} | {c['latency_p50_ms']} | "
            f"{c['latency_p95_ms']} | {e['latency_p50_ms']} | {e['latency_p95_ms']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="blended-vector sizes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    real, queries = real_embeddings()
    results = [run_size("real", real, queries, args.seed)]
    for size in args.sizes.split(","):
        results.append(run_size("blended", blended_vectors(real, int(size), args.seed), queries, args.seed))
    fields = {
        "machine": f"{platform.machine()}, {faiss.omp_get_max_threads()} FAISS threads",
        "faiss": faiss.__version__,
        "results": results,
    }
    write_results("index_scale", "index-scale", fields, markdown(results, args.threads))


if __name__ == "__main__":
    main()
