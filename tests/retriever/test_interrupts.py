"""Ctrl-C handling primitives: a deferred critical section and a two-step stop request."""

from __future__ import annotations

import os
import signal

import pytest

from retriever.interrupts import StopRequest, deferred_interrupts


def test_an_interrupt_inside_a_critical_section_is_raised_after_it() -> None:
    finished = False
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        finished = True  # still runs: the signal was held back
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_first_ctrl_c_requests_a_stop_and_the_second_forces_it() -> None:
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
