"""``POST /v1/chat/completions`` in OpenAI's shape, so existing OpenAI clients can ask Citewise.

The last user message is the question and earlier user/assistant turns are the conversation;
system messages are ignored (Citewise has its own instructions). Citations travel in an extra
``citations`` field of the response (and of the last chunk when streaming), next to a
``citewise`` field holding the whole answer object of ``POST /v1/ask``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from app.answer_payload import answer_dict
from app.answering import AnswerEvent
from app.api.deps import PrincipalDep, RuntimeDep, allowed_collections
from app.api.errors import ApiError
from app.api.models_offered import check_model, offered_models
from app.api.routers.ask import answer_events, answer_once, error_payload, with_deadline
from generator.base import Message

router = APIRouter(prefix="/v1", tags=["openai"])
DEFAULT_NAME = "citewise"
QUESTION_LIMIT = 4000  # as POST /v1/ask


class TextPart(BaseModel):
    type: Literal["text"]
    text: str = Field(max_length=20_000)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: (
        Annotated[str, Field(max_length=20_000)] | Annotated[list[TextPart], Field(max_length=50)] | None
    ) = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class ChatCompletionBody(BaseModel):
    """OpenAI's request; sampling fields are accepted and ignored (answers are greedy)."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(default=DEFAULT_NAME, max_length=1000)
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    collections: list[str] = Field(default_factory=list, max_length=50)  # Citewise's extension
    k: int | None = Field(default=None, ge=1, le=50)


def _split(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise ApiError(422, "messages: the last user/assistant message must be a non-empty user message")
    if len(turns[-1].text()) > QUESTION_LIMIT:
        raise ApiError(422, f"messages: the question is longer than {QUESTION_LIMIT} characters")
    history = [Message(m.role, m.text()) for m in turns[:-1]]  # type: ignore[arg-type]
    return turns[-1].text(), history


def _completion(completion_id: str, model: str, answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer["answer"]},
                "finish_reason": "stop",
            }
        ],
        "citations": answer["citations"],
        "citewise": answer,
    }


def _chunk(completion_id: str, model: str, delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


@router.get("/models")
async def models(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """The models a client may name (``citewise`` = the server's default)."""
    names = [DEFAULT_NAME, *offered_models(runtime.settings)]
    return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "citewise"} for n in names]}


@router.post("/chat/completions")
async def chat_completions(
    body: ChatCompletionBody, runtime: RuntimeDep, principal: PrincipalDep, request: Request
) -> Any:
    question, history = _split(body.messages)
    allowed_collections(principal, body.collections)  # a named collection outside the scope: 403 now
    model = None if body.model == DEFAULT_NAME else body.model
    check_model(runtime.settings, model)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

    def produce() -> Iterator[AnswerEvent]:
        return answer_events(
            runtime,
            question,
            history,
            model=model,
            principal=principal,
            collections=body.collections,
            k=body.k,
            mode=None,
        )

    timeout = runtime.settings.request_timeout_s
    if not body.stream:
        return _completion(completion_id, body.model, await answer_once(runtime, produce, request.receive))

    events = runtime.generation_pool.stream(produce)

    async def chunks() -> AsyncIterator[str]:
        yield _chunk(completion_id, body.model, {"role": "assistant", "content": ""}, None)
        try:
            async for event in with_deadline(events, timeout):
                if event.kind == "token":
                    yield _chunk(completion_id, body.model, {"content": event.text}, None)
                    continue
                answer = answer_dict(event.answer)
                runtime.metrics.observe_timings(answer["timings"])
                yield _chunk(
                    completion_id, body.model, {}, "stop", citations=answer["citations"], citewise=answer
                )
        except Exception as exc:
            yield f"data: {json.dumps({'error': error_payload(exc)})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
