"""OpenAI's wire shapes for the OpenAI-compatible routes: completions, stream chunks, usage,
errors, and the sources written into the text for clients that show nothing else.

Clients (the ``openai`` SDK, LangChain, litellm, simonw's ``llm``) read errors only in OpenAI's
shape, ``{"error": {"message", "type", "param", "code"}}``: given a problem+json body they show
"Error code: 400" and no reason. So these routes answer in that shape, before and after a stream
has started, and Citewise's own routes keep problem+json.
"""

from __future__ import annotations

import json
import time
from pathlib import PurePath
from typing import Any

OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/models"})
DEFAULT_NAME = "citewise"  # the server's configured model
SOURCES_NAME = "citewise-sources"  # the same, with the sources written after the answer
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
    504: "timeout",
}


def is_openai_path(path: str) -> bool:
    return path.rstrip("/") in OPENAI_PATHS


def error_body(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def usage(answer: dict[str, Any]) -> dict[str, int]:
    return dict(answer["usage"])


def completion(
    completion_id: str,
    model: str,
    answer: dict[str, Any],
    content: str | None,
    finish: str,
    refused: str | None = None,
) -> dict[str, Any]:
    """A ``chat.completion``; with ``refused``, the answer was JSON-only and abstained: the reason
    is the message's ``refusal`` and ``content`` is null, as in OpenAI's structured outputs."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if refused is not None:
        message = {"role": "assistant", "content": None, "refusal": refused}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage(answer),
        "citations": answer["citations"],
        "citewise": answer,
    }


def refusal(answer: dict[str, Any]) -> str | None:
    """The abstention as a refusal text, or None when there is an answer."""
    if not answer["abstained"]:
        return None
    return f"{answer['answer']} ({answer['abstain_reason']})"


def chunk(
    completion_id: str, model: str, delta: dict[str, Any] | None, finish: str | None = None, **extra: Any
) -> str:
    """One ``data:`` line; ``delta=None`` makes the usage chunk (no choices), as OpenAI sends it."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def error_event(status: int, message: str) -> str:
    """A failure after the stream started: the ``data:`` line the clients raise as an error."""
    return f"data: {json.dumps(error_body(status, message), ensure_ascii=False)}\n\n"


def sources_text(answer: dict[str, Any], streamed: str | None = None) -> str:
    """The cited passages as text after the answer, one line per number: file › heading (page).
    Empty for an abstention (nothing is cited). ``streamed``: the text the client already has;
    when the citation check changed it (a sentence cited to a passage that does not support it is
    given the one that does), the checked answer comes first, so the numbers match the list."""
    lines = []
    for citation in answer["citations"]:
        where = " › ".join(
            part for part in (PurePath(citation["source_uri"]).name, citation["heading"]) if part
        )
        page = f" (page {citation['page']})" if citation["page"] is not None else ""
        lines.append(f"[{citation['number']}] {where}{page}")
    if not lines:
        return ""
    checked = ""
    if streamed is not None and " ".join(streamed.split()) != answer["answer"]:
        checked = f"\n\nChecked answer: {answer['answer']}"
    return checked + "\n\nSources:\n" + "\n".join(lines)
