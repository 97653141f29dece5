"""Slow and idle clients do not stall the services: 64 connections that send one header byte a
second and 64 that send nothing, held open while a good client keeps getting answers.

Under the gthread server the services had before, 8 to 16 such connections stopped the predict
API. granian reads requests on its event loop, so they hold no thread that runs the app. A client
that sends its body slowly does hold one (granian hands the request over before the body is in),
so the predict API also gets as many of those as a worker has threads to spare.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import orjson
import pytest
import urllib3

from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import sample_rows
from loanapp.services import SERVICES
from tests.integration.conftest import Versions, wait_until_every_worker_serves

pytestmark = pytest.mark.integration

SLOW, IDLE = 64, 64
HEADER = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"x" * 64  # never finished
SLOW_BODY_HEAD = (
    b"POST /predict HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n"
)
# One less than a predict-API worker's threads: however they are spread, a thread is left.
SLOW_BODIES = SERVICES["predict-api"].threads - 1
GOOD_REQUESTS = 150
GOOD_SPACING_SECONDS = 0.02
GOOD_TIMEOUT_SECONDS = 1.0  # the good client's patience, as in the measurement
# Why a bound at all: the issue asks for p99 within 100 ms, and on an idle machine these answers
# take a few milliseconds. The bound is kept loose (the machine running the tests is shared, and a
# neighbour's burst can delay one answer); a stalled server misses it by whole seconds.
P99_BOUND_MS = 100.0


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
    """SLOW connections that send HEADER one byte a second, IDLE ones that send nothing, and
    `slow_bodies` that send a request's head, then its body one byte a second; all open until
    the block ends (the byte sender stops with it; no request is ever finished)."""
    idle = [connect(url) for _ in range(IDLE)]
    slow = [connect(url) for _ in range(SLOW)]
    bodies = [connect(url) for _ in range(slow_bodies)]
    for connection in bodies:
        connection.sendall(SLOW_BODY_HEAD)
    stop = threading.Event()

    def drip() -> None:
        for position in range(len(HEADER)):
            for connection in slow:
                with contextlib.suppress(OSError):
                    connection.sendall(HEADER[position : position + 1])
            for connection in bodies:
                with contextlib.suppress(OSError):
                    connection.sendall(b" ")
            if stop.wait(1.0):
                return

    sender = threading.Thread(target=drip, name="slow-client", daemon=True)
    sender.start()
    try:
        time.sleep(1.5)  # every connection accepted, the slow ones a byte or two into their header
        yield idle + slow + bodies
    finally:
        stop.set()
        sender.join(timeout=5)
        for connection in idle + slow + bodies:
            connection.close()


def good_client_latencies(request: Callable[[urllib3.PoolManager], int]) -> list[float]:
    """GOOD_REQUESTS requests, each on a new connection; their latencies in ms, sorted. Fails on
    the first that is not answered 200 within GOOD_TIMEOUT_SECONDS."""
    pool = urllib3.PoolManager(retries=False, timeout=GOOD_TIMEOUT_SECONDS)
    latencies = []
    for number in range(GOOD_REQUESTS):
        started = time.perf_counter()
        status = request(pool)
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200, f"good request {number} answered {status}"
        time.sleep(GOOD_SPACING_SECONDS)
    return sorted(latencies)


def p99(latencies: list[float]) -> float:
    """The 99th percentile of sorted latencies; printed with the median and the maximum."""
    value = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    middle = latencies[len(latencies) // 2]
    print(f"good client: p50 {middle:.1f} ms, p99 {value:.1f} ms, max {latencies[-1]:.1f} ms")
    return value


def test_predict_api_answers_while_slow_and_idle_clients_hold_connections(
    stack: LocalStack, versions: Versions
) -> None:
    wait_until_every_worker_serves(stack, versions.first)
    body = orjson.dumps(sample_rows(1)[0])
    headers = {"Content-Type": "application/json", "Connection": "close"}

    def predict(pool: urllib3.PoolManager) -> int:
        url = stack.predict_api_url + "/predict"
        return pool.request("POST", url, body=body, headers=headers).status

    with slow_and_idle_clients(stack.predict_api_url, SLOW_BODIES) as held:
        latencies = good_client_latencies(predict)
        still_open = sum(is_open(connection) for connection in held)
    assert still_open == SLOW + IDLE + SLOW_BODIES  # held throughout, not dropped to make room
    assert p99(latencies) < P99_BOUND_MS, f"p99 {p99(latencies):.1f} ms, max {latencies[-1]:.1f}"


def test_model_server_answers_probes_and_downloads_while_long_polls_are_held(
    stack: LocalStack, versions: Versions
) -> None:
    wait_until_every_worker_serves(stack, versions.first)
    base = stack.model_server_url
    held_polls = [connect(base) for _ in range(16)]  # besides the predict API workers' own
    for connection in held_polls:
        connection.sendall(
            f"GET /v1/models/loan/current?wait=30 HTTP/1.1\r\nHost: test\r\n"
            f'If-None-Match: "{versions.first}"\r\n\r\n'.encode()
        )
    artifact = f"{base}/v1/models/loan/versions/{versions.first}/artifact"
    paths = [base + "/healthz", artifact, base + "/readyz"]
    sent = 0

    def probe_or_download(pool: urllib3.PoolManager) -> int:
        nonlocal sent
        sent += 1
        return pool.request("GET", paths[sent % len(paths)], headers={"Connection": "close"}).status

    try:
        with slow_and_idle_clients(base) as held:
            latencies = good_client_latencies(probe_or_download)
            still_open = sum(is_open(connection) for connection in held)
            polls_held = sum(is_open(connection) for connection in held_polls)
    finally:
        for connection in held_polls:
            connection.close()
    assert still_open == SLOW + IDLE
    assert polls_held == len(held_polls)  # nothing changed: every long-poll was still waiting
    assert p99(latencies) < P99_BOUND_MS, f"p99 {p99(latencies):.1f} ms, max {latencies[-1]:.1f}"
