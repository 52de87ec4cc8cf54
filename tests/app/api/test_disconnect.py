"""An answer whose client disconnected stops: the model's stream is closed at its next token and
the pool slot (and the model) are free for the next request, streamed or not, on every route.

The app is driven through ASGI directly, so the client can "leave" at a chosen moment: after the
request body, ``receive`` waits until the test says so, then reports ``http.disconnect``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from generator.testing import SlowTalker
from tests.app.api.conftest import ingest

QUESTION = "how do I install into a virtualenv"
CASES = {
    "ask": ("/v1/ask", {"question": QUESTION}),
    "ask-stream": ("/v1/ask", {"question": QUESTION, "stream": True}),
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": QUESTION}]}),
    "chat-stream": (
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": QUESTION}], "stream": True},
    ),
}
GUARD_S = 15.0  # only a guard against hanging: a stopped answer ends within one token


def scope(path: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},  # as uvicorn's HTTP protocols say
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def call(app: Any, path: str, payload: dict[str, Any], leave: asyncio.Event | None) -> list[dict]:
    """One request; the client disconnects once ``leave`` is set (never, if it is None)."""
    body = json.dumps(payload).encode()
    sent: list[dict] = []
    finished = asyncio.Event()
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        if leave is None:
            await finished.wait()
        else:
            await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    await app(scope(path, body), receive, send)
    return sent


async def talking(model: SlowTalker, words: int, request: asyncio.Future) -> None:
    """Until the model's first stream has produced ``words`` words (the request must not end)."""
    for _ in range(int(GUARD_S / 0.01)):
        if model.streams and model.streams[0]["words"] >= words:
            return
        assert not request.done(), request.result()
        await asyncio.sleep(0.01)
    raise AssertionError(f"the model did not start talking: {model.streams}")


@pytest.fixture
def talker_client(make_client):
    # One generation worker: the next answer can only run once the abandoned one gave its slot back.
    client = make_client(generator="generator.testing:slow_talker", answer_tokens=2048, generation_workers=1)
    ingest(client, {"install.md": "# Installing\n\nCreate a virtualenv with python -m venv .venv first.\n"})
    return client


@pytest.mark.parametrize("case", list(CASES))
def test_an_abandoned_answer_stops_and_the_next_request_is_served(talker_client, case: str) -> None:
    app = talker_client.app
    model = app.state.runtime.generator()
    assert isinstance(model, SlowTalker)
    path, payload = CASES[case]

    async def scenario() -> tuple[list[dict], list[dict]]:
        leave = asyncio.Event()
        abandoned = asyncio.ensure_future(call(app, path, payload, leave))
        await talking(model, 3, abandoned)
        leave.set()
        first = await asyncio.wait_for(abandoned, GUARD_S)
        model.words = 5  # the next answer is short
        second = await asyncio.wait_for(call(app, path, payload, None), GUARD_S)
        return first, second

    _, second = asyncio.run(scenario())

    stopped = model.streams[0]
    assert stopped["closed"] is True, stopped
    assert stopped["words"] < 2048  # it never ran to its end
    assert len(model.streams) == 2 and model.streams[1]["words"] == 5
    assert second[0]["status"] == 200
    answer = b"".join(m.get("body", b"") for m in second[1:]).decode()
    assert "virtualenv" in answer


def test_an_answer_waiting_for_the_model_is_dropped_when_its_client_leaves(talker_client) -> None:
    """A request queued behind a running answer (one generation worker, the default), abandoned
    before its turn, never runs the model."""
    app = talker_client.app
    model = app.state.runtime.generator()
    path, payload = CASES["ask"]

    async def scenario() -> None:
        leave_first, leave_second = asyncio.Event(), asyncio.Event()
        first = asyncio.ensure_future(call(app, path, payload, leave_first))
        await talking(model, 2, first)
        second = asyncio.ensure_future(call(app, path, payload, leave_second))
        await asyncio.sleep(0.2)  # let it reach the model's lock
        leave_second.set()
        await asyncio.wait_for(second, GUARD_S)
        leave_first.set()
        await asyncio.wait_for(first, GUARD_S)
        model.words = 5
        await asyncio.wait_for(call(app, path, payload, None), GUARD_S)  # runs once the first stopped

    asyncio.run(scenario())
    assert model.streams[0]["closed"] is True
    assert [s["words"] for s in model.streams[1:]] == [5]  # the abandoned second never got the model
