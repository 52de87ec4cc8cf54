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
from app.api.pool import Overloaded
from generator.base import GeneratorNotFoundError, PromptTooLongError
from generator.models import ModelNotInstalledError
from retriever.knowledge_base import CollectionNotFoundError

log = logging.getLogger("citewise.api")
PROBLEM = "application/problem+json"


class ApiError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


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
    if isinstance(exc, GeneratorNotFoundError):
        return 400, str(exc)
    if isinstance(exc, PromptTooLongError):  # the question alone does not fit the model's window
        return 422, str(exc)
    if isinstance(exc, ModelNotInstalledError | ModelUnavailableError):
        return 503, str(exc)
    if isinstance(exc, TimeoutError):
        return 504, str(exc) or "the request took too long"
    return 500, f"internal error ({type(exc).__name__}); the server log has the details"


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    return JSONResponse({**body, **extra}, status_code=status, headers=headers, media_type=PROBLEM)


def _validation_message(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = "; ".join(_validation_message(e) for e in errors[:5]) or "invalid request"
        cleaned = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors[:20]]
        return problem(422, detail, errors=cleaned)

    @app.exception_handler(Overloaded)
    async def _overloaded(request: Request, exc: Overloaded) -> JSONResponse:
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is not None:
            runtime.metrics.rejected.labels(exc.pool).inc()
        return problem(429, str(exc), {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(ClientGone)
    async def _client_gone(request: Request, _: ClientGone) -> Response:
        log.info("%s %s: the client left before its answer was ready", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED)  # nobody reads it; the metrics count it

    known_errors = (
        CollectionNotFoundError,
        GeneratorNotFoundError,
        PromptTooLongError,
        ModelNotInstalledError,
        ModelUnavailableError,
        TimeoutError,
    )
    for known in known_errors:

        @app.exception_handler(known)
        async def _known(_: Request, exc: Exception) -> JSONResponse:
            return problem(*classify(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, f"internal error ({type(exc).__name__}); the server log has the details")
