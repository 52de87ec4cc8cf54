"""Job rows across processes: claiming, retrying after a dead worker, cancelling; SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from ingest.chunking import Chunker
from ingest.jobs import CancelWatch, JobRecorder, JobTally, cancel_job, claim_job, queue_job
from ingest.pipeline import IngestOptions, IngestPipeline
from retriever.db.models import Document, IngestJob, JobStatus


def status(kb, job_id: int) -> str:
    with kb.session() as session:
        return session.get(IngestJob, job_id).status


def write_files(root: Path, count: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = root / f"note-{n:03}.txt"
        path.write_text(f"Note {n} says the code word is word{n}x.\n\nIt was filed under shelf {n % 7}.\n")
        paths.append(path)
    return paths


def test_a_queued_job_is_claimed_once_and_a_retry_may_take_a_running_one(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    job_id = queue_job(kb, kb.collection("c", create=True).id, ["/nowhere"])

    assert claim_job(kb, job_id)
    assert not claim_job(kb, job_id), "a second process must not take a running job"
    assert claim_job(kb, job_id, retry=True), "the queue retries a job whose worker died"
    assert status(kb, job_id) == JobStatus.RUNNING


def test_a_cancelled_queued_job_is_closed_and_never_claimed(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    job_id = queue_job(kb, kb.collection("c", create=True).id, ["/nowhere"])

    assert cancel_job(kb, job_id) == JobStatus.CANCELLED
    assert not claim_job(kb, job_id) and not claim_job(kb, job_id, retry=True)
    with kb.session() as session:
        assert session.get(IngestJob, job_id).finished_at is not None
    assert cancel_job(kb, 10_000) is None


def test_a_finished_job_cannot_be_cancelled(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    job_id = queue_job(kb, kb.collection("c", create=True).id, [])
    claim_job(kb, job_id)
    recorder = JobRecorder(kb)
    recorder.start(0, [], job_id)
    recorder.update(JobTally(), JobStatus.COMPLETED)

    assert cancel_job(kb, job_id) == JobStatus.COMPLETED


def test_progress_updates_do_not_undo_a_cancellation(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    recorder = JobRecorder(kb)
    job_id = recorder.start(kb.collection("c", create=True).id, [])
    watch = CancelWatch(kb, job_id, interval_s=0.0)
    assert not watch()

    cancel_job(kb, job_id)
    recorder.update(JobTally())  # a progress write from the run, racing the cancellation

    assert status(kb, job_id) == JobStatus.CANCELLED
    assert watch()


def test_a_cancelled_run_stops_early_and_keeps_whole_documents(make_kb, tmp_path) -> None:
    kb = make_kb()
    kb.open(writable=True)
    paths = write_files(tmp_path / "notes", 40)
    chunker = Chunker(kb.embedder.count_tokens, max_tokens=60, overlap_tokens=10)
    pipeline = IngestPipeline(kb, chunker, IngestOptions(collection="c", batch_chunks=4))
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 12

    report = pipeline.run([tmp_path / "notes"], cancelled=cancelled)

    assert report.status == JobStatus.CANCELLED
    assert status(kb, report.job_id) == JobStatus.CANCELLED
    with kb.session() as session:
        kept = session.execute(select(func.count(Document.id))).scalar_one()
    assert 0 < kept < len(paths)
    assert kb.check().consistent

    # Running the same ingest again finishes the rest and duplicates nothing.
    again = IngestPipeline(kb, chunker, IngestOptions(collection="c")).run([tmp_path / "notes"])
    assert again.status == JobStatus.COMPLETED
    assert again.counts["unchanged"] == kept and again.counts["added"] == len(paths) - kept
    assert kb.check().consistent
