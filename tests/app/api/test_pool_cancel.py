"""``BoundedPool.stream``: a reader that is done with a stream stops its producer at the next item
and gives its slot back, even if it never read an item (the response never started streaming)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator

import pytest

from app.api.pool import BoundedPool

ITEMS = 1000


class Producer:
    def __init__(self) -> None:
        self.produced = 0
        self.started, self.closed = threading.Event(), threading.Event()

    def __call__(self) -> Iterator[int]:
        try:
            for i in range(ITEMS):
                self.produced += 1
                self.started.set()
                time.sleep(0.01)
                yield i
        finally:
            self.closed.set()


@pytest.mark.parametrize("how", ["aclose", "dropped", "read-then-aclose"])
def test_a_stream_given_up_stops_its_producer_and_frees_the_slot(how: str) -> None:
    pool = BoundedPool("test", workers=1, queue=0)
    producer = Producer()

    async def scenario() -> None:
        relay = pool.stream(producer)
        await asyncio.to_thread(producer.started.wait, 5)
        if how == "read-then-aclose":
            assert await anext(relay) == 0
        if how == "dropped":
            del relay
            gc.collect()
        else:
            await relay.aclose()

    try:
        asyncio.run(scenario())
        assert producer.closed.wait(5), "the producer ran on"  # a guard: the full run takes 10 s
        assert producer.produced < ITEMS
        for _ in range(500):  # the slot frees once the thread has returned
            if pool.in_flight == 0:
                break
            time.sleep(0.01)
        assert pool.in_flight == 0
    finally:
        pool.shutdown()
