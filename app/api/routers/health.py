"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from app.api.deps import RuntimeDep
from app.api.runtime import Runtime
from retriever import catalog

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and its event loop answers."""
    return {"status": "ok"}


def readiness(runtime: Runtime) -> dict[str, Any]:
    checks: dict[str, Any] = {"models": runtime.warm_state(), "answer_model": runtime.answer_model()}
    try:
        runtime.refresh(0.0)
        stored = catalog.stored_state(runtime.kb)
        generation, chunks = stored.generation, stored.vectors
        checks["database"] = "ok"
        vectors, served = len(runtime.kb.index), runtime.kb.generation
        if served == generation:
            consistent = vectors == chunks
            checks["index"] = "ok" if consistent else f"{vectors} vectors for {chunks} chunks"
        else:  # a writer has committed and not saved yet: the reader serves the last saved index
            consistent = True
            checks["index"] = f"catching up (serving generation {served}, database at {generation})"
        checks["index_vectors"] = vectors
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}: {exc}"
        consistent = False
    if runtime.writer.task_queue is not None:  # uploads need it; searches and answers do not
        checks["task_queue"] = "ok" if runtime.writer.task_queue.reachable() else "unreachable"
    checks["ready"] = bool(consistent and checks["database"] == "ok" and checks["models"] == "ready")
    return checks


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database answers, the index agrees with it and the models are loaded."""
    checks = await asyncio.to_thread(readiness, runtime)
    return JSONResponse(checks, status_code=200 if checks["ready"] else 503)


@router.get("/metrics")
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
