"""Bounded thread pools for model work, so the event loop never runs a model call.

Each pool runs at most ``workers`` calls at once and lets at most ``queue`` more wait; a call
beyond that is refused at once with ``Overloaded`` (the API turns it into 429 + Retry-After)
instead of piling up requests and memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class Overloaded(RuntimeError):
    def __init__(self, pool: str, retry_after_s: int) -> None:
        super().__init__(f"too many {pool} requests at once; retry in {retry_after_s} s")
        self.pool = pool
        self.retry_after_s = retry_after_s


class BoundedPool:
    def __init__(self, name: str, workers: int, queue: int, retry_after_s: int = 2) -> None:
        self.name = name
        self.workers = workers
        self.capacity = workers + queue
        self.retry_after_s = retry_after_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"citewise-{name}")
        self._lock = threading.Lock()
        self._admitted = 0  # running plus waiting

    @property
    def in_flight(self) -> int:
        return self._admitted

    @property
    def waiting(self) -> int:
        return max(0, self._admitted - self.workers)

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.capacity:
                raise Overloaded(self.name, self.retry_after_s)
            self._admitted += 1

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on a worker thread; raises ``Overloaded`` when the queue is full."""
        self._admit()
        try:
            work = self._executor.submit(fn)
        except BaseException:
            self._release()
            raise
        # The slot frees when the thread is really done, not when an impatient caller gives up.
        work.add_done_callback(lambda _: self._release())
        return await asyncio.wrap_future(work)

    def stream(self, produce: Callable[[], Iterator[T]]) -> Relay[T]:
        """Items of ``produce()`` (iterated on a worker thread) as they come.

        Admission and the start of the work happen here, before the response starts, so a full
        queue can still become a 429, and the slot is freed when the thread ends even if nobody
        ever reads the stream. If the reader goes away (closes the stream or is cancelled), the
        producer is closed at its next item, so its slot frees for the next caller; work that has
        not started yet is skipped.
        """
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def put(item: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(items.put_nowait, item)

        def work() -> None:
            iterator: Iterator[T] | None = None
            try:
                if cancelled.is_set():  # the reader left while this waited for a worker
                    return
                iterator = produce()
                for item in iterator:
                    if cancelled.is_set():
                        break
                    put(item)
            except BaseException as exc:  # delivered to the reader, who re-raises it
                put(_Failure(exc))
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:  # a generator stops now (the model's stream with it), not at GC
                    with contextlib.suppress(Exception):
                        close()
                put(_DONE)

        self._admit()
        try:
            future = self._executor.submit(work)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        return Relay(items, cancelled)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Relay(Generic[T]):
    """The reading end of ``BoundedPool.stream``. Once the reader is done with it (the end came,
    it failed, ``aclose()``, a cancelled read, or the relay is dropped unread), the producer is told
    to stop: an object, not an async generator, so that this holds even if it was never iterated."""

    def __init__(self, items: asyncio.Queue[object], cancelled: threading.Event) -> None:
        self._items, self._cancelled = items, cancelled

    def __aiter__(self) -> Relay[T]:
        return self

    async def __anext__(self) -> T:
        if self._cancelled.is_set():
            raise StopAsyncIteration
        try:
            item = await self._items.get()
        except BaseException:  # a cancelled read: nobody will read on
            self._cancelled.set()
            raise
        if item is _DONE:
            self._cancelled.set()
            raise StopAsyncIteration
        if isinstance(item, _Failure):
            self._cancelled.set()
            raise item.error
        return item  # type: ignore[return-value]

    async def aclose(self) -> None:
        self._cancelled.set()

    def __del__(self) -> None:
        self._cancelled.set()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
