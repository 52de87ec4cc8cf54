"""``POST /v1/chat/completions`` in OpenAI's shape, so existing OpenAI clients can ask Citewise.

The last user message is the question and earlier user/assistant turns are the conversation;
system messages are ignored (Citewise has its own instructions). Citations travel in an extra
``citations`` field of the response (and of the last chunk when streaming), next to a
``citewise`` field holding the whole answer object of ``POST /v1/ask``; clients that show only
text get them written after the answer with ``citewise_sources`` or the ``citewise-sources``
model. Sampling parameters, stops and ``max_tokens`` apply within the pipeline's own limits
(``CITEWISE_ANSWER_TOKENS`` at most); what cannot be honoured (``n`` > 1, a required tool call)
is refused with a 400, in OpenAI's error shape like every error here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from app.answer_payload import answer_dict
from app.answering import AnswerEvent
from app.api.answer_stream import answer_events, answer_once, with_deadline
from app.api.deps import PrincipalDep, RuntimeDep, allowed_collections
from app.api.errors import ApiError, stream_failure
from app.api.models_offered import offered_models
from app.api.openai_compat import (
    DEFAULT_NAME,
    SOURCES_NAME,
    chunk,
    completion,
    error_event,
    refusal,
    sources_text,
    usage,
)
from app.settings import Settings
from generator.base import Message
from generator.structured import ANSWER_OBJECT, SchemaError, schema_grammar

router = APIRouter(prefix="/v1", tags=["openai"])
QUESTION_LIMIT = 4000  # as POST /v1/ask
SCHEMA_LIMIT = 20_000  # characters of a response_format JSON schema


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


StopText = Annotated[str, Field(max_length=200)]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: str = Field(default="answer", max_length=64)
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    def schema_text(self) -> str | None:
        """The JSON schema the answer must match, as JSON text; None for plain text."""
        if self.type == "text":
            return None
        if self.type == "json_object":
            return ANSWER_OBJECT
        if self.json_schema is None:
            raise ApiError(422, "response_format: json_schema is required", param="response_format")
        text = json.dumps(self.json_schema.json_schema or json.loads(ANSWER_OBJECT))
        if len(text) > SCHEMA_LIMIT:
            raise ApiError(422, f"response_format: the schema is longer than {SCHEMA_LIMIT} characters")
        try:
            schema_grammar(text)
        except SchemaError as exc:
            raise ApiError(400, f"response_format: {exc}", param="response_format") from exc
        return text


class ChatCompletionBody(BaseModel):
    """OpenAI's request, with Citewise's own ``collections``, ``k`` and ``citewise_sources``."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(default=DEFAULT_NAME, max_length=1000)
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: StopText | Annotated[list[StopText], Field(max_length=4)] | None = None
    n: int | None = Field(default=None, ge=1)
    tools: list[dict[str, Any]] | None = Field(default=None, max_length=128)
    tool_choice: str | dict[str, Any] | None = None
    collections: list[str] = Field(default_factory=list, max_length=50)  # Citewise's extension
    k: int | None = Field(default=None, ge=1, le=50)
    response_format: ResponseFormat | None = None
    citewise_sources: bool = False  # the cited sources written after the answer (Citewise's extension)

    def refuse_what_cannot_be_honoured(self) -> None:
        if self.n is not None and self.n > 1:
            raise ApiError(400, "n: Citewise writes one answer per request; send n=1", param="n")
        choice = self.tool_choice
        if self.tools and (choice == "required" or isinstance(choice, dict)):
            raise ApiError(
                400,
                "tool_choice: Citewise answers from documents and never calls tools; "
                'leave tool_choice out or set it to "auto" or "none"',
                param="tool_choice",
            )

    def overrides(self, settings: Settings) -> dict[str, Any]:
        """The AnswerOptions this request sets: sampling, stops, a shorter answer."""
        out: dict[str, Any] = {}
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.top_p is not None:
            out["top_p"] = self.top_p
        if self.seed is not None:
            out["seed"] = self.seed
        if self.stop:
            out["stop"] = (self.stop,) if isinstance(self.stop, str) else tuple(s for s in self.stop if s)
        limit = self.max_completion_tokens or self.max_tokens
        if limit is not None:
            out["answer_tokens"] = min(limit, settings.answer_tokens)
        schema = self.response_format.schema_text() if self.response_format else None
        if schema is not None:
            out["json_schema"] = schema
        return out


