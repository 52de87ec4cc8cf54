"""Everything one API process holds: settings, the shared embedder, a reading knowledge base that
follows the writers' saves, loaded answer models, the bounded pools and the ingest jobs.

Requests only ever read through ``kb``; writes (uploads, deletions) go through ``jobs``, which
opens its own writable knowledge base for each piece of work, so the CLI, other API processes and
this one can take turns writing while searches go on.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from typing import Any

from app.answering import AnswerPipeline
from app.api.errors import ModelUnavailableError
from app.api.metrics import ApiMetrics
from app.api.pool import BoundedPool
from app.api.writer import Writer
from app.jobs.queue import build_queue
from app.services import (
    build_answer_pipeline,
    build_embedder,
    build_generator,
    build_knowledge_base,
    fallback_of,
)
from app.settings import Settings
from generator.base import Generator, GeneratorNotFoundError
from modelpack import ModelNotInstalledError
from retriever.embedders.base import Embedder
from retriever.knowledge_base import KnowledgeBase
from retriever.search import SearchFilters, SearchMode


class Runtime:
    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, kb: KnowledgeBase | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder or build_embedder(settings)
        self.kb = kb or build_knowledge_base(settings, self.embedder)
        self.generation_pool = BoundedPool(
            "generation", settings.generation_workers, settings.generation_queue
        )
        self.search_pool = BoundedPool("search", settings.search_workers, settings.search_workers * 16, 1)
        self.writer = Writer(settings, self.embedder, self.kb, task_queue=build_queue(settings))
        self.metrics = ApiMetrics()
        self.metrics.gauge(
            "citewise_generation_queue_depth",
            "Answers waiting for a worker.",
            lambda: self.generation_pool.waiting,
        )
        self.metrics.gauge(
            "citewise_generation_in_flight",
            "Answers running or waiting.",
            lambda: self.generation_pool.in_flight,
        )
        self.metrics.gauge(
            "citewise_jobs_pending", "Writes waiting for the writer thread.", lambda: self.writer.pending
        )
        self.metrics.gauge("citewise_index_vectors", "Vectors in the served index.", self._index_size)
        if self.writer.task_queue is not None:
            task_queue = self.writer.task_queue
            self.metrics.gauge(
                "citewise_task_queue_depth", "Ingest jobs waiting for a worker (-1: queue unreachable).",
                task_queue.depth,
            )  # fmt: skip
        self._generators: dict[str, Generator] = {}
        self._answer_locks: dict[int, threading.Lock] = {}
        self._load_locks: dict[str, threading.Lock] = {}
        self._generator_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._refreshed_at = float("-inf")  # the first search looks
        self.opened = False
        self._warm = "not loaded"

    def open(self) -> None:
        """Open the database and index (a reader); repairs a stale index if nobody is writing."""
        self.kb.open()
        self.opened = True
        self.writer.start()

    def warm_up(self) -> None:
        """Load the embedder and the default answer model now, not on the first request."""
        self._warm = "loading"
        try:
            self.embedder.warm_up()
            self.generator()
        except Exception as exc:
            self._warm = f"failed: {exc}"
            raise
        self._warm = "ready"

    def warm_up_in_background(self) -> threading.Thread:
        def run() -> None:
            with contextlib.suppress(Exception):  # the state says what failed; /readyz reports it
                self.warm_up()

        thread = threading.Thread(target=run, name="citewise-warm-up", daemon=True)
        self._warm = "loading"
        thread.start()
        return thread

    def warm_state(self) -> str:
        return self._warm

    def answer_model(self) -> dict[str, str | None]:
        """The default answer model as configured and as served (known once it is loaded); a
        fallback to the extractive backend is said here, not only in the log."""
        loaded = self._generators.get("")
        fallback = fallback_of(loaded) if loaded is not None else None
        return {
            "configured": self.settings.generator,
            "serving": loaded.name if loaded is not None else None,
            "fallback": fallback.describe() if fallback is not None else None,
        }

    def close(self) -> None:
        self.writer.stop()
        self.generation_pool.shutdown()
        self.search_pool.shutdown()
        self.kb.close()
        self.opened = False

    def _index_size(self) -> float:
        return float(len(self.kb.index)) if self.opened else 0.0

    def refresh(self, min_interval_s: float | None = None) -> None:
        """Follow the index the writers saved; checked at most every ``min_interval_s`` (default:
        the ``index_refresh_seconds`` setting)."""
        if min_interval_s is None:
            min_interval_s = self.settings.index_refresh_seconds
        now = time.monotonic()
        if now - self._refreshed_at < min_interval_s:
            return
        with self._refresh_lock:
            if now - self._refreshed_at >= min_interval_s:
                self.kb.refresh()
                self._refreshed_at = time.monotonic()

    def generator(self, spec: str | None = None) -> Generator:
        """The answer model for ``spec`` (default: the configured one), loaded once per process."""
        key = "" if spec in (None, self.settings.generator) else spec
        with self._generator_lock:  # held only to find this model's own loading lock
            loading = self._load_locks.setdefault(key, threading.Lock())
        with loading:  # a model being loaded holds up only the requests that want it
            found = self._generators.get(key)
            if found is None:
                try:
                    found = build_generator(self.settings, key or None)
                    found.warm_up()
                except ModelNotInstalledError:
                    raise
                except GeneratorNotFoundError as exc:
                    if key:
                        raise  # the caller's choice: a 400
                    raise ModelUnavailableError(f"the configured model is not usable: {exc}") from exc
                except Exception as exc:  # a missing or unreadable model file, bad weights
                    raise ModelUnavailableError(
                        f"the model {spec or self.settings.generator!r} cannot be loaded: {exc}"
                    ) from exc
                self._generators[key] = found
            return found

    def answer_lock(self, generator: Generator) -> contextlib.AbstractContextManager[object]:
        """One answer at a time per loaded model, unless the backend says it is thread-safe: an
        answer's steps (rewrite, decline scoring, generation) share the model's live context."""
        if getattr(generator, "thread_safe", False):
            return contextlib.nullcontext()
        return self._answer_locks.setdefault(id(generator), threading.Lock())

    def answer_pipeline(
        self,
        generator: Generator,
        *,
        k: int | None,
        mode: SearchMode | None,
        filters: SearchFilters,
        overrides: Mapping[str, Any] | None = None,
    ) -> AnswerPipeline:
        return build_answer_pipeline(
            self.settings, self.kb, generator, k=k, mode=mode, filters=filters, overrides=overrides
        )
