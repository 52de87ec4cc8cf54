"""``citewise worker`` (runs queued ingest jobs) and ``citewise jobs`` (show, cancel)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from app.cli import errors
from app.cli.common import console, current_settings, err_console
from app.jobs.queue import IngestQueue, QueueUnavailableError, build_queue
from app.services import build_knowledge_base
from app.settings import Settings, redact_url
from ingest.jobs import cancel_job, queue_job
from retriever import catalog
from retriever.catalog import JobStatus

FINISHED = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.INTERRUPTED, JobStatus.CANCELLED}


def require_queue(settings: Settings) -> IngestQueue:
    task_queue = build_queue(settings)
    if task_queue is None:
        raise errors.UsageError(
            "no task queue is configured: set CITEWISE_QUEUE_URL (for example redis://127.0.0.1:6379/0)"
        )
    if not task_queue.reachable():
        raise errors.UsageError(
            f"the task queue at {redact_url(task_queue.url)} is unreachable (is Redis running?)"
        )
    return task_queue


def enqueue_ingest(settings: Settings, paths: list[Path], collection: str | None) -> int:
    """A job row plus its queue entry; a worker on any machine that sees the same paths runs it."""
    task_queue = require_queue(settings)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise errors.UsageError(f"no such file or folder: {', '.join(missing)}")
    sources = [str(p.expanduser().resolve()) for p in paths]
    with build_knowledge_base(settings) as kb:
        kb.open()
        found = kb.collection(collection or settings.default_collection, create=True)
        job_id = queue_job(kb, found.id, sources)
        try:
            task_queue.submit(kb, job_id)
        except QueueUnavailableError as exc:
            raise errors.UsageError(str(exc)) from exc
    return job_id


def worker(
    burst: Annotated[bool, typer.Option("--burst", help="Stop once the queue is empty.")] = False,
    maintenance_interval: Annotated[
        int,
        typer.Option(min=1, help="Seconds between checks for jobs whose worker died (they are run again)."),
    ] = 60,
) -> None:
    """Run queued ingest jobs (uploads, `ingest --async`) from CITEWISE_QUEUE_URL until stopped."""
    from app.startup import dependencies, wait_for

    settings = current_settings()
    if build_queue(settings) is not None:  # without one, require_queue says what to set
        wait_for(dependencies(settings), settings.startup_wait_s, err_console.print)
    task_queue = require_queue(settings)
    console.print(f"Citewise worker on {redact_url(task_queue.url)}, queue {task_queue.name!r}")
    # RQ installs its own Ctrl-C/SIGTERM handlers (finish the job, then stop); put ours back after.
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        task_queue.worker(maintenance_interval).work(burst=burst, with_scheduler=False)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


jobs = typer.Typer(help="Ingest jobs: follow and cancel them.", no_args_is_help=True)


@jobs.command("show")
def show(
    job_id: Annotated[int, typer.Argument(help="The job's id.")],
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it finishes.")] = False,
) -> None:
    """A job's status and counts; with --wait, until it finishes (exit 1 unless it completed)."""
    with build_knowledge_base(current_settings()) as kb:
        kb.open()
        while True:
            job = catalog.get_job(kb, job_id)
            if job is None:
                raise errors.NotFoundError(f"no job {job_id}")
            counts = job.counts
            line = (
                f"job {job.id}: {job.status}, {counts.get('files', 0)} of "
                f"{counts.get('files_total', '?')} files, {counts.get('chunks_added', 0)} chunks added"
            )
            if not wait or job.status in FINISHED:
                break
            console.print(line)
            time.sleep(1.0)
    console.print(line)
    for error in job.errors:
        console.print(f"  {error['path'] or '(job)'}: {error['reason']}", soft_wrap=True, highlight=False)
    if wait and job.status != JobStatus.COMPLETED:
        raise typer.Exit(1)


@jobs.command("cancel")
def cancel(job_id: Annotated[int, typer.Argument(help="The job's id.")]) -> None:
    """Cancel a queued job, or stop a running one after its current batch (finished documents stay)."""
    settings = current_settings()
    with build_knowledge_base(settings) as kb:
        kb.open()
        status = cancel_job(kb, job_id)
    if status is None:
        raise errors.NotFoundError(f"no job {job_id}")
    if status != JobStatus.CANCELLED:
        console.print(f"Job {job_id} is already {status}; nothing to cancel.")
        raise typer.Exit(1)
    task_queue = build_queue(settings)
    if task_queue is not None:
        task_queue.discard(job_id)
    console.print(f"Cancelled job {job_id}.")