def _split(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise ApiError(422, "messages: the last user/assistant message must be a non-empty user message")
    if len(turns[-1].text()) > QUESTION_LIMIT:
        raise ApiError(422, f"messages: the question is longer than {QUESTION_LIMIT} characters")
    history = [Message(m.role, m.text()) for m in turns[:-1]]  # type: ignore[arg-type]
    return turns[-1].text(), history


def check_chat_model(settings: Settings, name: str) -> str | None:
    """The answer model to use (None: the configured one), or a 400 that lists every name."""
    if name in (DEFAULT_NAME, SOURCES_NAME):
        return None
    names = offered_models(settings)
    if name not in names:
        raise ApiError(
            400,
            f"model {name!r} is not offered by this server; choose one of: "
            + ", ".join([DEFAULT_NAME, SOURCES_NAME, *names]),
            param="model",
            code="model_not_found",
        )
    return name


@router.get("/models")
async def models(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """The models a client may name (``citewise`` = the server's default)."""
    names = [DEFAULT_NAME, SOURCES_NAME, *offered_models(runtime.settings)]
    return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "citewise"} for n in names]}


@router.post("/chat/completions")
async def chat_completions(
    body: ChatCompletionBody, runtime: RuntimeDep, principal: PrincipalDep, request: Request
) -> Any:
    question, history = _split(body.messages)
    body.refuse_what_cannot_be_honoured()
    allowed_collections(principal, body.collections)  # a named collection outside the scope: 403 now
    model = check_chat_model(runtime.settings, body.model)
    with_sources = body.citewise_sources or body.model == SOURCES_NAME
    overrides = body.overrides(runtime.settings)
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
            overrides=overrides,
        )

    if not body.stream:
        answer = await answer_once(runtime, produce, request.receive)
        if "json_schema" in overrides:  # JSON stays JSON: an abstention is a refusal, as OpenAI's
            finish, refused = answer["finish_reason"], refusal(answer)
            return completion(completion_id, body.model, answer, answer["answer"], finish, refused)
        content = answer["answer"] + (sources_text(answer) if with_sources else "")
        return completion(completion_id, body.model, answer, content, answer["finish_reason"])

    events = runtime.generation_pool.stream(produce)  # admitted now: 429 before the stream starts
    include_usage = body.stream_options is not None and body.stream_options.include_usage

    async def chunks() -> AsyncIterator[str]:
        yield chunk(completion_id, body.model, {"role": "assistant", "content": ""})
        streamed: list[str] = []
        try:
            async for event in with_deadline(events, runtime.settings.request_timeout_s):
                if event.kind == "token":
                    streamed.append(event.text)
                    yield chunk(completion_id, body.model, {"content": event.text})
                    continue
                assert event.answer is not None  # every event but a token is the final answer
                answer = answer_dict(event.answer)
                runtime.metrics.observe_timings(answer["timings"])
                if with_sources and answer["citations"]:
                    text = sources_text(answer, streamed="".join(streamed))
                    yield chunk(completion_id, body.model, {"content": text})
                if "json_schema" in overrides and answer["abstained"]:
                    yield chunk(completion_id, body.model, {"refusal": refusal(answer)})
                finish = answer["finish_reason"]
                yield chunk(
                    completion_id, body.model, {}, finish, citations=answer["citations"], citewise=answer
                )
                if include_usage:
                    yield chunk(completion_id, body.model, None, usage=usage(answer))
        except Exception as exc:  # the status line is gone: report inside the stream
            yield error_event(*stream_failure(exc))
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
