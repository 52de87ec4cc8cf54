"""Load on the REST API over loopback: N concurrent clients for a bounded time.

* ``/v1/search`` over a 10k-chunk knowledge base (real MiniLM query embedding, FAISS, BM25,
  fusion, SQLite): throughput, p50/p95/p99, errors, server CPU per request, once per embedder
  (``--embedders``: torch, ONNX fp32, ONNX int8 in the same run). Target: >= 100 req/s with p95
  <= 100 ms at 20 clients on 2 cores.
* ``/v1/ask`` with a fake model (instant, deterministic answers), to measure what the API and
  the answer pipeline add around a model: throughput and latency.
* ``/v1/ask`` with the real default model: latency one at a time (time to first token by
  streaming, total), then a burst larger than the generation queue, where the surplus must get
  deliberate 429s and nothing else.

The server runs in its own process (``uvicorn app.api.main:serve_app``), as ``citewise serve``
runs it; its peak RSS, RSS at rest (with the answer model loaded, once per embedder) and CPU time
are read from /proc. Chunk texts and vectors are built as in
``search_scale.py`` (recombined Python-doc sentences, blended real MiniLM vectors).

    .venv/bin/python bench/load.py [--chunks 10000] [--clients 20] [--seconds 30] [--embedders a,b]
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
from app.testing import free_port, wait_for_http  # noqa: E402
from bench.data import CACHE, doc_sentences, python_faq, write_results  # noqa: E402
from bench.index_scale import real_embeddings  # noqa: E402
from bench.search_scale import fill  # noqa: E402
from retriever.embedders.registry import create_embedder  # noqa: E402

FAKE_MODEL = "generator.testing:passage_copier"


def build_kb(data_dir: Path, chunks: int, embedder: str = "minilm") -> None:
    """The knowledge base, built once per size and embedder name and copied for each run (it is
    deterministic). Its vectors are the same blends of real fp32 sentence vectors whatever the
    embedder: a search costs the same on them, and the index records the embedder it serves."""
    recorded = create_embedder(embedder).name  # minilm on torch or ONNX: one model, one name
    suffix = "" if recorded == "minilm" else f"-{recorded}"
    cached = CACHE / f"load-kb-{chunks}{suffix}"
    if not (cached / "index" / "manifest.json").is_file():
        shutil.rmtree(cached, ignore_errors=True)
        with build_knowledge_base(Settings(data_dir=cached, embedder=embedder)) as kb:
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

    def pids(self) -> list[int]:
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        return pids

    def _status_mb(self, field: str) -> float:
        total = 0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1])
        return round(total / 1024, 1)

    def peak_rss_mb(self) -> float:
        """High-water RSS of the server and its worker processes."""
        return self._status_mb("VmHWM")

    def rss_mb(self) -> float:
        """RSS now (at rest, between requests)."""
        return self._status_mb("VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU the server's processes have used so far."""
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def loaded(server: Server, path: str, bodies: Callable[[], dict], clients: int, seconds: float) -> dict:
    """``hammer`` plus what it cost the server: CPU milliseconds per request."""
    before = server.cpu_seconds()
    result = asyncio.run(hammer(server.url, path, bodies, clients, seconds))
    spent = server.cpu_seconds() - before
    result["server_cpu_ms_per_request"] = round(1000 * spent / max(1, result["requests"]), 1)
    print(json.dumps(result), flush=True)
    return result


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
    rows = [
        "| endpoint | embedder | clients | throughput (req/s) | p50 ms | p95 ms | p99 ms | 429s | errors "
        "| server CPU ms/request | server peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs = [("/v1/search", name, r) for name, pair in fields["search"].items() for r in pair]
    runs.append(("/v1/ask (fake model)", fields["default_embedder"], fields["ask_fake_model"]))
    for endpoint, embedder, r in runs:
        rows.append(
            f"| {endpoint} | {embedder} | {r['clients']} | {r['throughput_rps']} | {r['p50_ms']} | "
            f"{r['p95_ms']} | {r['p99_ms']} | {r['rejected_429']} | {r['errors']} | "
            f"{r['server_cpu_ms_per_request']} | {r['peak_rss_mb']} |"
        )
    real = fields["ask_real_model"]
    rest = ", ".join(f"{name} {mb} MB" for name, mb in fields["rss_at_rest_mb"].items())
    default = fields["search"][fields["default_embedder"]][1]
    return "\n".join(
        [
            "# Load benchmark: the REST API on loopback",
            "",
            f"{fields['chunks']:,} chunks, SQLite, {fields['workers']} server process(es), 2 cores; "
            f"closed-loop clients for {fields['seconds']} s each (the load generator runs on the same "
            "2 cores). Each embedder is measured in the same run, on its own server.",
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
            f"Server RSS at rest with the answer model loaded, after a few answers: {rest}.",
            "",
            f"Targets (/v1/search at 20 clients, {fields['default_embedder']}): >= 100 req/s -> "
            f"**{default['throughput_rps']}**, p95 <= 100 ms -> **{default['p95_ms']} ms**; "
            f"/v1/ask server CPU per answer (fake model) <= 40 ms -> "
            f"**{fields['ask_fake_model']['server_cpu_ms_per_request']} ms**; errors other than 429: "
            f"**{sum(r['errors'] for _, _, r in runs)}**.",
            "",
        ]
    )


def search_load(work: Path, embedder: str, queries: list[str], args: argparse.Namespace) -> list[dict]:
    """/v1/search at 2 and at ``--clients`` clients on a server using ``embedder``."""
    data = work / f"data-{embedder}"
    build_kb(data, args.chunks, embedder)
    rng = random.Random(5)
    env = {"CITEWISE_EMBEDDER": embedder, "CITEWISE_GENERATOR": FAKE_MODEL}
    server = Server(data, env, args.workers)
    try:
        print(f"search load, {embedder} …", flush=True)

        def query() -> dict:
            return {"query": rng.choice(queries)}

        runs = [
            loaded(server, "/v1/search", query, n, s)
            for n, s in ((2, args.seconds / 2), (args.clients, args.seconds))
        ]
        for run in runs:
            run["peak_rss_mb"] = server.peak_rss_mb()
        return runs
    finally:
        server.stop()


def fake_ask_load(work: Path, questions: list[str], args: argparse.Namespace) -> dict:
    data = work / "data-fake-ask"
    build_kb(data, args.chunks)
    rng = random.Random(7)
    env = {
        "CITEWISE_GENERATOR": FAKE_MODEL,
        "CITEWISE_GENERATION_WORKERS": "2",  # the fake model is thread-safe
        "CITEWISE_GENERATION_QUEUE": str(args.clients),
    }
    server = Server(data, env, args.workers)
    try:
        print("ask load (fake model) …", flush=True)
        ask = loaded(
            server, "/v1/ask", lambda: {"question": rng.choice(questions)}, args.clients, args.seconds
        )
        ask["peak_rss_mb"] = server.peak_rss_mb()
        return ask
    finally:
        server.stop()


def real_model_run(work: Path, questions: list[str], embedder: str, args: argparse.Namespace, *, full: bool):
    """RSS at rest after a few answers; with ``full``, latencies one at a time and a burst too."""
    data = work / f"data-real-{embedder}"
    build_kb(data, args.chunks, embedder)
    rng = random.Random(11)
    workers, queue = 1, 4
    env = {
        "CITEWISE_EMBEDDER": embedder,
        "CITEWISE_GENERATOR": args.model,
        "CITEWISE_GENERATION_WORKERS": str(workers),
        "CITEWISE_GENERATION_QUEUE": str(queue),
    }
    server = Server(data, env)
    try:
        print(f"real model ({args.model}), {embedder} …", flush=True)
        count = args.real_questions if full else 3
        timings = [streamed_ask(server.url, q) for q in rng.sample(questions, count)]
        at_rest = server.rss_mb()
        if not full:
            return {"rss_at_rest_mb": at_rest}
        statuses = asyncio.run(burst(server.url, rng.sample(questions, args.burst)))
        ttft, total = [t[0] for t in timings], [t[1] for t in timings]
        real = {
            "model": args.model,
            "questions": count,
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
            "rss_at_rest_mb": at_rest,
        }
        print(json.dumps(real), flush=True)
        return real
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--embedders",
        default="minilm-torch,minilm,minilm-int8",
        help="search load once per embedder (the first is the baseline; the configured default is "
        "also the one /v1/ask runs with)",
    )
    parser.add_argument("--model", default="qwen2.5-0.5b")
    parser.add_argument("--real-questions", type=int, default=10)
    parser.add_argument("--burst", type=int, default=8)
    args = parser.parse_args()
    embedders = [name.strip() for name in args.embedders.split(",") if name.strip()]
    default = Settings.model_fields["embedder"].default

    questions = [q for q, _ in python_faq().queries]
    # Search queries rarely repeat (FAQ questions and held-out doc sentences), as with real users.
    queries = questions + doc_sentences()[20_000:26_000]
    work = Path(tempfile.mkdtemp(prefix="citewise-load-"))
    try:
        print(f"building a {args.chunks:,}-chunk knowledge base …", flush=True)
        search = {name: search_load(work, name, queries, args) for name in embedders}
        ask = fake_ask_load(work, questions, args)
        real = real_model_run(work, questions, default, args, full=True)
        at_rest = {
            name: real_model_run(work, questions, name, args, full=False)["rss_at_rest_mb"]
            for name in embedders
            if name != default
        }
        at_rest[default] = real["rss_at_rest_mb"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fields = {
        "chunks": args.chunks,
        "workers": args.workers,
        "seconds": args.seconds,
        "default_embedder": default,
        "search": search,
        "ask_fake_model": ask,
        "ask_real_model": real,
        "rss_at_rest_mb": at_rest,
    }
    write_results("load", "REST API load on loopback", fields, markdown(fields))


if __name__ == "__main__":
    main()
