"""``POST /v1/ask``: a cited answer, as one JSON object or as Server-Sent Events.

The model runs on the generation pool, never on the event loop; a full queue answers 429 before
anything is streamed. Stream events: ``token`` (text pieces), ``citations`` (the checked
citations and sources), ``done`` (the whole answer, as the JSON response would carry it) and
``error`` (a problem body, when something fails after the stream started).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive

from app.answer_payload import answer_dict
from app.answering import AnswerEvent
from app.api.deps import PrincipalDep, RuntimeDep, allowed_collections, existing_scope
from app.api.disconnect import unless_client_leaves
from app.api.errors import ApiError, problem_body, stream_failure
from app.api.models_offered import check_model
from app.api.runtime import Runtime
from app.api.schemas import AnswerOut, AskBody
from app.api_keys import Principal
from generator.base import Message
from retriever.search import SearchFilters, SearchMode

router = APIRouter(prefix="/v1", tags=["answers"])


def answer_events(
    runtime: Runtime,
    question: str,
    history: list[Message],
    *,
    model: str | None,
    principal: Principal,
    collections: list[str],
    k: int | None,
    mode: str | None,
    overrides: Mapping[str, Any] | None = None,
) -> Iterator[AnswerEvent]:
    """The answer pipeline's events; runs on a pool thread (it loads the model on first use)."""
    runtime.refresh()
    scope = existing_scope(runtime.kb, principal, collections)
    generator = runtime.generator(model)
    pipeline = runtime.answer_pipeline(
        generator,
        k=k,
        mode=SearchMode(mode) if mode else None,
        filters=SearchFilters(collections=scope),
        overrides=overrides,
    )
    with runtime.answer_lock(generator):
        yield from pipeline.stream(question, history)


async def with_deadline(events: AsyncIterator[Any], seconds: float) -> AsyncIterator[Any]:
    """Items of ``events`` until ``seconds`` have passed in all, then ``TimeoutError``."""
    deadline = time.monotonic() + seconds
    iterator = aiter(events)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the answer took longer than {seconds:g} s")
            try:
                yield await asyncio.wait_for(anext(iterator), left)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise TimeoutError(f"the answer took longer than {seconds:g} s") from None
    finally:
        await iterator.aclose()


async def answer_once(
    runtime: Runtime, produce: Callable[[], Iterator[AnswerEvent]], receive: Receive
) -> dict[str, Any]:
    """The whole answer as its JSON dict, computed on the generation pool within the time limit.

    It runs as a stream nobody sees, so that giving up (the time limit, or ``ClientGone`` when
    the client disconnects first) stops the model at its next token and frees the pool slot."""
    events = runtime.generation_pool.stream(produce)  # admitted now: 429 if the queue is full

    async def last() -> AnswerEvent:
        final: AnswerEvent | None = None
        async for event in with_deadline(events, runtime.settings.request_timeout_s):
            final = event
        assert final is not None and final.answer is not None
        return final

    try:
        answer = answer_dict((await unless_client_leaves(receive, last())).answer)
    finally:
        await events.aclose()  # whatever happened, the model stops (if it has not already)
    runtime.metrics.observe_timings(answer["timings"])
    return answer


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def error_payload(exc: BaseException) -> dict[str, Any]:
    """A problem body for a failure after the stream started (the status line is already sent)."""
    return problem_body(*stream_failure(exc))


@router.post(
    "/ask",
    response_model=AnswerOut,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream=true"}},
)
async def ask(body: AskBody, runtime: RuntimeDep, principal: PrincipalDep, request: Request) -> Any:
    if not body.question.strip():
        raise ApiError(422, "question: the question is empty")
    allowed_collections(principal, body.collections)  # a named collection outside the scope: 403 now
    check_model(runtime.settings, body.model)
    history = [Message(turn.role, turn.content) for turn in body.history]

    def produce() -> Iterator[AnswerEvent]:
        return answer_events(
            runtime,
            body.question,
            history,
            model=body.model,
            principal=principal,
            collections=body.collections,
            k=body.k,
            mode=body.mode,
        )

    timeout = runtime.settings.request_timeout_s
    if not body.stream:
        return await answer_once(runtime, produce, request.receive)

    events = runtime.generation_pool.stream(produce)  # admitted now: 429 before the stream starts

    async def body_stream() -> AsyncIterator[str]:
        try:
            async for event in with_deadline(events, timeout):
                if event.kind == "token":
                    yield sse("token", {"text": event.text})
                    continue
                answer = answer_dict(event.answer)
                runtime.metrics.observe_timings(answer["timings"])
                yield sse(
                    "citations",
                    {k: answer[k] for k in ("abstained", "abstain_reason", "citations", "sources")},
                )
                yield sse("done", answer)
        except Exception as exc:  # the status line is gone: report inside the stream
            yield sse("error", error_payload(exc))

    return StreamingResponse(
        body_stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
