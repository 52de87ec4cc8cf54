"""Ingest jobs: progress and per-file errors."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from app.api.deps import PrincipalDep, RuntimeDep
from app.api.errors import ApiError
from app.api.schemas import Id, JobOut
from ingest.jobs import cancel_job
from retriever import catalog
from retriever.catalog import JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["documents"])


@router.get("/{job_id}", response_model=JobOut)
async def job(job_id: Id, runtime: RuntimeDep, principal: PrincipalDep) -> JobOut:
    found = await asyncio.to_thread(catalog.get_job, runtime.kb, job_id, principal.collections)
    if found is None:
        raise ApiError(404, f"no job {job_id}")
    return JobOut.model_validate(found, from_attributes=True)


@router.post("/{job_id}/cancel", response_model=JobOut)
async def cancel(job_id: Id, runtime: RuntimeDep, principal: PrincipalDep) -> JobOut:
    """Cancel a queued job (it never starts) or a running one (it stops after its current batch,
    keeping the documents it finished). Cancelling a finished job is a 409."""

    def cancel_and_read() -> catalog.JobRow | None:
        if catalog.get_job(runtime.kb, job_id, principal.collections) is None:
            return None
        status = cancel_job(runtime.kb, job_id)
        if status == JobStatus.CANCELLED and runtime.writer.task_queue is not None:
            runtime.writer.task_queue.discard(job_id)
        return catalog.get_job(runtime.kb, job_id, principal.collections)

    found = await asyncio.to_thread(cancel_and_read)
    if found is None:
        raise ApiError(404, f"no job {job_id}")
    if found.status != JobStatus.CANCELLED:
        raise ApiError(409, f"job {job_id} is already {found.status}")
    return JobOut.model_validate(found, from_attributes=True)
