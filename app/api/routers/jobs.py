"""Ingest jobs: progress and per-file errors."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from app.api.deps import PrincipalDep, RuntimeDep
from app.api.errors import ApiError
from app.api.queries import job_body
from app.api.schemas import Id, JobOut

router = APIRouter(prefix="/v1/jobs", tags=["documents"])


@router.get("/{job_id}", response_model=JobOut)
async def job(job_id: Id, runtime: RuntimeDep, principal: PrincipalDep) -> JobOut:
    def read() -> dict | None:
        with runtime.kb.session() as session:
            return job_body(session, principal.collections, job_id)

    found = await asyncio.to_thread(read)
    if found is None:
        raise ApiError(404, f"no job {job_id}")
    return JobOut.model_validate(found)
