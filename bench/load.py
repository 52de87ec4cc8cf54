"""Load on the REST API over loopback: N concurrent clients for a bounded time.

* ``/v1/search`` over a 10k-chunk knowledge base (real MiniLM query embedding, FAISS, BM25,
  fusion, SQLite): throughput, p50/p95/p99, errors. Target: >= 100 req/s with p95 <= 100 ms at
  20 clients on 2 cores.
* ``/v1/ask`` with a fake model (instant, deterministic answers), to measure what the API and
  the answer pipeline add around a model: throughput and latency.
* ``/v1/ask`` with the real default model: latency one at a time (time to first token by
  streaming, total), then a burst larger than the generation queue, where the surplus must get
  deliberate 429s and nothing else.

The server runs in its own process (``uvicorn app.api.main:serve_app``), as ``citewise serve``
runs it; its peak RSS is read from /proc. Chunk texts and vectors are built as in
``search_scale.py`` (recombined Python-doc sentences, blended real MiniLM vectors).

    .venv/bin/python bench/load.py [--chunks 10000] [--clients 20] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services import build_knowledge_base  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.data import CACHE, doc_sentences, python_faq, write_results  # noqa: E402
from bench.index_scale import real_embeddings  # noqa: E402
from bench.search_scale import fill  # noqa: E402
from tests.live_api import free_port, wait_for_http  # noqa: E402

FAKE_MODEL = "tests.fake_generators:passage_copier"


def build_kb(data_dir: Path, chunks: int) -> None:
    """The knowledge base, built once per size and copied for each run (it is deterministic)."""
    cached = CACHE / f"load-kb-{chunks}"
    if not (cached / "index" / "manifest.json").is_file():
        shutil.rmtree(cached, ignore_errors=True)
        with build_knowledge_base(Settings(data_dir=cached)) as kb:
            kb.open(writable=True)
            fill(kb, chunks, doc_sentences(), seed=3, base=real_embeddings(5_000)[0])
            kb.save()
    shutil.copytree(cached, data_dir)


class Server:
    """``uvicorn app.api.main:serve_app`` in a child process, ready when /readyz says so."""

    def __init__(self, data_dir: Path, env: dict[str, str], workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "uvicorn", "app.api.main:serve_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        full_env = {**os.environ, "CITEWISE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", **env}
        self.process = subprocess.Popen(command, cwd=ROOT, env=full_env)
        if not wait_for_http(f"{self.url}/readyz", lambda: self.process.poll() is None, 300, 0.5):
            self.process.terminate()
            raise RuntimeError("the API server did not become ready")

    def peak_rss_mb(self) -> float:
        """High-water RSS of the server and its worker processes."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        total = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        return round(total / 1024, 1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def summary(latencies: list[float], statuses: Counter, seconds: float) -> dict:
    ok = statuses.get(200, 0)
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    return {
        "requests": sum(statuses.values()),
        "ok": ok,
        "throughput_rps": round(ok / seconds, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "rejected_429": statuses.get(429, 0),
        "errors": sum(n for code, n in statuses.items() if code not in (200, 429)),
        "statuses": {str(code): n for code, n in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
    }


async def hammer(url: str, path: str, bodies: Callable[[], dict], clients: int, seconds: float) -> dict:
    """``clients`` loops, each sending its next request when the last one answered (closed loop)."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        await client.post(path, json=bodies())  # warm
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                try:
                    response = await client.post(path, json=bodies())
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        latencies.append(time.perf_counter() - began)
                    elif response.status_code == 429:  # a well-behaved client waits as told
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return summary(latencies, statuses, elapsed) | {"clients": clients, "seconds": round(elapsed, 1)}


def streamed_ask(url: str, question: str) -> tuple[float, float, int]:
    """(time to first token, total, status) of one streamed answer."""
    began = time.perf_counter()
    first = None
    with httpx.stream("POST", f"{url}/v1/ask", json={"question": question, "stream": True}, timeout=300) as r:
        if r.status_code != 200:
            return 0.0, time.perf_counter() - began, r.status_code
        for line in r.iter_lines():
            if first is None and line.startswith("event: token"):
                first = time.perf_counter() - began
    return first or 0.0, time.perf_counter() - began, 200


async def burst(url: str, questions: list[str]) -> Counter:
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        responses = await asyncio.gather(*(client.post("/v1/ask", json={"question": q}) for q in questions))
    return Counter(r.status_code for r in responses)


def markdown(fields: dict) -> str:
    search, ask, real = fields["search"], fields["ask_fake_model"], fields["ask_real_model"]
    rows = [
        "| endpoint | clients | throughput (req/s) | p50 ms | p95 ms | p99 ms | 429s | errors "
        "| server peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    light = fields["search_2_clients"]
    for name, r in (("/v1/search", light), ("/v1/search", search), ("/v1/ask (fake model)", ask)):
        rows.append(
            f"| {name} | {r['clients']} | {r['throughput_rps']} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['p99_ms']} | {r['rejected_429']} | {r['errors']} | {r['peak_rss_mb']} |"
        )
    return "\n".join(
        [
            "# Load benchmark: the REST API on loopback",
            "",
            f"{fields['chunks']:,} chunks, SQLite, {fields['workers']} server process(es), 2 cores; "
            f"closed-loop clients for {fields['seconds']} s each.",
            "",
            *rows,
            "",
            f"Real model ({real['model']}), one at a time over {real['questions']} questions: "
            f"time to first token p50 {real['ttft_p50_s']} s / p95 {real['ttft_p95_s']} s, "
            f"total p50 {real['total_p50_s']} s / p95 {real['total_p95_s']} s; "
            f"server peak RSS {real['peak_rss_mb']} MB.",
            f"Burst of {real['burst']} concurrent asks with {real['generation_workers']} worker and a "
            f"queue of {real['generation_queue']}: {real['burst_statuses']} "
            "(the surplus gets 429 + Retry-After).",
            "",
            f"Targets (/v1/search at 20 clients): >= 100 req/s -> **{search['throughput_rps']}**, "
            f"p95 <= 100 ms -> **{search['p95_ms']} ms**, errors other than 429: "
            f"**{search['errors'] + ask['errors']}**.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--model", default="qwen2.5-0.5b")
    parser.add_argument("--real-questions", type=int, default=10)
    parser.add_argument("--burst", type=int, default=8)
    args = parser.parse_args()

    questions = [q for q, _ in python_faq().queries]
    # Search queries rarely repeat (FAQ questions and held-out doc sentences), as with real users.
    queries = questions + doc_sentences()[20_000:26_000]
    rng = random.Random(5)
    work = Path(tempfile.mkdtemp(prefix="citewise-load-"))
    try:
        print(f"building a {args.chunks:,}-chunk knowledge base …", flush=True)
        build_kb(work / "data", args.chunks)

        fake_env = {
            "CITEWISE_GENERATOR": FAKE_MODEL,
            "CITEWISE_GENERATION_WORKERS": "2",  # the fake model is thread-safe
            "CITEWISE_GENERATION_QUEUE": str(args.clients),
        }
        server = Server(work / "data", fake_env, args.workers)
        try:
            print("search load …", flush=True)

            def query() -> dict:
                return {"query": rng.choice(queries)}

            light = asyncio.run(hammer(server.url, "/v1/search", query, 2, args.seconds / 2))
            print(json.dumps(light), flush=True)
            search = asyncio.run(hammer(server.url, "/v1/search", query, args.clients, args.seconds))
            print(json.dumps(search), flush=True)
            print("ask load (fake model) …", flush=True)
            ask = asyncio.run(
                hammer(
                    server.url,
                    "/v1/ask",
                    lambda: {"question": rng.choice(questions)},
                    args.clients,
                    args.seconds,
                )
            )
            print(json.dumps(ask), flush=True)
            light["peak_rss_mb"] = search["peak_rss_mb"] = ask["peak_rss_mb"] = server.peak_rss_mb()
        finally:
            server.stop()

        workers, queue = 1, 4
        env = {
            "CITEWISE_GENERATOR": args.model,
            "CITEWISE_GENERATION_WORKERS": str(workers),
            "CITEWISE_GENERATION_QUEUE": str(queue),
        }
        server = Server(work / "data", env)
        try:
            print(f"real model ({args.model}) …", flush=True)
            timings = [streamed_ask(server.url, q) for q in rng.sample(questions, args.real_questions)]
            statuses = asyncio.run(burst(server.url, rng.sample(questions, args.burst)))
            ttft, total = [t[0] for t in timings], [t[1] for t in timings]
            real = {
                "model": args.model,
                "questions": args.real_questions,
                "ttft_p50_s": round(float(np.percentile(ttft, 50)), 2),
                "ttft_p95_s": round(float(np.percentile(ttft, 95)), 2),
                "total_p50_s": round(float(np.percentile(total, 50)), 2),
                "total_p95_s": round(float(np.percentile(total, 95)), 2),
                "non_200": sum(1 for t in timings if t[2] != 200),
                "burst": args.burst,
                "generation_workers": workers,
                "generation_queue": queue,
                "burst_statuses": {str(k): v for k, v in sorted(statuses.items())},
                "peak_rss_mb": server.peak_rss_mb(),
            }
            print(json.dumps(real), flush=True)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fields = {
        "chunks": args.chunks,
        "workers": args.workers,
        "seconds": args.seconds,
        "search_2_clients": light,
        "search": search,
        "ask_fake_model": ask,
        "ask_real_model": real,
    }
    write_results("load", "REST API load on loopback", fields, markdown(fields))


if __name__ == "__main__":
    main()
