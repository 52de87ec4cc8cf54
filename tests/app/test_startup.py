"""Servers wait at start for the database and the task queue, whatever order a stack starts in.

The real services are reached through ports that open only after a delay (a small TCP relay in
front of PostgreSQL and Redis), as when the API container starts before the database container."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url

from app.settings import Settings
from app.startup import Dependency, StartupTimeoutError, dependencies, wait_for
from app.testing import free_port


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def flaky(failures: int) -> tuple[Dependency, list[int]]:
    calls = [0]

    def check() -> None:
        calls[0] += 1
        if calls[0] <= failures:
            raise ConnectionRefusedError("connection refused")

    return Dependency("the database", check), calls


def test_a_late_service_is_retried_and_named_once() -> None:
    clock, said = FakeClock(), []
    dependency, calls = flaky(failures=4)
    wait_for([dependency], 60, said.append, clock=clock, sleep=clock.sleep)
    assert calls == [5]
    assert said == ["waiting for the database (connection refused)", "the database answers"]
    assert clock.now == pytest.approx(0.25 + 0.5 + 1 + 2)  # pauses double


def test_a_service_that_never_answers_stops_the_start_with_its_name() -> None:
    clock = FakeClock()
    dependency, calls = flaky(failures=10_000)
    with pytest.raises(
        StartupTimeoutError, match=r"the database did not answer within 30 s: connection refused"
    ):
        wait_for([dependency], 30, lambda line: None, clock=clock, sleep=clock.sleep)
    assert clock.now == pytest.approx(30) and calls[0] > 5


def test_sqlite_needs_no_wait_and_a_queue_is_waited_for(tmp_path) -> None:
    assert dependencies(Settings(data_dir=tmp_path)) == []
    found = dependencies(Settings(data_dir=tmp_path, queue_url="redis://:secret@cache:6379/0"))
    assert [d.name for d in found] == ["the task queue at redis://:***@cache:6379/0"]


@contextmanager
def relay_after(delay_s: float, target: tuple[str, int]) -> Iterator[int]:
    """A port on which, after ``delay_s``, a relay to ``target`` starts listening."""
    port = free_port()
    stop = threading.Event()

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with source, sink:
            while chunk := source.recv(65536):
                sink.sendall(chunk)

    def serve() -> None:
        if stop.wait(delay_s):
            return
        with socket.create_server(("127.0.0.1", port)) as server:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(target)
                threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pump, args=(upstream.dup(), client.dup()), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)


@pytest.mark.postgres
def test_the_real_database_and_queue_are_awaited(postgres_url: str, tmp_path) -> None:
    with (
        relay_after(1.0, ("127.0.0.1", 5432)) as db_port,
        relay_after(2.5, ("127.0.0.1", 6379)) as redis_port,
    ):
        settings = Settings(
            data_dir=tmp_path,
            database_url=make_url(postgres_url).set(port=db_port).render_as_string(hide_password=False),
            queue_url=f"redis://127.0.0.1:{redis_port}/0",
        )
        said: list[str] = []
        wait_for(dependencies(settings), 30, said.append)
    assert said[0].startswith("waiting for the database at postgresql+psycopg://")
    assert "waiting for the task queue at redis://127.0.0.1" in said[2]
    assert said[1::2] == [f"{d.name} answers" for d in dependencies(settings)]


@pytest.mark.postgres
def test_a_worker_started_before_redis_waits_then_works(postgres_url: str, tmp_path) -> None:
    with relay_after(8.0, ("127.0.0.1", 6379)) as redis_port:  # well after the CLI has started
        env = {
            **os.environ,
            "CITEWISE_DATA_DIR": str(tmp_path),
            "CITEWISE_DATABASE_URL": postgres_url,
            "CITEWISE_QUEUE_URL": f"redis://127.0.0.1:{redis_port}/15",
            "CITEWISE_QUEUE_NAME": f"startup-{uuid.uuid4().hex[:8]}",
        }
        run = subprocess.run(
            [sys.executable, "-m", "app.cli.main", "worker", "--burst"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    assert "waiting for the task queue at redis://127.0.0.1" in run.stderr
    assert "the task queue at" in run.stderr and "answers" in run.stderr
