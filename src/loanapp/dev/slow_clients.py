"""Slow and idle clients held open against a service while a good client is timed.

The integration tests use it to show that such clients never stall a service; the benchmark
uses it to measure how long the good client waits meanwhile. Loopback only, bounded in count.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import urllib3

SLOW_CONNECTIONS, IDLE_CONNECTIONS = 64, 64
# A request head sent one byte a second, never finished: it outlasts any measurement.
SLOW_HEADER = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"x" * 64
SLOW_BODY_HEAD = (
    b"POST /predict HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n"
)
GOOD_REQUESTS = 150
GOOD_SPACING_SECONDS = 0.02
# The good client's patience: a stalled service misses it by whole seconds.
GOOD_TIMEOUT_SECONDS = 1.0


def connect(url: str) -> socket.socket:
    """A new TCP connection to the service at `url` (blocking, as `is_open` needs)."""
    address = urlparse(url)
    connection = socket.create_connection((address.hostname, address.port), timeout=5)
    connection.settimeout(None)
    return connection


def is_open(connection: socket.socket) -> bool:
    """Whether the server still holds `connection` open (it has sent nothing, nor closed it)."""
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


@contextlib.contextmanager
def slow_and_idle_clients(url: str, slow_bodies: int = 0) -> Iterator[list[socket.socket]]:
    """SLOW_CONNECTIONS that send SLOW_HEADER one byte a second, IDLE_CONNECTIONS that send
    nothing, and `slow_bodies` that send a request's head, then its body one byte a second; all
    open until the block ends (the byte sender stops with it; no request is ever finished)."""
    idle = [connect(url) for _ in range(IDLE_CONNECTIONS)]
    slow = [connect(url) for _ in range(SLOW_CONNECTIONS)]
    bodies = [connect(url) for _ in range(slow_bodies)]
    for connection in bodies:
        connection.sendall(SLOW_BODY_HEAD)
    stop = threading.Event()

    def drip() -> None:
        for position in range(len(SLOW_HEADER)):
            for connection in slow:
                with contextlib.suppress(OSError):
                    connection.sendall(SLOW_HEADER[position : position + 1])
            for connection in bodies:
                with contextlib.suppress(OSError):
                    connection.sendall(b" ")
            if stop.wait(1.0):
                return

    sender = threading.Thread(target=drip, name="slow-client", daemon=True)
    sender.start()
    held = idle + slow + bodies
    try:
        time.sleep(1.5)  # every connection accepted, the slow ones a byte or two into their head
        yield held
    finally:
        stop.set()
        sender.join(timeout=5)
        for connection in held:
            connection.close()


@dataclass(frozen=True)
class GoodClientRun:
    """What the good client saw while the slow and idle clients were held."""

    latencies_ms: list[float]
    """Every request's latency, sorted."""
    held: int
    still_open: int
    """How many of the held connections the service still kept open at the end."""

    def percentile_ms(self, share: float) -> float:
        """The latency below which `share` of the requests were answered."""
        index = min(len(self.latencies_ms) - 1, int(len(self.latencies_ms) * share))
        return self.latencies_ms[index]

    def summary(self) -> str:
        """p50, p99 and the slowest answer, for logs and reports."""
        return (
            f"{len(self.latencies_ms)} answered, p50 {self.percentile_ms(0.5):.1f} ms, "
            f"p99 {self.percentile_ms(0.99):.1f} ms, max {self.latencies_ms[-1]:.1f} ms; "
            f"{self.still_open} of {self.held} slow and idle connections held"
        )


def time_good_client(
    url: str, request: Callable[[urllib3.PoolManager], int], slow_bodies: int = 0
) -> GoodClientRun:
    """GOOD_REQUESTS of `request` (each should use a new connection) while slow and idle clients
    hold connections to `url`. Raises AssertionError on the first not answered 200 in time."""
    pool = urllib3.PoolManager(retries=False, timeout=GOOD_TIMEOUT_SECONDS)
    latencies = []
    with slow_and_idle_clients(url, slow_bodies) as held:
        for number in range(GOOD_REQUESTS):
            started = time.perf_counter()
            status = request(pool)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise AssertionError(f"good request {number} answered {status}")
            time.sleep(GOOD_SPACING_SECONDS)
        still_open = sum(is_open(connection) for connection in held)
    return GoodClientRun(sorted(latencies), len(held), still_open)


@contextlib.contextmanager
def held_long_polls(
    model_server_url: str, name: str, version: str, count: int
) -> Iterator[list[socket.socket]]:
    """`count` long-polls for a change from `version` of model `name`, held open for the block."""
    polls = [connect(model_server_url) for _ in range(count)]
    try:
        for connection in polls:
            connection.sendall(
                f"GET /v1/models/{name}/current?wait=30 HTTP/1.1\r\nHost: poll\r\n"
                f'If-None-Match: "{version}"\r\n\r\n'.encode()
            )
        yield polls
    finally:
        for connection in polls:
            connection.close()
