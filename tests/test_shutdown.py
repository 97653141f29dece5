"""The SIGTERM handler of a worker: our stop starts, then the server's handler runs, whether the
server set it before or after the app was loaded."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from loanapp.shutdown import stop_on_sigterm


class Calls:
    """What ran on SIGTERM, in order; `stopped` is set once the stop has run."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.order.append("stop")
        self.stopped.set()

    def server(self, signum: int, frame: FrameType | None) -> None:
        self.order.append(f"server {signum}")


def sigterm_and_wait(calls: Calls) -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # handled in this (main) thread before kill returns
    assert calls.stopped.wait(5), calls.order


def test_a_handler_set_before_still_runs_and_the_stop_starts() -> None:
    calls = Calls()
    signal.signal(signal.SIGTERM, calls.server)  # a server that sets it before loading the app
    stop_on_sigterm(calls.stop)
    sigterm_and_wait(calls)
    assert sorted(calls.order) == ["server 15", "stop"]


def test_a_handler_set_after_is_put_behind_ours_once() -> None:
    calls = Calls()
    stop_on_sigterm(calls.stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # other signals pass through
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGTERM, calls.server)  # granian's way: after the app is loaded
    sigterm_and_wait(calls)
    assert sorted(calls.order) == ["server 15", "stop"]
    # Only the server's own setting is wrapped: the next one replaces ours, as usual.
    signal.signal(signal.SIGTERM, calls.server)
    calls.order.clear()
    os.kill(os.getpid(), signal.SIGTERM)
    assert calls.order == ["server 15"]
