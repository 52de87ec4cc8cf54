"""Plain ASGI middleware (no per-request task overhead, streaming untouched): request metrics
by route template, and a cap on request body size that holds for chunked uploads too."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import PROBLEM, problem_body
from app.api.metrics import ApiMetrics
from app.api.openai_compat import error_body, is_openai_path


class BodyTooLarge(Exception):
    pass


class LimitsAndMetrics:
    def __init__(
        self, app: ASGIApp, metrics: Callable[[], ApiMetrics], body_limit: Callable[[str], int]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.body_limit = body_limit  # path -> most bytes its body may have

    @staticmethod
    def _route(scope: Scope) -> str | None:
        """The matched route's template (never the raw path); the router leaves the route in the
        scope once it has routed. ``None`` when no route matched."""
        route = scope.get("route")
        return getattr(route, "path_format", None) or getattr(route, "path", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        limit = self.body_limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        status = 500
        responded = False

        async def send_and_observe(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                self.metrics().observe_request(
                    scope["method"], self._route(scope), status, time.perf_counter() - started
                )
            await send(message)

        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send_and_observe, limit, scope.get("path", ""))
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted_receive, send_and_observe)
        except BodyTooLarge:
            if not responded:
                await _too_large(send_and_observe, limit, scope.get("path", ""))


async def _too_large(send: Send, limit: int, path: str) -> None:
    detail = f"the request body is larger than the {limit / 2**20:g} MB limit"
    if is_openai_path(path):
        body, media_type = json.dumps(error_body(413, detail)).encode(), b"application/json"
    else:
        body, media_type = json.dumps(problem_body(413, detail)).encode(), PROBLEM.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", media_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
