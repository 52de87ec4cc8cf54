"""``citewise doctor``: checks configuration, model files, the database, the index and the queue, and
says exactly what is wrong and what to do about it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.settings import Settings, redact_url
from ingest.jobs import running_jobs
from retriever import catalog
from retriever.knowledge_base import KnowledgeBase

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    state: str  # ok, warn or fail
    detail: str


def run_checks(settings: Settings) -> list[Check]:
    checks = [_data_dir(settings), _embedder(settings), _generator(settings)]
    with contextlib.ExitStack() as lock:
        kb, busy, opened = _database(settings, lock)
        checks.append(opened)
        if opened.state != FAIL:
            try:
                checks += _index(kb, busy) + _jobs(kb, busy)
            finally:
                kb.close()
    checks.append(_queue(settings))
    return checks


def _guard(name: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except Exception as exc:
        return Check(name, FAIL, f"{type(exc).__name__}: {exc}")


def _data_dir(settings: Settings) -> Check:
    def check() -> Check:
        directory = settings.data_dir
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK):
            return Check("data dir", FAIL, f"{directory} is not writable by this user")
        return Check("data dir", OK, str(directory))

    return _guard("data dir", check)


def _embedder(settings: Settings) -> Check:
    def check() -> Check:
        from app.services import build_embedder

        embedder = build_embedder(settings)
        detail = f"{embedder.name} ({embedder.dimension}-d)"
        if embedder.name.startswith("minilm"):
            from retriever.embedders.minilm import packaged_model_dir

            detail += f", weights in {packaged_model_dir()}"
        return Check("embedder", OK, detail)

    return _guard("embedder", check)


def _generator(settings: Settings) -> Check:
    def check() -> Check:
        from generator.models import BUILTIN_MODELS, resolve_model_file

        spec = settings.generator
        if spec in BUILTIN_MODELS or spec.endswith(".gguf"):
            path = resolve_model_file(spec, settings.resolved_model_cache_dir)  # joins and verifies the hash
            return Check(
                "answer model", OK, f"{spec}: {path} ({path.stat().st_size / 1e6:.0f} MB, hash verified)"
            )
        if spec.partition(":")[0] in ("gpt", "gpt-int8"):
            directory = Path(spec.partition(":")[2]).expanduser()
            missing = [n for n in ("config.json", "model.safetensors") if not (directory / n).is_file()]
            if missing:
                return Check(
                    "answer model", FAIL, f"{spec}: {directory} lacks {', '.join(missing)} (train it first)"
                )
            return Check("answer model", OK, f"{spec}: trained model in {directory}")
        from generator.registry import create_generator

        create_generator(spec)  # registry names and module:factory specs resolve here
        return Check("answer model", OK, f"{spec} (no model file to check)")

    return _guard("answer model", check)


def _database(settings: Settings, lock: contextlib.ExitStack) -> tuple[KnowledgeBase, bool, Check]:
    """Open a reader; the writer lock is held meanwhile when it is free, so opening never repairs
    anything (doctor only looks). The flag says whether another process is writing."""
    from app.services import build_knowledge_base, embedder_name
    from retriever.embedders.registry import create_embedder
    from retriever.index.persistence import IndexLockedError

    url = redact_url(settings.resolved_database_url)
    kb = build_knowledge_base(settings, create_embedder(embedder_name(settings)))  # loads no model
    try:
        lock.enter_context(kb.store.writer_lock())
        busy = False
    except IndexLockedError:
        busy = True
    try:
        kb.open()
    except Exception as exc:
        kb.close()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return kb, busy, Check("database", FAIL, f"{url}: {reason}")
    return kb, busy, Check("database", OK, f"{url}, schema up to date")


def _index(kb: KnowledgeBase, busy: bool) -> list[Check]:
    checks = []
    if kb.load_problem:
        checks.append(Check("index file", FAIL, f"{kb.load_problem}; run `citewise reindex`"))
    manifest = kb.store.read_manifest()
    generation = catalog.stored_generation(kb)
    if manifest is None:
        checks.append(Check("index file", OK if not generation else FAIL, "no index saved yet"))
    elif manifest.embedder != kb.embedder.name:
        checks.append(
            Check(
                "index file",
                FAIL,
                f"built by embedder {manifest.embedder!r}, configured {kb.embedder.name!r}: "
                "run `citewise reindex` or set CITEWISE_EMBEDDER back",
            )
        )
    elif not kb.load_problem:
        checks.append(
            Check("index file", OK, f"{manifest.index_file}: {manifest.count} vectors, {manifest.index_kind}")
        )
    report = kb.check()
    if report.consistent:
        checks.append(Check("index vs database", OK, f"{report.describe()}, generation {generation}"))
    else:
        checks.append(
            Check(
                "index vs database",
                WARN if busy else FAIL,
                f"{report.describe()} (index generation {kb.generation}, database {generation}); "
                + (
                    "another process is writing: check again when it is done"
                    if busy
                    else "run `citewise reindex`"
                ),
            )
        )
    return checks


def _jobs(kb: KnowledgeBase, busy: bool) -> list[Check]:
    """Running jobs nobody runs any more, by the rule the writers use to close them
    (``owner_gone``): doctor holds the writer lock unless another process is writing."""
    running, dead = running_jobs(kb, writer_held=not busy)
    if dead:
        ids = ", ".join(str(job_id) for job_id in dead)
        return [
            Check(
                "jobs",
                WARN,
                f"job(s) {ids} were left running by a process that is gone; the next API start or "
                "ingest marks them interrupted: ingest their files again",
            )
        ]
    return [Check("jobs", OK, f"{running} running")]


def _queue(settings: Settings) -> Check:
    if not settings.queue_url:
        return Check("task queue", OK, "none configured: each API process runs its own uploads")

    def check() -> Check:
        from rq import Worker

        from app.jobs.queue import build_queue

        task_queue = build_queue(settings)
        assert task_queue is not None
        if not task_queue.reachable():
            return Check(
                "task queue", FAIL, f"{redact_url(task_queue.url)} is unreachable: is Redis running?"
            )
        workers = Worker.count(queue=task_queue._rq())
        waiting = task_queue.depth()
        state = WARN if waiting and not workers else OK
        advice = "; start one with `citewise worker`" if state == WARN else ""
        return Check(
            "task queue",
            state,
            f"{redact_url(task_queue.url)}: {workers} worker(s), {waiting} job(s) waiting{advice}",
        )

    return _guard("task queue", check)
