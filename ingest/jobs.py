"""Recording an ingest as a job row: counts, per-file errors, final status."""

from __future__ import annotations

import os
import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def queue_job(kb: KnowledgeBase, collection_id: int, sources: list[str]) -> int:
    """A job row for work that starts later, so a caller gets its id at once."""
    with kb.sessions.begin() as session:
        job = IngestJob(collection_id=collection_id, sources=sources, status=JobStatus.QUEUED)
        session.add(job)
        session.flush()
        return job.id


def claim_job(kb: KnowledgeBase, job_id: int) -> bool:
    """Take a queued job for this process; False if another process took it (or it is gone)."""
    with kb.sessions.begin() as session:
        taken = session.execute(
            update(IngestJob)
            .where(IngestJob.id == job_id, IngestJob.status == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, host=socket.gethostname(), pid=os.getpid())
        )
        return taken.rowcount == 1


class JobRecorder:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.job_id: int | None = None

    def start(self, collection_id: int, sources: list[str], job_id: int | None = None) -> int:
        """Record a running job; ``job_id`` adopts a row queued earlier (an upload through the API)."""
        host = socket.gethostname()
        with self.kb.sessions.begin() as session:
            for stale in session.execute(
                select(IngestJob).where(IngestJob.status == JobStatus.RUNNING, IngestJob.host == host)
            ).scalars():
                if not _pid_alive(stale.pid):
                    stale.status = JobStatus.INTERRUPTED
                    stale.finished_at = stale.updated_at
            job = session.get(IngestJob, job_id) if job_id is not None else None
            if job is None:
                job = IngestJob(collection_id=collection_id, sources=sources)
                session.add(job)
            job.status, job.host, job.pid = JobStatus.RUNNING, host, os.getpid()
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
            job.status = status
            if status != JobStatus.RUNNING:
                job.finished_at = utcnow()
