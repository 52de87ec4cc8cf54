"""Jobs a dead process left ``running`` are closed as ``interrupted`` when the API starts, so a
client polling "until not running" stops; jobs that may still have a live owner are left alone.

The rule is the one ``citewise doctor`` reports with: whoever runs a job holds the writer lock,
so with the lock free every running job is orphaned; while another process writes, only this
machine's jobs whose process is gone are."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from app.api.main import create_app
from app.doctor import _jobs
from app.services import build_knowledge_base
from retriever.db.models import IngestJob, JobStatus
from retriever.embedders.testing import HashingEmbedder
from tests.app.api.conftest import make_settings


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def leave_jobs(settings, rows: dict[str, dict]) -> dict[str, int]:
    """Job rows as processes would have left them; their ids by name."""
    with build_knowledge_base(settings, HashingEmbedder()) as kb:
        kb.open()
        collection = kb.collection("guide", create=True)
        ids = {}
        with kb.sessions.begin() as session:
            for name, values in rows.items():
                job = IngestJob(collection_id=collection.id, sources=["/gone/a.md"], **values)
                session.add(job)
                session.flush()
                ids[name] = job.id
        return ids


def status(client: TestClient, job_id: int) -> dict:
    response = client.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


ROWS = {
    "killed here": {"status": JobStatus.RUNNING, "host": socket.gethostname()},
    "other machine": {"status": JobStatus.RUNNING, "host": "another-machine", "pid": 4242},
    "alive here": {"status": JobStatus.RUNNING, "host": socket.gethostname(), "pid": os.getpid()},
    "queued": {"status": JobStatus.QUEUED},
}


def test_start_up_closes_every_running_job_when_nobody_writes(tmp_path: Path, database_url: str) -> None:
    # A task queue is configured so that the queued job waits for a worker (none runs here).
    settings = make_settings(tmp_path, database_url, queue_url="redis://127.0.0.1:6379/15")
    ids = leave_jobs(settings, {**ROWS, "killed here": {**ROWS["killed here"], "pid": dead_pid()}})

    with TestClient(create_app(settings)) as client:
        for name in ("killed here", "other machine", "alive here"):  # nobody holds the writer lock
            job = status(client, ids[name])
            assert job["status"] == "interrupted", (name, job)
            assert job["finished_at"] is not None
            assert "stopped before it finished" in job["errors"][-1]["reason"]
        assert status(client, ids["queued"])["status"] == "queued"  # a worker may still take it


def test_while_another_process_writes_only_dead_local_jobs_are_closed(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url, queue_url="redis://127.0.0.1:6379/15")
    ids = leave_jobs(settings, {**ROWS, "killed here": {**ROWS["killed here"], "pid": dead_pid()}})

    with build_knowledge_base(settings, HashingEmbedder()) as writer:
        writer.open(writable=True)  # another process is writing (and may own the running jobs)
        with TestClient(create_app(settings)) as client:
            assert status(client, ids["killed here"])["status"] == "interrupted"
            assert status(client, ids["other machine"])["status"] == "running"
            assert status(client, ids["alive here"])["status"] == "running"
            assert status(client, ids["queued"])["status"] == "queued"


def test_doctor_calls_dead_exactly_the_jobs_start_up_would_close(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    ids = leave_jobs(settings, {**ROWS, "killed here": {**ROWS["killed here"], "pid": dead_pid()}})
    with build_knowledge_base(settings, HashingEmbedder()) as kb:
        kb.open()
        free = _jobs(kb, busy=False)[0]
        busy = _jobs(kb, busy=True)[0]
    running = sorted(ids[n] for n in ("killed here", "other machine", "alive here"))
    assert free.state == "warn" and f"job(s) {', '.join(map(str, running))} " in free.detail
    assert busy.state == "warn" and f"job(s) {ids['killed here']} " in busy.detail
