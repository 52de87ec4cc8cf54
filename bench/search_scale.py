"""End-to-end search latency in a large knowledge base: 100k and 1M chunks.

``bench/index_scale.py`` times the vector index alone; this times what a user waits for: embedding
the question with MiniLM, the vector index the factory chose, BM25, fusion and loading the hits
from the database. Chunk texts are real sentences (the Python docs, recombined so every chunk is
distinct) and chunk vectors are the blended MiniLM vectors of index_scale.py, written straight
into the knowledge base: embedding a million chunks on two cores would take over half a day.
Queries are the Python FAQ questions.

    .venv/bin/python bench/search_scale.py [--sizes 100000,1000000] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services import build_knowledge_base  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.data import doc_sentences, python_faq, write_results  # noqa: E402
from bench.index_scale import blended_vectors, real_embeddings  # noqa: E402
from retriever.search import SearchMode, search  # noqa: E402
from retriever.types import PreparedChunk, PreparedDocument, text_hash  # noqa: E402

CHUNKS_PER_DOCUMENT = 100
DOCUMENTS_PER_WRITE = 20


def fill(kb, count: int, pool: list[str], seed: int, base: np.ndarray | None = None) -> float:
    """Write ``count`` chunks with recombined sentences and synthetic vectors blended from ``base``
    (default: the 50k cached real sentence vectors); returns seconds."""
    rng = random.Random(seed)
    vectors = blended_vectors(real_embeddings()[0] if base is None else base, count, seed=seed)
    collection_id = kb.collection("scale", create=True).id
    started = time.perf_counter()
    batch: list[PreparedDocument] = []
    for doc_number, first in enumerate(range(0, count, CHUNKS_PER_DOCUMENT)):
        chunks, offset = [], 0
        for ordinal in range(min(CHUNKS_PER_DOCUMENT, count - first)):
            text = " ".join(rng.sample(pool, 6))
            chunks.append(PreparedChunk(ordinal, text, offset, offset + len(text), len(text.split())))
            offset += len(text) + 1
        document = PreparedDocument(
            collection_id=collection_id,
            source_uri=f"/scale/doc-{doc_number:06d}.txt",
            title=f"Document {doc_number}",
            mime_type="text/plain",
            size_bytes=offset,
            content_hash=text_hash(f"scale-{seed}-{doc_number}"),
            chunks=chunks,
            vectors={c.ordinal: vectors[first + c.ordinal] for c in chunks},
        )
        batch.append(document)
        if len(batch) == DOCUMENTS_PER_WRITE:
            kb.write(batch)
            batch = []
    if batch:
        kb.write(batch)
    return time.perf_counter() - started


def latencies(kb, questions: list[str], mode: SearchMode) -> dict[str, float]:
    search(kb, questions[0], k=10, mode=mode)  # warm: keyword index loaded, caches filled
    timings = []
    for question in questions:
        started = time.perf_counter()
        search(kb, question, k=10, mode=mode)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(float(np.percentile(timings, 50)), 2),
        "p95_ms": round(float(np.percentile(timings, 95)), 2),
    }


def run_size(count: int, pool: list[str], questions: list[str], seed: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="citewise-scale-"))
    try:
        settings = Settings(data_dir=work / "data")
        kb = build_knowledge_base(settings)
        with kb:
            kb.open(writable=True)
            write_s = fill(kb, count, pool, seed)
            started = time.perf_counter()
            kb.save()  # the factory picks the vector index; the keyword index is built and saved
            save_s = time.perf_counter() - started
            decision = kb.index_decision
        reader = build_knowledge_base(settings)
        with reader:
            started = time.perf_counter()
            reader.open()  # read-only: memory-mapped index, as a server process opens it
            open_s = time.perf_counter() - started
            modes = {mode.value: latencies(reader, questions, mode) for mode in SearchMode}
        data_mb = sum(p.stat().st_size for p in (work / "data").rglob("*") if p.is_file()) / 2**20
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "chunks": count,
        "write_s": round(write_s, 1),
        "save_s": round(save_s, 1),
        "open_s": round(open_s, 2),
        "data_dir_mb": round(data_mb),
        "index": decision.as_manifest() if decision else None,
        "latency_k10": modes,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result), flush=True)
    return result


def markdown(results: list[dict]) -> str:
    lines = [
        "# Search latency at scale (end to end, top 10)",
        "",
        "Query embedding (MiniLM) + vector index + BM25 + fusion + loading hits from SQLite; 2 cores.",
        "",
        "| chunks | vector index | dense p50/p95 ms | sparse p50/p95 ms | hybrid p50/p95 ms "
        "| write s | save s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        index = r["index"] or {}
        kind = index.get("kind", "?")
        if "nprobe" in index:
            kind += f" (nprobe {index['nprobe']}/{index['nlist']}, recall@10 {index['recall_at_10']})"
        cells = [
            f"{r['latency_k10'][m]['p50_ms']} / {r['latency_k10'][m]['p95_ms']}"
            for m in ("dense", "sparse", "hybrid")
        ]
        lines.append(
            f"| {r['chunks']:,} | {kind} | " + " | ".join(cells) + f" | {r['write_s']} | {r['save_s']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    pool = doc_sentences()
    faq = [question for question, _ in python_faq().queries]
    questions = [faq[i % len(faq)] for i in range(args.queries)]
    results = [run_size(int(size), pool, questions, args.seed) for size in args.sizes.split(",")]
    write_results("search_scale", "search-scale", {"results": results}, markdown(results))


if __name__ == "__main__":
    main()
