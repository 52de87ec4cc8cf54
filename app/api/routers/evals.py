"""Saved evaluation runs (``citewise eval``) of a collection: the list, and one run with its questions.

Read-only, scoped like the other read routes: a key sees only its collections' runs. A saved
file the models cannot read is left out of the list (and a 404 by id) rather than a 500.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import ValidationError

from app.api.deps import PrincipalDep, RuntimeDep, allowed_collections
from app.api.errors import ApiError
from app.api.eval_schemas import EvalQuestionOut, EvalRunDetail, EvalRunList, EvalRunOut
from app.api.runtime import Runtime
from app.api_keys import Principal
from app.evaluation.history import RunNotFoundError, SavedRun, list_runs, read_run

router = APIRouter(prefix="/v1/evals", tags=["evaluation"])
_RUN_KEYS: tuple[str, ...] = ("variant", "model", "settings", "question_file", "tag", "limit", "partial")
_RUN_KEYS += ("answered", "planned", "seconds")
_SUMMARY_KEYS = ("questions", "answerable", "unanswerable", "metrics", "retrieval_k", "failures")
CollectionParam = Annotated[str, Query(min_length=1, max_length=200, description="The collection.")]


@router.get("", response_model=EvalRunList)
async def eval_runs(collection: CollectionParam, runtime: RuntimeDep, principal: PrincipalDep) -> EvalRunList:
    """The saved runs of a collection, newest first, each with its metrics."""
    await _check_collection(runtime, principal, collection)
    saved = await asyncio.to_thread(list_runs, runtime.settings.data_dir, collection)
    runs = [run for run in (_run_out(item, collection) for item in saved) if run is not None]
    return EvalRunList(collection=collection, runs=runs)


@router.get("/{collection}/{run_id}", response_model=EvalRunDetail)
async def eval_run(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    collection: Annotated[str, Path(min_length=1, max_length=200)],
    run_id: Annotated[str, Path(min_length=1, max_length=200)],
) -> EvalRunDetail:
    """One saved run with a row per question (question, answer, expected, sources, failure class)."""
    await _check_collection(runtime, principal, collection)
    try:
        saved = await asyncio.to_thread(read_run, runtime.settings.data_dir, collection, run_id)
    except RunNotFoundError as exc:
        raise ApiError(404, str(exc)) from exc
    run = _run_out(saved, collection, detail=True)
    if not isinstance(run, EvalRunDetail):
        raise ApiError(404, f"no evaluation run {run_id!r} in collection {collection!r}")
    return run


async def _check_collection(runtime: Runtime, principal: Principal, collection: str) -> None:
    """403 outside the key's scope, then 404 (``no collection named …``) when it does not exist."""
    allowed_collections(principal, [collection])
    await asyncio.to_thread(runtime.kb.collection, collection)


def _run_out(saved: SavedRun, collection: str, detail: bool = False) -> EvalRunOut | None:
    """The response model of a saved run; None when its fields do not fit (a foreign file)."""
    payload = saved.payload
    summary = payload.get("summary") or {}
    fields: dict[str, Any] = {key: payload[key] for key in _RUN_KEYS if key in payload}
    fields |= {key: summary[key] for key in _SUMMARY_KEYS if key in summary}
    fields |= {"id": saved.id, "time": saved.time, "collection": collection}
    try:
        if detail:
            fields["results"] = [row for row in map(_row, saved.results) if row is not None]
            return EvalRunDetail.model_validate(fields)
        return EvalRunOut.model_validate(fields)
    except ValidationError:
        return None


def _row(row: dict[str, Any]) -> EvalQuestionOut | None:
    try:
        return EvalQuestionOut.model_validate(row)
    except ValidationError:
        return None
