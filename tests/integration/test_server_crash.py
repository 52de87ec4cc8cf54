"""``kill -9`` of a real ``citewise serve`` while it ingests an upload: after a restart, the job is
``interrupted`` (with the reason), so a client polling "until not running" stops, and uploading
the same files again finishes the work without duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.testing import free_port, wait_for_http

REPO = Path(__file__).resolve().parents[2]
FILES = 20


def server(tmp_path: Path, database_url: str, name: str) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env |= {
        "PYTHONPATH": str(REPO),
        "CITEWISE_DATA_DIR": str(tmp_path / "data"),
        "CITEWISE_DATABASE_URL": database_url,
        "CITEWISE_EMBEDDER": "retriever.embedders.testing:slow_embedder",
        "CITEWISE_TEST_EMBED_DELAY": "0.3",
        "CITEWISE_EMBED_BATCH_SIZE": "4",
        "CITEWISE_CHUNK_TOKENS": "40",
        "CITEWISE_CHUNK_OVERLAP": "0",
        "CITEWISE_GENERATOR": "generator.testing:passage_copier",
    }
    port = free_port()
    log = open(tmp_path / f"{name}.log", "ab")  # noqa: SIM115  (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{url}/healthz", lambda: process.poll() is None, 60):
        raise AssertionError((tmp_path / f"{name}.log").read_text(errors="replace")[-3000:])
    return process, url


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(15)


def files() -> list[tuple[str, tuple[str, bytes]]]:
    """Files of several chunks each: with the slow embedder the job runs for some seconds."""
    found = []
    for n in range(FILES):
        paragraphs = [
            f"Ledger {n}.{p}: crate {n * 10 + p} waits on shelf {p % 7} in aisle {n % 9} for the count."
            for p in range(8)
        ]
        found.append(("files", (f"ledger-{n:02}.md", ("\n\n".join(paragraphs) + "\n").encode())))
    return found


def test_a_job_of_a_killed_server_is_interrupted_after_restart(
    tmp_path: Path, database_url: str, processes: list[subprocess.Popen]
) -> None:
    first, url = server(tmp_path, database_url, "first")
    processes.append(first)
    accepted = httpx.post(f"{url}/v1/documents", files=files(), data={"collection": "ledgers"}, timeout=30)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    deadline = time.monotonic() + 60
    while (job := httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json())["files_done"] < 2:
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)  # mid-upload: the job row says running
    first.wait(15)

    second, url = server(tmp_path, database_url, "second")
    processes.append(second)
    job = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
    assert job["status"] == "interrupted", job
    assert job["finished_at"] and "stopped before it finished" in job["errors"][-1]["reason"]
    assert job["files_done"] < FILES

    again = httpx.post(f"{url}/v1/documents", files=files(), data={"collection": "ledgers"}, timeout=30)
    retry_id = again.json()["job_id"]
    deadline = time.monotonic() + 120
    while (retry := httpx.get(f"{url}/v1/jobs/{retry_id}", timeout=10).json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, retry
        time.sleep(0.2)
    assert retry["status"] == "completed", retry
    assert retry["counts"].get("unchanged", 0) >= 2 and retry["counts"]["added"] < FILES, retry["counts"]
    listed = httpx.get(f"{url}/v1/documents", params={"collection": "ledgers", "limit": 100}, timeout=10)
    assert listed.json()["total"] == FILES, listed.json()
