"""Writes from the API: ingest jobs for uploads and document deletions, one at a time.

A single worker thread takes work in order. For each piece it opens its own writable knowledge base
(waiting while another process, such as a CLI ingest, holds the writer lock), does the work, saves
and closes; readers then pick up the saved index. Jobs still queued when a process stopped are
found in the database and run when the next one starts.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.services import build_knowledge_base, build_pipeline
from app.settings import Settings
from ingest.discovery import SourceFile
from ingest.jobs import claim_job
from retriever.db.models import Collection, IngestJob, JobStatus, utcnow
from retriever.embedders.base import Embedder
from retriever.index.persistence import IndexLockedError
from retriever.knowledge_base import KnowledgeBase


@dataclass(frozen=True, slots=True)
class _Ingest:
    job_id: int
    collection: str
    paths: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[[KnowledgeBase], Any]
    future: Future[Any]


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
            with self.kb.sessions.begin() as session:
                job = session.get(IngestJob, self.job_id)
                if job is not None:
                    job.counts = {**job.counts, "files": self.files_done}

    def embedded(self, chunks: int) -> None: ...


class JobRunner:
    def __init__(
        self, settings: Settings, embedder: Embedder, reader: KnowledgeBase, lock_wait_s: float = 1.0
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.reader = reader
        self.lock_wait_s = lock_wait_s
        self._work: queue.Queue[_Ingest | _Call | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        return self._work.qsize()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._requeue_leftovers()
        self._thread = threading.Thread(target=self._loop, name="citewise-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._thread is None:
            return
        self._work.put(None)
        self._thread.join(timeout_s)
        self._thread = None

    def submit_ingest(self, job_id: int, collection: str, paths: list[Path]) -> None:
        self._work.put(_Ingest(job_id, collection, tuple(paths)))

    def call(self, fn: Callable[[KnowledgeBase], Any]) -> Future[Any]:
        """Run ``fn(writable_kb)`` on the job thread, after the work queued before it."""
        future: Future[Any] = Future()
        self._work.put(_Call(fn, future))
        return future

    def _requeue_leftovers(self) -> None:
        with self.reader.session() as session:
            rows = session.execute(
                select(IngestJob.id, Collection.name, IngestJob.sources)
                .join(Collection, Collection.id == IngestJob.collection_id)
                .where(IngestJob.status == JobStatus.QUEUED)
                .order_by(IngestJob.id)
            ).all()
        for job_id, collection, sources in rows:
            self.submit_ingest(job_id, collection, [Path(s) for s in sources])

    def _loop(self) -> None:
        while (item := self._work.get()) is not None:
            if isinstance(item, _Call):
                if item.future.set_running_or_notify_cancel():
                    try:
                        item.future.set_result(self._with_writer(item.fn))
                    except BaseException as exc:
                        item.future.set_exception(exc)
                continue
            try:
                self._with_writer(lambda kb, work=item: self._ingest(kb, work))
            except Exception as exc:  # recorded on the job; the loop goes on with the next one
                self._fail(item.job_id, str(exc))

    def _with_writer(self, fn: Callable[[KnowledgeBase], Any]) -> Any:
        kb = build_knowledge_base(self.settings, self.embedder)
        while True:
            try:
                kb.open(writable=True)
                break
            except IndexLockedError:
                time.sleep(self.lock_wait_s)  # a CLI ingest or another process is writing
        try:
            return fn(kb)
        finally:
            kb.close()

    def _ingest(self, kb: KnowledgeBase, work: _Ingest) -> None:
        if not claim_job(kb, work.job_id):
            return  # another API process took it (each one looks for left-over jobs at start)
        present = [p for p in work.paths if p.exists()]
        if not present:
            raise FileNotFoundError("the uploaded files are gone")
        pipeline = build_pipeline(self.settings, kb, collection=work.collection)
        pipeline.run(present, JobProgress(kb, work.job_id), job_id=work.job_id)

    def _fail(self, job_id: int, reason: str) -> None:
        with self.reader.sessions.begin() as session:
            job = session.get(IngestJob, job_id)
            if job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                job.finished_at = utcnow()
                job.status = JobStatus.FAILED
                job.errors = [*job.errors, {"path": "", "reason": reason}]
