"""The answer as the API serves it: the pipeline's events on a pool thread, a time limit over
them, the whole answer for a JSON response, and Server-Sent Events framing for a stream.

Routers (``/v1/ask``, ``/v1/chat/completions``) only translate HTTP to these and back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar

from starlette.types import Receive

from app.answer_payload import answer_dict
from app.answering import Answer, AnswerEvent
from app.api.deps import existing_scope
from app.api.disconnect import unless_client_leaves
from app.api.errors import problem_body, stream_failure
from app.api.pool import Relay
from app.api.runtime import Runtime
from app.api.schemas import AnswerOut
from app.api_keys import Principal
from generator.base import Message
from retriever.search import SearchFilters, SearchMode

T = TypeVar("T")


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


async def with_deadline(events: Relay[T], seconds: float) -> AsyncIterator[T]:
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

    async def last() -> Answer:
        final: AnswerEvent | None = None
        async for event in with_deadline(events, runtime.settings.request_timeout_s):
            final = event
        assert final is not None and final.answer is not None
        return final.answer

    try:
        answer = answer_dict(await unless_client_leaves(receive, last()))
    finally:
        await events.aclose()  # whatever happened, the model stops (if it has not already)
    runtime.metrics.observe_timings(answer["timings"])
    return answer


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def error_payload(exc: BaseException) -> dict[str, Any]:
    """A problem body for a failure after the stream started (the status line is already sent)."""
    return problem_body(*stream_failure(exc))


def answer_payload(answer: Answer) -> dict[str, Any]:
    """The answer as JSON, checked against the response model: the JSON response and the stream's
    ``done`` event carry the same validated shape."""
    return AnswerOut.model_validate(answer_dict(answer)).model_dump(mode="json")
