"""Recording an ingest as a job row: counts, per-file errors, final status."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from retriever.db.models import IngestJob, JobStatus, utcnow
from retriever.knowledge_base import KnowledgeBase


@dataclass(slots=True)
class FileError:
    path: str
    reason: str


@dataclass(slots=True)
class JobTally:
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[FileError] = field(default_factory=list)

    def as_counts(self) -> dict[str, Any]:
        return dict(self.counts)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_gone(job: IngestJob, *, writer_held: bool) -> bool:
    """Whether ``job`` is ``running`` but nobody runs it any more, so it can never end by itself.

    Whoever runs a job holds the writer lock of the index folder for the whole run, so a caller
    holding that lock knows every running job (but its own) is orphaned, on whatever machine it
    ran. Without the lock only this machine's jobs can be judged: by whether their process lives."""
    if job.status != JobStatus.RUNNING:
        return False
    if writer_held:
        return True
    return job.host == socket.gethostname() and bool(job.pid) and not pid_alive(job.pid)


def interrupt_orphans(session: Session, *, writer_held: bool, keep: int | None = None) -> list[int]:
    """Close the running jobs nobody runs any more (``owner_gone``) as interrupted, with the
    reason, so whoever polls them sees an end; ``keep`` is the caller's own job. Their ids."""
    closed = []
    for job in session.execute(select(IngestJob).where(IngestJob.status == JobStatus.RUNNING)).scalars():
        if job.id != keep and owner_gone(job, writer_held=writer_held):
            job.status, job.finished_at = JobStatus.INTERRUPTED, job.updated_at
            reason = (
                f"the process running this job (pid {job.pid} on {job.host or 'an unknown host'}) "
                "stopped before it finished; the documents it finished are kept, ingest the same "
                "files again for the rest"
            )
            job.errors = [*job.errors, {"path": "", "reason": reason}]
            closed.append(job.id)
    return closed


def queue_job(kb: KnowledgeBase, collection_id: int, sources: list[str]) -> int:
    """A job row for work that starts later, so a caller gets its id at once."""
    with kb.sessions.begin() as session:
        job = IngestJob(collection_id=collection_id, sources=sources, status=JobStatus.QUEUED)
        session.add(job)
        session.flush()
        return job.id


def claim_job(kb: KnowledgeBase, job_id: int, *, retry: bool = False) -> bool:
    """Take a queued job for this process; False if another process took it, it was cancelled or
    it is gone. ``retry`` also takes a job left running or interrupted by a worker that died: only
    a task queue that hands each job to one worker at a time may ask for that."""
    claimable = [JobStatus.QUEUED]
    if retry:
        claimable += [JobStatus.RUNNING, JobStatus.INTERRUPTED]
    with kb.sessions.begin() as session:
        # An UPDATE's result is a cursor result, which counts the rows it changed.
        taken = cast(
            "CursorResult[Any]",
            session.execute(
                update(IngestJob)
                .where(IngestJob.id == job_id, IngestJob.status.in_(claimable))
                .values(status=JobStatus.RUNNING, host=socket.gethostname(), pid=os.getpid())
            ),
        )
        return taken.rowcount == 1


def cancel_job(kb: KnowledgeBase, job_id: int) -> str | None:
    """Mark a queued or running job cancelled; its status afterwards, or None if there is no such job.

    A queued job is never started; a running one stops at its next batch boundary, keeping the
    documents it had finished (each is written whole or not at all).
    """
    with kb.sessions.begin() as session:
        job = session.get(IngestJob, job_id, with_for_update=True)
        if job is None:
            return None
        if job.status == JobStatus.QUEUED:
            job.status, job.finished_at = JobStatus.CANCELLED, utcnow()  # nobody else will close it
        elif job.status == JobStatus.RUNNING:
            job.status = JobStatus.CANCELLED  # the run sees it, stops and closes the job
        return job.status


class CancelWatch:
    """Answers "was this job cancelled?" from the database, reading it at most every ``interval_s``."""

    def __init__(self, kb: KnowledgeBase, job_id: int, interval_s: float = 0.5) -> None:
        self.kb, self.job_id, self.interval_s = kb, job_id, interval_s
        self._read_at = float("-inf")
        self._cancelled = False

    def __call__(self) -> bool:
        if not self._cancelled and time.monotonic() - self._read_at >= self.interval_s:
            self._read_at = time.monotonic()
            with self.kb.session() as session:
                status = session.execute(
                    select(IngestJob.status).where(IngestJob.id == self.job_id)
                ).scalar_one_or_none()
            self._cancelled = status == JobStatus.CANCELLED
        return self._cancelled


class JobRecorder:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.job_id: int | None = None

    def start(self, collection_id: int, sources: list[str], job_id: int | None = None) -> int:
        """Record a running job; ``job_id`` adopts a row queued earlier (an upload through the API)."""
        host = socket.gethostname()
        with self.kb.sessions.begin() as session:
            interrupt_orphans(session, writer_held=self.kb.writable, keep=job_id)
            job = session.get(IngestJob, job_id) if job_id is not None else None
            if job is None:
                job = IngestJob(collection_id=collection_id, sources=sources)
                session.add(job)
            if job.status != JobStatus.CANCELLED:  # cancelled while starting: the run stops at once
                job.status = JobStatus.RUNNING
            job.host, job.pid = host, os.getpid()
            session.flush()
            self.job_id = job.id
        return self.job_id

    def update(self, tally: JobTally, status: JobStatus = JobStatus.RUNNING) -> None:
        if self.job_id is None:
            return
        with self.kb.sessions.begin() as session:
            job = session.get(IngestJob, self.job_id)
            if job is None:
                return
            job.counts = tally.as_counts()
            job.errors = [{"path": e.path, "reason": e.reason} for e in tally.errors]
            if not (job.status == JobStatus.CANCELLED and status == JobStatus.RUNNING):
                job.status = status  # a cancellation made meanwhile stands until the run stops
            if status != JobStatus.RUNNING:
                job.finished_at = utcnow()


def close_orphans(kb: KnowledgeBase, *, writer_held: bool) -> list[int]:
    """``interrupt_orphans`` in a transaction of its own: what a starting server runs."""
    with kb.sessions.begin() as session:
        return interrupt_orphans(session, writer_held=writer_held)


def running_jobs(kb: KnowledgeBase, *, writer_held: bool) -> tuple[int, list[int]]:
    """How many jobs say they are running, and the ids of those nobody runs (``owner_gone``)."""
    with kb.session() as session:
        running = (
            session.execute(select(IngestJob).where(IngestJob.status == JobStatus.RUNNING)).scalars().all()
        )
        return len(running), [job.id for job in running if owner_gone(job, writer_held=writer_held)]


def record_files_done(kb: KnowledgeBase, job_id: int, files: int) -> None:
    with kb.sessions.begin() as session:
        job = session.get(IngestJob, job_id)
        if job is not None:
            job.counts = {**job.counts, "files": files}


def fail_job(kb: KnowledgeBase, job_id: int, reason: str) -> None:
    """Close an unfinished job as failed, with the reason among its errors."""
    with kb.sessions.begin() as session:
        job = session.get(IngestJob, job_id)
        if job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            job.finished_at = utcnow()
            job.status = JobStatus.FAILED
            job.errors = [*job.errors, {"path": "", "reason": reason}]
