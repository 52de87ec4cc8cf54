"""``POST /v1/ask``: a cited answer, as one JSON object or as Server-Sent Events.

The model runs on the generation pool, never on the event loop; a full queue answers 429 before
anything is streamed. Stream events: ``token`` (text pieces), ``citations`` (the checked
citations and sources), ``done`` (the whole answer, as the JSON response would carry it) and
``error`` (a problem body, when something fails after the stream started).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.answering import AnswerEvent
from app.api.answer_stream import (
    answer_events,
    answer_once,
    answer_payload,
    error_payload,
    sse,
    with_deadline,
)
from app.api.deps import PrincipalDep, RuntimeDep, allowed_collections
from app.api.errors import ApiError
from app.api.models_offered import check_model
from app.api.schemas import AnswerOut, AskBody
from generator.base import Message

router = APIRouter(prefix="/v1", tags=["answers"])


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
                assert event.answer is not None  # every event but a token is the final answer
                answer = answer_payload(event.answer)
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
