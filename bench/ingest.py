"""Ingest throughput: the whole pipeline versus the embedder alone, on the same chunks, in one run.

Corpus: the HTML pages and reStructuredText sources of Debian's ``python3.11-doc`` plus the PDF of
``debian-reference-en`` (fetched with ``apt-get download`` into bench/.cache if missing; nothing
is committed). The ratio pipeline/raw says how much the pipeline's parsing, chunking and database
work costs on top of embedding: 1.0 means none.

    .venv/bin/python bench/ingest.py [--files 250] [--database-url URL] [--embedders a,b,c]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services import build_knowledge_base, build_pipeline  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.data import fetch_debian, python_docs_dir  # noqa: E402
from retriever.consistency import stored_embedding_texts  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def pick_files(unpacked: Path, count: int, seed: int) -> list[Path]:
    docs = python_docs_dir(unpacked)
    html = sorted(p for p in docs.rglob("*.html") if "_static" not in p.parts)
    rst = sorted(docs.glob("_sources/**/*.rst.txt"))
    pdfs = sorted((unpacked / "usr" / "share" / "debian-reference").glob("*.en.pdf"))
    rng = random.Random(seed)
    half = max(count // 2, 1)
    return rng.sample(html, min(half, len(html))) + rng.sample(rst, min(count - half, len(rst))) + pdfs[:1]


def stage(files: list[Path], target: Path) -> None:
    target.mkdir(parents=True)
    for i, source in enumerate(files):
        # Keep names unique and the real extension (".rst.txt" stays: content sniffing decides).
        shutil.copy2(source, target / f"{i:04d}-{source.name}")


def measure(files: list[Path], embedder: str, database_url: str | None) -> dict:
    """One ingest of ``files`` with ``embedder``, then the embedder alone on the stored texts."""
    work = Path(tempfile.mkdtemp(prefix="citewise-bench-"))
    try:
        stage(files, work / "corpus")
        settings = Settings(data_dir=work / "data", database_url=database_url, embedder=embedder)
        kb = build_knowledge_base(settings)
        kb.embedder.warm_up()  # model load is excluded from both timings
        kb.embedder.embed_documents(["warm up the kernels"] * 8)
        with kb:
            kb.open(writable=True)
            report = build_pipeline(settings, kb).run([work / "corpus"])
            with kb.session() as session:
                texts = [text for _, text in stored_embedding_texts(session)]
            batch = max(settings.embed_batch_size * 4, 64)
            started = time.perf_counter()
            for i in range(0, len(texts), batch):  # same batching as the pipeline
                kb.embedder.embed_documents(texts[i : i + batch])
            raw_seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    chunks = report.counts.get("chunks_embedded", 0)
    pipeline_rate = chunks / report.seconds
    raw_rate = len(texts) / raw_seconds
    return {
        "embedder": embedder,
        "files": report.counts.get("files", 0),
        "files_ingested": report.counts.get("added", 0),
        "files_skipped": report.counts.get("skipped", 0),
        "chunks_embedded": chunks,
        "pipeline_seconds": round(report.seconds, 2),
        "pipeline_embed_seconds": round(report.embed_seconds, 2),
        "pipeline_chunks_per_s": round(pipeline_rate, 2),
        "raw_encode_chunks": len(texts),
        "raw_encode_seconds": round(raw_seconds, 2),
        "raw_encode_chunks_per_s": round(raw_rate, 2),
        "ratio_pipeline_to_raw": round(pipeline_rate / raw_rate, 3),
        # Same-run view, immune to drift between the two timings: non-embedding work / embedding time.
        "overhead_vs_embed": round((report.seconds - report.embed_seconds) / report.embed_seconds, 3),
        "skip_reasons": sorted({e.reason for e in report.errors})[:10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=250, help="HTML + rst files to sample (plus one PDF)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument(
        "--embedders",
        default="minilm-torch,minilm-onnx,minilm-int8",
        help="comma-separated; each ingests the same files in this run (the first is the baseline)",
    )
    args = parser.parse_args()

    corpus_files = pick_files(fetch_debian(), args.files, args.seed)
    rows = [measure(corpus_files, name, args.database_url) for name in args.embedders.split(",")]
    baseline = rows[0]
    for row in rows:
        row["speedup_vs_first"] = round(row["pipeline_chunks_per_s"] / baseline["pipeline_chunks_per_s"], 2)
    result = {
        "benchmark": "ingest",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "database": "sqlite" if args.database_url is None else args.database_url.split(":", 1)[0],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "runs": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    keys = [key for key in rows[0] if key != "skip_reasons"]
    table = "\n".join(
        [
            "| " + " | ".join(keys) + " |",
            "|" + "---|" * len(keys),
            *("| " + " | ".join(str(row[key]) for key in keys) + " |" for row in rows),
        ]
    )
    header = ", ".join(str(result[key]) for key in ("date", "machine", "database"))
    header += f", peak RSS {result['peak_rss_mb']} MB"
    (RESULTS / "ingest.md").write_text(f"# Ingest benchmark\n\n{header}\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
