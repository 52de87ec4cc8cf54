"""`citewise doctor`, `backup`, `restore`, `jobs` and `ingest --async` as a user meets them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.app.cli_helpers import run_cli

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITEWISE_EMBEDDER", "fake-hashing")
    monkeypatch.setenv("CITEWISE_GENERATOR", "extractive")
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "install.md").write_text("# Install\n\nRun make run to install Citewise into a virtualenv.\n")
    (root / "backup.md").write_text("# Backups\n\nCopy the data directory while no ingest runs.\n")
    return root


def test_doctor_passes_on_a_healthy_setup_and_names_a_damaged_index(capsys, corpus, tmp_path) -> None:
    assert run_cli(capsys, "ingest", str(corpus), "-q").code == 0
    healthy = run_cli(capsys, "doctor")
    assert healthy.code == 0, healthy.out
    assert "Everything Citewise needs is in place" in healthy.out
    assert "consistent (2 vectors)" in healthy.out

    index_dir = tmp_path / "data" / "index"
    manifest = json.loads((index_dir / "manifest.json").read_text())
    (index_dir / manifest["index_file"]).write_bytes(b"not an index")
    damaged = run_cli(capsys, "doctor")
    assert damaged.code == 1
    assert "index file" in damaged.out and "reindex" in damaged.out
    assert json.loads((index_dir / "manifest.json").read_text()) == manifest, "doctor must not repair"


def test_doctor_reports_a_missing_model_and_an_unreachable_queue(capsys, corpus, monkeypatch) -> None:
    monkeypatch.setenv("CITEWISE_GENERATOR", "gpt:/nowhere/model")
    monkeypatch.setenv("CITEWISE_QUEUE_URL", "redis://127.0.0.1:1/0")
    result = run_cli(capsys, "doctor")
    assert result.code == 1
    assert "lacks config.json" in result.out and "unreachable" in result.out


def test_backup_then_restore_into_a_new_data_dir(capsys, corpus, tmp_path, monkeypatch) -> None:
    assert run_cli(capsys, "ingest", str(corpus), "-q").code == 0
    archive = tmp_path / "kb.tar.gz"
    saved = run_cli(capsys, "backup", str(archive))
    assert saved.code == 0, saved.err
    assert "2 documents" in saved.out
    assert run_cli(capsys, "backup", str(archive)).code == 2  # never overwrites a backup

    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "restored"))
    restored = run_cli(capsys, "restore", str(archive))
    assert restored.code == 0, restored.err
    assert "consistent (2 vectors)" in restored.out
    found = run_cli(capsys, "search", "how do I install", "-k", "1")
    assert "Install" in found.out
    again = run_cli(capsys, "restore", str(archive))
    assert again.code == 2 and "not empty" in again.err


def test_async_ingest_without_a_queue_says_how_to_configure_one(capsys, corpus) -> None:
    result = run_cli(capsys, "ingest", "--async", str(corpus))
    assert result.code == 2
    assert "CITEWISE_QUEUE_URL" in result.err


def test_async_ingest_then_a_burst_worker_then_jobs_show(capsys, corpus, monkeypatch) -> None:
    from redis import Redis
    from rq import Queue

    name = f"citewise-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CITEWISE_QUEUE_URL", REDIS_URL)
    monkeypatch.setenv("CITEWISE_QUEUE_NAME", name)
    try:
        queued = run_cli(capsys, "ingest", "--async", str(corpus), "-c", "docs")
        assert queued.code == 0, queued.err
        job_id = queued.out.split("Queued job ", 1)[1].split(".", 1)[0]
        waiting = run_cli(capsys, "jobs", "show", job_id)
        assert f"job {job_id}: queued" in waiting.out

        assert run_cli(capsys, "worker", "--burst").code == 0  # runs the job in a forked work horse
        shown = run_cli(capsys, "jobs", "show", job_id, "--wait")
        assert shown.code == 0, shown.out
        assert f"job {job_id}: completed, 2 of 2 files" in shown.out
        assert "Install" in run_cli(capsys, "search", "install", "-c", "docs").out
        assert run_cli(capsys, "jobs", "cancel", job_id).code == 1  # finished: nothing to cancel
    finally:
        Queue(name, connection=Redis.from_url(REDIS_URL)).delete(delete_jobs=True)


def test_cancel_a_queued_job_so_no_worker_runs_it(capsys, corpus, monkeypatch) -> None:
    from redis import Redis
    from rq import Queue

    name = f"citewise-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CITEWISE_QUEUE_URL", REDIS_URL)
    monkeypatch.setenv("CITEWISE_QUEUE_NAME", name)
    queue = Queue(name, connection=Redis.from_url(REDIS_URL))
    try:
        job_id = (
            run_cli(capsys, "ingest", "--async", str(corpus)).out.split("Queued job ", 1)[1].split(".")[0]
        )
        assert queue.count == 1
        cancelled = run_cli(capsys, "jobs", "cancel", job_id)
        assert cancelled.code == 0 and f"Cancelled job {job_id}" in cancelled.out
        assert queue.count == 0
        assert "cancelled" in run_cli(capsys, "jobs", "show", job_id).out
    finally:
        queue.delete(delete_jobs=True)
