"""A team server for real: PostgreSQL, Redis, two API processes and `citewise worker` processes.

Everything runs as separate processes on this machine, the way docker-compose runs them, with the
fake embedder and answer model (through the real registries) so the test is about the deployment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.services import build_knowledge_base, build_pipeline
from app.settings import Settings
from app.testing import free_port, wait_for_http
from retriever.db.models import Chunk, Document
from retriever.embedders.testing import HashingEmbedder

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("CITEWISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def team_environment(tmp_path: Path, postgres_url: str, queue_name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    return {
        **env,
        "PYTHONPATH": str(REPO),
        "CITEWISE_DATA_DIR": str(tmp_path / "shared"),
        "CITEWISE_DATABASE_URL": postgres_url,
        "CITEWISE_QUEUE_URL": REDIS_URL,
        "CITEWISE_QUEUE_NAME": queue_name,
        "CITEWISE_EMBEDDER": "retriever.embedders.testing:slow_embedder",
        "CITEWISE_TEST_EMBED_DELAY": "0.05",
        "CITEWISE_GENERATOR": "generator.testing:passage_copier",
        "CITEWISE_MIN_RETRIEVAL_SIMILARITY": "0",
        "CITEWISE_CHUNK_TOKENS": "40",
        "CITEWISE_CHUNK_OVERLAP": "0",
        "CITEWISE_EMBED_BATCH_SIZE": "4",
    }


def descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        for child in (int(c) for c in children.read_text().split()) if children.exists() else ():
            found += [child, *descendants(child)]
    return found


class Team:
    """Starts processes in their own process groups and kills every one of them at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes: list[subprocess.Popen] = []
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", *args],
            env={**self.env, **env},
            cwd=self.logs,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def api(self, name: str) -> str:
        port = free_port()
        process = self.start(name, "serve", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        if not wait_for_http(f"{url}/healthz", lambda: process.poll() is None, 60):
            raise AssertionError(f"{name} did not start:\n{self.log(name)}")
        return url

    def worker(self, name: str, **env: str) -> subprocess.Popen:
        return self.start(name, "worker", "--maintenance-interval", "2", PYTHONUNBUFFERED="1", **env)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def kill(self, process: subprocess.Popen) -> list[int]:
        """SIGKILL to the worker and every process under it, as in a crash; the pids killed.

        RQ's work horse runs in a session of its own, so killing the worker's group would spare it:
        its pid is found among the worker's children instead."""
        pids = [process.pid, *descendants(process.pid)]
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(10)
        return pids

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(os.getpgid(process.pid), signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)


@pytest.fixture
def team(tmp_path: Path, postgres_url: str) -> Iterator[Team]:
    from redis import Redis
    from rq import Queue

    queue_name = f"citewise-test-{uuid.uuid4().hex[:8]}"
    try:
        Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # the suite promises a real Redis run: fail loudly, never skip
        pytest.fail(f"Redis at {REDIS_URL} is not usable ({exc})")
    running = Team(team_environment(tmp_path, postgres_url, queue_name), tmp_path / "logs")
    try:
        yield running
    finally:
        running.stop_all()
        Queue(queue_name, connection=Redis.from_url(REDIS_URL)).delete(delete_jobs=True)


def wait_until(check: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.2) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def job(url: str, job_id: int) -> dict:
    return httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()


def finished(url: str, job_id: int) -> Callable[[], dict | None]:
    def check() -> dict | None:
        found = job(url, job_id)
        return found if found["status"] not in ("queued", "running") else None

    return check


def search_titles(url: str, query: str) -> list[str]:
    response = httpx.post(f"{url}/v1/search", json={"query": query, "k": 3}, timeout=10)
    response.raise_for_status()
    return [hit["title"] for hit in response.json()["hits"]]


def test_upload_through_one_replica_is_served_by_the_other_and_deletes_reach_both(team: Team) -> None:
    first, second = team.api("api-1"), team.api("api-2")
    team.worker("worker")
    assert httpx.get(f"{first}/readyz", timeout=30).json()["task_queue"] == "ok"

    files = [
        (
            "files",
            ("backups.md", b"# Backups\n\nThe backup job copies the database to the archive at two.\n"),
        ),
        ("files", ("install.md", b"# Installing\n\nCreate a virtualenv, then pip install the package.\n")),
    ]
    accepted = httpx.post(f"{first}/v1/documents", files=files, data={"collection": "team"}, timeout=30)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]

    done = wait_until(finished(second, job_id), 60, f"job {job_id}")
    assert done["status"] == "completed", (done, team.log("worker"))
    assert done["counts"]["added"] == 2
    # Neither replica was restarted: both follow the worker's saved index generation.
    for url in (first, second):
        wait_until(
            lambda u=url: "Backups" in search_titles(u, "archive backup database"), 20, f"search on {url}"
        )

    listed = httpx.get(f"{second}/v1/documents", params={"collection": "team"}, timeout=10).json()
    backups = next(d for d in listed["items"] if d["title"] == "Backups")
    assert httpx.delete(f"{second}/v1/documents/{backups['id']}", timeout=30).status_code == 200
    wait_until(
        lambda: "Backups" not in search_titles(first, "archive backup database"), 20, "delete on api-1"
    )


