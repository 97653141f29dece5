"""SIGTERM stops both services alike: background thread stopped, requests finished, exit 0."""

from __future__ import annotations

import signal
import socket
import time
from urllib.parse import urlparse

import orjson
import pytest
import urllib3

from loanapp.dev.processes import child_pids
from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import sample_rows
from tests.integration.conftest import Versions, wait_until_every_worker_serves

pytestmark = pytest.mark.integration


def open_request(url: str, head: bytes) -> socket.socket:
    """A connection to the service at `url` that has sent `head` and waits for more."""
    address = urlparse(url)
    connection = socket.create_connection((address.hostname, address.port), timeout=30)
    connection.sendall(head)
    return connection


def read_response(connection: socket.socket) -> tuple[int, bytes]:
    """Status and body of the one response on `connection` (the server closes it after)."""
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_predict_api_finishes_a_request_in_flight_and_stops_its_watchers(
    stack: LocalStack, versions: Versions
) -> None:
    api = stack.predict_api
    assert api is not None
    assert api.pid is not None
    workers = child_pids(api.pid)
    wait_until_every_worker_serves(stack, versions.first)
    body = orjson.dumps(sample_rows(1)[0])
    head = (
        b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    # Half the body now: a worker has taken the request and is reading it when SIGTERM arrives.
    connection = open_request(stack.predict_api_url, head + body[:10])
    time.sleep(0.5)
    api.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    time.sleep(0.5)
    connection.sendall(body[10:])
    status, answer = read_response(connection)
    connection.close()
    assert status == 200, answer
    assert orjson.loads(answer)["model_version"] == versions.first
    assert api.process.wait(timeout=30) == 0  # type: ignore[union-attr]
    log = (stack.work_dir / "predict-api.log").read_text()
    assert log.count("stopped following the model server for loan") == len(workers)


def test_model_server_releases_held_long_polls_and_exits(
    stack: LocalStack, versions: Versions
) -> None:
    server = stack.model_server
    assert server is not None
    assert server.process is not None
    # The predict API's own long-polls are held too; stop it first, so only ours is in flight.
    assert stack.predict_api is not None
    stack.predict_api.stop()
    head = (
        f"GET /v1/models/loan/current?wait=30 HTTP/1.1\r\nHost: test\r\n"
        f'If-None-Match: "{versions.first}"\r\nConnection: close\r\n\r\n'
    ).encode()
    connection = open_request(stack.model_server_url, head)
    time.sleep(0.5)  # held: nothing changes for 30 s
    server.process.send_signal(signal.SIGTERM)
    status, _ = read_response(connection)
    connection.close()
    # Released by the stop: held to its 30 s wait, it would outlast the 10 s graceful timeout
    # and the worker would be killed with the connection still open and unanswered.
    assert status == 304
    assert server.process.wait(timeout=30) == 0
    log = (stack.work_dir / "model-server.log").read_text()
    assert "SIGTERM: stopping" in log
    pool = urllib3.PoolManager(retries=False)
    try:
        pool.request("GET", stack.model_server_url + "/healthz", timeout=2.0)
    except urllib3.exceptions.HTTPError:
        return
    raise AssertionError("the model server still answers after SIGTERM")
