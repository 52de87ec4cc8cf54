"""Waiting at start for the services a server needs. A container stack starts everything at once
(podman-compose ignores ``depends_on: condition: service_healthy``), so ``citewise serve`` and
``citewise worker`` wait for the database and the task queue to answer instead of dying at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.jobs.queue import build_queue
from app.settings import Settings, redact_url
from retriever import catalog


class StartupTimeoutError(RuntimeError):
    """A service still did not answer when the wait ran out."""


@dataclass(frozen=True, slots=True)
class Dependency:
    name: str
    check: Callable[[], None]  # returns when the service answers, raises when it does not


def dependencies(settings: Settings) -> list[Dependency]:
    """The database (unless it is a local SQLite file) and the task queue, if one is configured."""
    found = []
    url = settings.resolved_database_url
    if not url.startswith("sqlite"):
        found.append(Dependency(f"the database at {redact_url(url)}", lambda: catalog.ping_database(url)))
    task_queue = build_queue(settings)
    if task_queue is not None:
        found.append(Dependency(f"the task queue at {redact_url(task_queue.url)}", task_queue.ping))
    return found


def wait_for(
    needed: Sequence[Dependency],
    timeout_s: float,
    say: Callable[[str], None],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once every dependency answered; retry each with a growing pause (up to 5 s) and say
    once what is being waited for. Past ``timeout_s`` in all, raise ``StartupTimeoutError``."""
    deadline = clock() + timeout_s
    for dependency in needed:
        pause = 0.25
        waited = False
        while True:
            try:
                dependency.check()
                break
            except Exception as exc:
                reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                if clock() >= deadline:
                    raise StartupTimeoutError(
                        f"{dependency.name} did not answer within {timeout_s:g} s: {reason}"
                    ) from exc
                if not waited:
                    say(f"waiting for {dependency.name} ({reason})")
                    waited = True
                sleep(min(pause, max(deadline - clock(), 0.0)))
                pause = min(pause * 2, 5.0)
        if waited:
            say(f"{dependency.name} answers")
