"""Writes from the API: ingest jobs for uploads and document deletions, one at a time.

A single worker thread takes work in order, each piece on a writable knowledge base of its own
(``app.jobs.run``); readers then pick up the saved index. With a task queue configured
(``queue_url``), uploads go to the queue instead and ``citewise worker`` processes run them; the
thread still does deletions. Without one, jobs still queued when a process stopped are found in
the database and run when the next one starts; jobs a dead process left running are marked
interrupted at start-up.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from app.jobs.queue import IngestQueue
from app.jobs.run import run_ingest_job, with_writer
from app.settings import Settings
from ingest.jobs import close_orphans, fail_job
from retriever import catalog
from retriever.embedders.base import Embedder
from retriever.index.persistence import IndexLockedError
from retriever.knowledge_base import KnowledgeBase


@dataclass(frozen=True, slots=True)
class _Ingest:
    job_id: int


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[[KnowledgeBase], Any]
    future: Future[Any]


class Writer:
    """The API process's one writer: a thread that runs uploads' ingest jobs and deletions in order,
    each on a writable knowledge base of its own (readers follow the index it saves)."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        reader: KnowledgeBase,
        lock_wait_s: float = 1.0,
        task_queue: IngestQueue | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.reader = reader
        self.lock_wait_s = lock_wait_s
        self.task_queue = task_queue
        self._work: queue.Queue[_Ingest | _Call | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        return self._work.qsize()

    def start(self) -> None:
        if self._thread is not None:
            return
        self.close_orphans()
        if self.task_queue is None:
            self._requeue_leftovers()
        self._thread = threading.Thread(target=self._loop, name="citewise-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._thread is None:
            return
        self._work.put(None)
        self._thread.join(timeout_s)
        self._thread = None

    def submit_ingest(self, job_id: int) -> None:
        """Run a queued job row: on the task queue if there is one, else on this process's thread.
        Raises ``QueueUnavailableError`` (and fails the job) when the task queue cannot take it."""
        if self.task_queue is None:
            self._work.put(_Ingest(job_id))
        else:
            self.task_queue.submit(self.reader, job_id)

    def call(self, fn: Callable[[KnowledgeBase], Any]) -> Future[Any]:
        """Run ``fn(writable_kb)`` on the writer thread, after the work queued before it."""
        future: Future[Any] = Future()
        self._work.put(_Call(fn, future))
        return future

    def close_orphans(self) -> list[int]:
        """Mark the jobs a dead process left ``running`` as interrupted, so clients polling them
        see an end. With the writer lock free, nobody is running any job; while another process
        writes, only this machine's jobs whose process is gone can be told apart. Queued jobs are
        left alone: this process runs them (below), or a task-queue worker does."""
        try:
            with self.reader.store.writer_lock():
                return close_orphans(self.reader, writer_held=True)
        except IndexLockedError:
            return close_orphans(self.reader, writer_held=False)

    def _requeue_leftovers(self) -> None:
        for job_id in catalog.job_ids(self.reader, catalog.JobStatus.QUEUED):
            self.submit_ingest(job_id)

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
                self._with_writer(functools.partial(run_ingest_job, self.settings, job_id=item.job_id))
            except Exception as exc:  # recorded on the job; the loop goes on with the next one
                fail_job(self.reader, item.job_id, str(exc))

    def _with_writer(self, fn: Callable[[KnowledgeBase], Any]) -> Any:
        return with_writer(self.settings, self.embedder, fn, self.lock_wait_s)
