"""Query embedding latency: one query at a time on one thread, torch versus ONNX Runtime (fp32 and
int8), same run.

A search embeds one question; the API runs many searches side by side, each on one core at best,
so the single-query, single-thread time is what bounds search throughput. Queries: the questions
of bench/qa/guide.jsonl (real questions, 5-20 words). The query cache is bypassed (each query is
asked once per embedder, and the ONNX embedder's cache is cleared before the timing).

    .venv/bin/python bench/embed_query.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retriever.embedders.minilm import MiniLMEmbedder  # noqa: E402
from retriever.embedders.onnx_minilm import OnnxMiniLMEmbedder, OnnxMiniLMInt8Embedder  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def questions() -> list[str]:
    lines = (ROOT / "bench" / "qa" / "guide.jsonl").read_text().splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def timings(embed, texts: list[str], repeat: int) -> list[float]:
    found = []
    for _ in range(repeat):
        for text in texts:
            started = time.perf_counter()
            embed(text)
            found.append(time.perf_counter() - started)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    texts = questions()
    torch_embedder = MiniLMEmbedder()
    torch_embedder.warm_up()
    candidates = [("minilm-torch", torch_embedder.embed_query)]
    for name, onnx_embedder in (
        ("minilm-onnx", OnnxMiniLMEmbedder(threads=1)),
        ("minilm-int8", OnnxMiniLMInt8Embedder(threads=1)),
    ):
        onnx_embedder.warm_up()
        assert onnx_embedder._runner is not None
        candidates.append((name, onnx_embedder._runner.embed_one))  # uncached: what a new question costs
    rows = []
    for name, embed in candidates:
        embed(texts[0])  # warm the kernels
        seconds = sorted(timings(embed, texts, args.repeat))
        rows.append(
            {
                "embedder": name,
                "queries": len(seconds),
                "p50_ms": round(statistics.median(seconds) * 1000, 2),
                "p95_ms": round(seconds[int(0.95 * (len(seconds) - 1))] * 1000, 2),
            }
        )
    for row in rows[1:]:
        row["p50_speedup"] = round(rows[0]["p50_ms"] / row["p50_ms"], 2)
    result = {
        "benchmark": "embed_query",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, 1 thread",
        "runs": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "embed_query.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| embedder | queries | p50 ms | p95 ms | p50 speed-up |", "|---|---|---|---|---|"]
    for r in rows:
        cells = [r["embedder"], r["queries"], r["p50_ms"], r["p95_ms"], r.get("p50_speedup", 1.0)]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    table = "\n".join(lines)
    (RESULTS / "embed_query.md").write_text(
        f"# Query embedding, one query, one thread\n\n{result['date']}, {result['machine']}\n\n{table}\n"
    )
    print(table)


if __name__ == "__main__":
    main()
