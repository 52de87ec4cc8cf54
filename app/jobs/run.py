"""Running a queued ingest job: the same steps in an API process's writer thread and in a queue worker.

A job row (``ingest.jobs.queue_job``) names the collection and the files; whoever runs it opens
its own writable knowledge base (waiting while another process holds the writer lock), claims the
row so no one else runs it, ingests with progress written to the row, and stops early if the job
is cancelled. A run killed half-way leaves only whole documents behind; running the job again
skips them by content hash and finishes the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from app.services import build_knowledge_base, build_pipeline
from app.settings import Settings
from ingest.discovery import SourceFile
from ingest.jobs import CancelWatch, claim_job, fail_job, record_files_done
from retriever import catalog
from retriever.embedders.base import Embedder
from retriever.index.persistence import IndexLockedError
from retriever.knowledge_base import KnowledgeBase

T = TypeVar("T")


class JobProgress:
    """Writes the files-done count to the job row, at most twice a second."""

    def __init__(self, kb: KnowledgeBase, job_id: int) -> None:
        self.kb, self.job_id = kb, job_id
        self.files_done = 0
        self._written_at = 0.0

    def start(self, total_files: int) -> None: ...

    def file_done(self, source: SourceFile, outcome: str, chunks: int) -> None:
        self.files_done += 1
        if time.monotonic() - self._written_at >= 0.5:
            self._written_at = time.monotonic()
            record_files_done(self.kb, self.job_id, self.files_done)

    def embedded(self, chunks: int) -> None: ...


def with_writer(
    settings: Settings,
    embedder: Embedder | None,
    fn: Callable[[KnowledgeBase], T],
    lock_wait_s: float = 1.0,
    on_wait: Callable[[], None] | None = None,
) -> T:
    """``fn(kb)`` on a writable knowledge base of its own, opened once the writer lock is free;
    ``on_wait`` is called once if it has to wait."""
    kb = build_knowledge_base(settings, embedder)
    while True:
        try:
            kb.open(writable=True)
            break
        except IndexLockedError:
            if on_wait is not None:
                on_wait()
                on_wait = None
            time.sleep(lock_wait_s)  # a CLI ingest or another process is writing
    try:
        return fn(kb)
    finally:
        kb.close()


def run_ingest_job(settings: Settings, kb: KnowledgeBase, job_id: int, *, retry: bool = False) -> str | None:
    """Run job ``job_id`` on the writable ``kb``; its final status, or None if it was not ours to run
    (taken by another process, cancelled, or gone). ``retry``: see ``claim_job``."""
    job = catalog.get_job(kb, job_id)
    if job is None or job.collection is None or not claim_job(kb, job_id, retry=retry):
        return None
    sources, collection = job.sources, job.collection
    try:
        present = [Path(s) for s in sources if Path(s).exists()]
        if not present:
            raise FileNotFoundError("the files to ingest are gone (" + ", ".join(sources[:3]) + ")")
        pipeline = build_pipeline(settings, kb, collection=collection)
        report = pipeline.run(
            present, JobProgress(kb, job_id), job_id=job_id, cancelled=CancelWatch(kb, job_id)
        )
    except Exception as exc:
        fail_job(kb, job_id, str(exc))
        raise
    return report.status
