"""The FastAPI application: ``create_app()`` for tests and ``citewise serve`` (uvicorn factory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.errors import install_error_handlers
from app.api.middleware import LimitsAndMetrics
from app.api.routers import ask, collections, documents, evals, health, jobs, openai_chat, search
from app.api.runtime import Runtime
from app.settings import Settings, get_settings

JSON_BODY_LIMIT = 2 * 2**20  # questions, searches, chat turns: generous, but not unbounded


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, *, warm_up: bool = False
) -> FastAPI:
    """The app. ``runtime`` lets tests bring their own (fake embedder, fake generator);
    ``warm_up`` loads the models in the background at start-up (``/readyz`` says when done)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current = runtime or Runtime(settings)
        app.state.runtime = current
        current.open()
        if warm_up:
            current.warm_up_in_background()
        try:
            yield
        finally:
            current.close()

    app = FastAPI(
        title="Citewise",
        version="0.1.0",
        description="Search and cited answers over your own documents.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    upload_limit = settings.max_file_bytes * settings.max_upload_files + 2**20

    def body_limit(path: str) -> int:
        return upload_limit if path.rstrip("/") == "/v1/documents" else JSON_BODY_LIMIT

    app.add_middleware(LimitsAndMetrics, metrics=lambda: app.state.runtime.metrics, body_limit=body_limit)
    for module in (health, search, ask, documents, jobs, collections, evals, openai_chat):
        app.include_router(module.router)
    return app


def serve_app() -> FastAPI:
    """Entry for ``uvicorn --factory app.api.main:serve_app`` (each worker process builds one)."""
    return create_app(warm_up=True)
