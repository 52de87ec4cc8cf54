"""Under load: model calls stay off the event loop, a full queue answers 429 with Retry-After,
slow answers time out with 504, and the slots come back afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from generator.base import GenerationOptions, Message
from generator.testing import PassageCopier
from tests.app.api.conftest import INSTALL, ingest

GATE = threading.Event()
STARTED = threading.Semaphore(0)


class GatedGenerator(PassageCopier):
    """Holds every answer until the test opens the gate."""

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        STARTED.release()
        if not GATE.wait(timeout=30):
            raise RuntimeError("gate never opened")
        yield from super().stream(messages, options)


def gated_generator(**options: object) -> GatedGenerator:
    return GatedGenerator(**options)


def close_gate() -> None:
    """A closed gate and no start signals left over from an earlier test."""
    GATE.clear()
    while STARTED.acquire(blocking=False):
        pass


@pytest.fixture
def gated(make_client):
    close_gate()
    client = make_client(
        generator="tests.app.api.test_load_limits:gated_generator",
        generation_workers=1,
        generation_queue=1,
        request_timeout_s=20,
    )
    ingest(client, {"install.md": INSTALL})
    yield client
    GATE.set()


def test_a_full_queue_answers_429_and_the_loop_stays_free(gated) -> None:
    question = {"question": "how do I install into a virtualenv"}
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(gated.post, "/v1/ask", json=question)
        assert STARTED.acquire(timeout=10)  # one answer holds the worker
        waiting = pool.submit(gated.post, "/v1/ask", json=question)
        deadline = time.monotonic() + 5
        while gated.app.state.runtime.generation_pool.in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.01)

        refused = gated.post("/v1/ask", json=question)
        assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
        assert "too many" in refused.json()["detail"]
        streamed = gated.post("/v1/ask", json={**question, "stream": True})
        assert streamed.status_code == 429  # refused before the stream starts

        began = time.perf_counter()
        assert gated.get("/healthz").status_code == 200  # the event loop is not blocked
        assert time.perf_counter() - began < 1.0
        assert gated.post("/v1/search", json={"query": "virtualenv"}).status_code == 200
        metrics = gated.get("/metrics").text
        assert "citewise_generation_queue_depth 1.0" in metrics

        GATE.set()
        assert running.result(timeout=20).status_code == 200
        assert waiting.result(timeout=20).status_code == 200
    assert gated.app.state.runtime.generation_pool.in_flight == 0
    assert gated.post("/v1/ask", json=question).status_code == 200


def test_a_slow_answer_times_out_and_frees_its_slot_when_done(make_client) -> None:
    close_gate()
    client = make_client(generator="tests.app.api.test_load_limits:gated_generator", request_timeout_s=0.5)
    ingest(client, {"install.md": INSTALL})
    try:
        response = client.post("/v1/ask", json={"question": "install"})
        assert response.status_code == 504 and response.json()["status"] == 504
        with client.stream("POST", "/v1/ask", json={"question": "install", "stream": True}) as r:
            text = "".join(r.iter_text())
        assert "event: error" in text and '"status": 504' in text
    finally:
        GATE.set()
    pool = client.app.state.runtime.generation_pool
    deadline = time.monotonic() + 10
    while pool.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pool.in_flight == 0


def test_refusals_are_counted_and_the_default_model_loads_once(make_client) -> None:
    client = make_client(generation_workers=1, generation_queue=0)
    runtime = client.app.state.runtime
    assert runtime.generator(None) is runtime.generator(runtime.settings.generator)  # one copy in memory
    close_gate()
    gated = make_client(generator="tests.app.api.test_load_limits:gated_generator", generation_queue=0)
    ingest(gated, {"install.md": INSTALL})
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(gated.post, "/v1/ask", json={"question": "install"})
        assert STARTED.acquire(timeout=10)
        assert gated.post("/v1/ask", json={"question": "install"}).status_code == 429
        GATE.set()
        assert running.result(timeout=20).status_code == 200
    assert 'citewise_rejected_total{pool="generation"} 1.0' in gated.get("/metrics").text


def test_a_model_that_cannot_load_is_a_503(make_client, tmp_path) -> None:
    missing = str(tmp_path / "nowhere.gguf")
    client = make_client(api_extra_models=[missing])
    ingest(client, {"install.md": INSTALL})
    response = client.post("/v1/ask", json={"question": "install", "model": missing})
    assert response.status_code == 503 and "cannot be loaded" in response.json()["detail"]
