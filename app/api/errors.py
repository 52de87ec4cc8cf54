"""Every error leaves as an RFC 9457 problem body (``application/problem+json``) with a clear message;
known failures map to 4xx, and nothing a client sends can produce a 500."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.disconnect import CLIENT_CLOSED, ClientGone
from app.api.openai_compat import error_body, is_openai_path
from app.api.pool import Overloaded
from generator.base import GeneratorNotFoundError, PromptTooLongError, UnsupportedOptionError
from modelpack import ModelNotInstalledError
from retriever.knowledge_base import CollectionNotFoundError

log = logging.getLogger("citewise.api")
PROBLEM = "application/problem+json"


class ApiError(Exception):
    """``param`` and ``code`` name the request field at fault and a machine-readable reason; the
    OpenAI-compatible routes send them (OpenAI's error shape has both), problem+json does not."""

    def __init__(
        self,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers
        self.param, self.code = param, code


class ModelUnavailableError(RuntimeError):
    """The answer model cannot be loaded (missing package or file, unreadable weights)."""


def exc_message(exc: BaseException) -> str:
    """The message an exception was raised with. ``str()`` of a ``KeyError`` is the repr of its
    argument (quotes added), and stripping quotes off afterwards also eats the ones the message
    itself ends with (``no collection named 'nope'``), so read the argument instead."""
    return str(exc.args[0]) if len(exc.args) == 1 else str(exc)


def classify(exc: BaseException) -> tuple[int, str]:
    """(status, detail) of a failure: the same answer in a response head or inside a stream."""
    if isinstance(exc, ApiError):
        return exc.status, exc.detail
    if isinstance(exc, CollectionNotFoundError):
        return 404, exc_message(exc)
    if isinstance(exc, GeneratorNotFoundError | UnsupportedOptionError):
        return 400, str(exc)
    if isinstance(exc, PromptTooLongError):  # the question alone does not fit the model's window
        return 422, str(exc)
    if isinstance(exc, ModelNotInstalledError | ModelUnavailableError):
        return 503, str(exc)
    if isinstance(exc, TimeoutError):
        return 504, str(exc) or "the request took too long"
    return 500, f"internal error ({type(exc).__name__}); the server log has the details"


def stream_failure(exc: BaseException) -> tuple[int, str]:
    """(status, detail) of a failure after a stream started; the log keeps what a 500 hides."""
    status, detail = classify(exc)
    if status == 500:
        log.error("answer stream failed", exc_info=exc)
    return status, detail


def problem_body(status: int, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {**problem_body(status, detail), **extra}, status_code=status, headers=headers, media_type=PROBLEM
    )


def error_response(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    param: str | None = None,
    code: str | None = None,
    **extra: Any,
) -> JSONResponse:
    """problem+json, or OpenAI's error shape on the OpenAI-compatible routes."""
    if is_openai_path(request.url.path):
        body = error_body(status, detail, param=param, code=code)
        return JSONResponse(body, status_code=status, headers=headers)
    return problem(status, detail, headers, **extra)


def _validation_message(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.detail, exc.headers, param=exc.param, code=exc.code)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = "; ".join(_validation_message(e) for e in errors[:5]) or "invalid request"
        cleaned = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors[:20]]
        first = [str(part) for part in errors[0].get("loc", ()) if part != "body"] if errors else []
        param = ".".join(first) or None
        return error_response(request, 422, detail, param=param, errors=cleaned)

    @app.exception_handler(Overloaded)
    async def _overloaded(request: Request, exc: Overloaded) -> JSONResponse:
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is not None:
            runtime.metrics.rejected.labels(exc.pool).inc()
        return error_response(request, 429, str(exc), {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(ClientGone)
    async def _client_gone(request: Request, _: ClientGone) -> Response:
        log.info("%s %s: the client left before its answer was ready", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED)  # nobody reads it; the metrics count it

    known_errors = (
        CollectionNotFoundError,
        GeneratorNotFoundError,
        UnsupportedOptionError,
        PromptTooLongError,
        ModelNotInstalledError,
        ModelUnavailableError,
        TimeoutError,
    )
    for known in known_errors:

        @app.exception_handler(known)
        async def _known(request: Request, exc: Exception) -> JSONResponse:
            return error_response(request, *classify(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        detail = f"internal error ({type(exc).__name__}); the server log has the details"
        return error_response(request, 500, detail)
