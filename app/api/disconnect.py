"""Stopping work whose client has gone.

An answer runs on a pool thread for seconds; a client that disconnects meanwhile will never read
it, and its slot holds up the requests behind it. The handler awaits the answer and, at the same
time, the request's ASGI ``receive`` channel: once the body has been read, the only message that
can come is ``http.disconnect``. When it comes first the answer is cancelled, which stops the
pool thread at its next token (``BoundedPool.stream``) and frees the slot.

Streamed answers need nothing more: the response stream listens for the disconnect itself and is
cancelled, which reaches the pool thread the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.types import Receive

T = TypeVar("T")
CLIENT_CLOSED = 499  # the status recorded for a request whose client left (nginx's code)


class ClientGone(Exception):
    """The client disconnected before its response was ready."""


async def disconnected(receive: Receive) -> None:
    """Returns once the client has disconnected (call it only after the body was read)."""
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception:  # a server that cannot tell: never claim the client left
        await asyncio.get_running_loop().create_future()


async def unless_client_leaves(receive: Receive, work: Coroutine[Any, Any, T]) -> T:
    """``await work``, cancelled as soon as the client disconnects; then ``ClientGone``."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(disconnected(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        raise ClientGone
    finally:
        for pending in (watcher, task):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending  # the work's own cleanup (closing the answer stream) runs to its end
