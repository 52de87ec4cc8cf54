"""A real API server on a loopback port, in a thread, and waiting for HTTP: for the web UI's tests,
the browser test and the load benchmark."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from app.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, alive: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll ``url`` until it answers 200; False when ``alive()`` turns false or time runs out."""
    deadline = time.monotonic() + timeout_s
    while alive() and time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(interval_s)
    return False


@contextmanager
def live_api(settings: Settings) -> Iterator[str]:
    """Serve ``create_app(settings)``; yields its base URL and stops it afterwards."""
    from app.api.main import create_app

    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-api", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{url}/healthz", thread.is_alive, 20, 0.05):
        raise RuntimeError("the API server did not start")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(15)
