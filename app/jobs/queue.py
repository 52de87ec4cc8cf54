"""Ingest jobs on a shared task queue (RQ on Redis), for deployments that run ``citewise worker``.

The database row stays the record of a job (status, progress, errors); the queue only carries
"run job N" to one worker at a time. RQ retries a job whose worker died (its heartbeat stops and
the next worker's maintenance pass puts the job back), and ``run_ingest_job`` makes that safe:
whole documents written before the crash are skipped by content hash, the rest are ingested.

The worker forks a work horse per job, so the parent process never loads torch or the embedder;
each job loads the embedder once in its own horse.
"""

from __future__ import annotations

import contextlib
from typing import Any

from app.settings import Settings, redact_url

RETRIES = 3  # a job whose worker died this many times in a row is failed
JOB_TIMEOUT_S = 24 * 3600  # an ingest of a large corpus is slow, not stuck
KEEP_RESULTS_S = 7 * 24 * 3600
HEARTBEAT_S = 10


class QueueUnavailableError(RuntimeError):
    """The task queue's Redis cannot be reached."""


def rq_job_id(job_id: int) -> str:
    return f"ingest-{job_id}"


class IngestQueue:
    """Cheap to construct; connects to Redis on first use."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name
        self._queue: Any = None

    def _rq(self) -> Any:
        if self._queue is None:
            from redis import Redis
            from rq import Queue

            self._queue = Queue(self.name, connection=Redis.from_url(self.url, socket_timeout=10))
        return self._queue

    def enqueue(self, job_id: int) -> None:
        from redis.exceptions import RedisError
        from rq import Retry

        try:
            self._rq().enqueue(
                "app.jobs.queue.run_queued_ingest",
                job_id,
                job_id=rq_job_id(job_id),
                retry=Retry(max=RETRIES),
                job_timeout=JOB_TIMEOUT_S,
                result_ttl=KEEP_RESULTS_S,
                failure_ttl=KEEP_RESULTS_S,
                description=f"citewise ingest job {job_id}",
            )
        except RedisError as exc:
            raise QueueUnavailableError(
                f"the task queue at {redact_url(self.url)} is unreachable: {exc}"
            ) from exc

    def submit(self, kb: Any, job_id: int) -> None:
        """Enqueue job ``job_id`` of ``kb``; if the queue cannot take it, the job row is closed as
        failed with the reason (nothing else was written) and the error raised."""
        from ingest.jobs import fail_job

        try:
            self.enqueue(job_id)
        except Exception as exc:
            fail_job(kb, job_id, str(exc))
            raise

    def discard(self, job_id: int) -> None:
        """Take a job that has not started off the queue (after it was cancelled in the database)."""
        from redis.exceptions import RedisError
        from rq.exceptions import InvalidJobOperation, NoSuchJobError
        from rq.job import Job

        # Already running (it stops by itself), finished, or the queue is down: the row decides.
        with contextlib.suppress(NoSuchJobError, InvalidJobOperation, RedisError):
            Job.fetch(rq_job_id(job_id), connection=self._rq().connection).cancel()

    def depth(self) -> int:
        """Jobs waiting for a worker; -1 when the queue cannot be reached."""
        from redis.exceptions import RedisError

        try:
            return int(self._rq().count)
        except RedisError:
            return -1

    def ping(self) -> None:
        """Raises ``redis.exceptions.RedisError`` when Redis does not answer."""
        self._rq().connection.ping()

    def reachable(self) -> bool:
        from redis.exceptions import RedisError

        try:
            self.ping()
        except RedisError:
            return False
        return True

    def worker(self, maintenance_interval_s: int = 60) -> Any:
        """An RQ worker for this queue; ``work()`` runs it until it is stopped. A job whose worker
        died is seen about a minute after its last heartbeat (RQ adds 60 s to the interval)."""
        from rq import Worker

        return Worker(
            [self._rq()],
            connection=self._rq().connection,
            maintenance_interval=maintenance_interval_s,
            job_monitoring_interval=HEARTBEAT_S,
            # An idle worker only wakes (and looks for dead workers' jobs) every worker_ttl - 15 s.
            worker_ttl=maintenance_interval_s + 15,
        )


def build_queue(settings: Settings) -> IngestQueue | None:
    return IngestQueue(settings.queue_url, settings.queue_name) if settings.queue_url else None


def run_queued_ingest(job_id: int) -> str | None:
    """What a worker runs for one job (in its forked work horse): settings from the environment."""
    from app.jobs.run import run_ingest_job, with_writer
    from app.services import build_embedder
    from app.settings import get_settings

    settings = get_settings()
    return with_writer(
        settings, build_embedder(settings), lambda kb: run_ingest_job(settings, kb, job_id, retry=True)
    )