def corpus(root: Path, files: int) -> Path:
    root.mkdir(parents=True)
    for n in range(files):
        paragraphs = [
            f"Section {n}.{p}: the ledger entry {n * 10 + p} records shipment {p} of crate {n}, "
            f"stored on shelf {p % 5} in aisle {n % 9} until the quarterly count."
            for p in range(6)
        ]
        (root / f"ledger-{n:03}.txt").write_text("\n\n".join(paragraphs) + "\n")
    return root


def test_a_killed_worker_leaves_a_job_that_a_new_worker_finishes_exactly(
    team: Team, tmp_path: Path, postgres_url: str
) -> None:
    files = corpus(tmp_path / "ledgers", 120)
    api = team.api("api")
    worker = team.worker("worker-1", CITEWISE_TEST_EMBED_DELAY="0.4")
    queued = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "ingest", "--async", str(files), "-c", "ledgers"],
        env=team.env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    job_id = int(queued.stdout.split("Queued job ", 1)[1].split(".", 1)[0])

    partway = wait_until(
        lambda: (j := job(api, job_id))["files_done"] >= 20 and j, 90, "the job to be part-way"
    )
    killed = team.kill(worker)
    assert len(killed) == 2, f"expected the worker and its work horse, killed {killed}"
    time.sleep(1.0)
    stopped = job(api, job_id)
    assert stopped["status"] == "running" and stopped["files_done"] < 120, stopped
    assert partway["files_done"] < 120, "the job finished before the worker was killed: make it slower"

    team.worker("worker-2")  # RQ sees the dead worker's job once its heartbeat expires (~70 s)
    done = wait_until(finished(api, job_id), 180, f"job {job_id} to be retried", interval_s=1.0)
    assert done["status"] == "completed", (done, team.log("worker-2"))
    # The retry kept what the killed run had written and ingested only the rest.
    assert done["counts"]["unchanged"] >= partway["files_done"], done["counts"]
    assert done["counts"]["unchanged"] + done["counts"]["added"] == 120, done["counts"]

    settings = Settings(
        data_dir=tmp_path / "shared", database_url=postgres_url, embedder=HashingEmbedder.name,
        chunk_tokens=40, chunk_overlap=0, embed_batch_size=4,
    )  # fmt: skip
    with build_knowledge_base(settings) as kb:
        kb.open()
        with kb.session() as session:
            documents = session.execute(select(Document.source_uri)).scalars().all()
            chunks = session.execute(select(func.count(Chunk.id))).scalar_one()
        assert kb.check().consistent, kb.check().describe()
    assert len(documents) == len(set(documents)) == 120

    # A clean ingest of the same files, in one go, gives exactly as many chunks.
    reference = settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'reference.db'}", "data_dir": tmp_path / "reference"}
    )
    with build_knowledge_base(reference) as kb:
        kb.open(writable=True)
        build_pipeline(reference, kb, collection="ledgers").run([files])
        with kb.session() as session:
            assert session.execute(select(func.count(Chunk.id))).scalar_one() == chunks
