"""Deferring Ctrl-C across a critical section.

A database commit and the matching index update must happen together: a KeyboardInterrupt
between them would leave the in-memory index a step behind what was committed. The signal is
held back until the section ends, then raised as usual.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    received: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


class StopRequest:
    """The first Ctrl-C asks a long job to stop at its next safe point; a second one stops it at once.

    Long jobs check ``requested`` between units of work, so the database is never left mid-query
    (a driver interrupted inside a query may report a cancelled statement instead of the interrupt).
    ``cancelled`` is asked at the same points: a job cancelled from elsewhere stops the same way.
    """

    def __init__(self, cancelled: Callable[[], bool] | None = None) -> None:
        self.interrupted = False
        self.cancelled = False
        self._ask_cancelled = cancelled
        self._previous: object = None

    @property
    def requested(self) -> bool:
        if not self.cancelled and self._ask_cancelled is not None:
            self.cancelled = self._ask_cancelled()
        return self.interrupted or self.cancelled

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._previous = None

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
