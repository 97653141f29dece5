"""Request bodies on the real service (granian): chunked framing, gzip, and pandas' shapes sent
the way the original design's client sends them, with `requests.post(url, json=df.to_dict())`."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
import pandas as pd
import pytest
import requests

from loanapp.dev.traffic import sample_rows
from loanapp.training.train import TrainingResult
from tests.integration.conftest import stack_for

pytestmark = pytest.mark.integration

LIMIT = 256 * 1024
ROWS = sample_rows(30)
ROW = json.dumps(ROWS[0]).encode()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, logreg: TrainingResult) -> Iterator[str]:
    """The predict API's base URL, serving `logreg`, with a body limit of LIMIT bytes."""
    work: Path = tmp_path_factory.mktemp("bodies")
    stack = stack_for(work, environment={"LOANAPP_MAX_BODY_BYTES": str(LIMIT)})
    stack.registry().publish(logreg.artifact, actor="test", alias="production")
    with stack:
        yield stack.predict_api_url


def post_chunked(
    url: str, path: str, chunks: list[bytes], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """POST `chunks` with Transfer-Encoding: chunked (no Content-Length), as http.client frames
    it; the status, headers (names in lower case) and parsed JSON body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        all_headers = {"Content-Type": "application/json"} | (headers or {})
        connection.request(
            "POST", path, body=iter(chunks), headers=all_headers, encode_chunked=True
        )
        response = connection.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, orjson.loads(response.read())
    finally:
        connection.close()


def exchange_raw(
    url: str, request: bytes, *, close_after_sending: bool = False
) -> tuple[int, str, bytes]:
    """Send `request` bytes as they are on a new connection (then stop sending, if asked);
    status, Content-Type and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        if close_after_sending:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.getheader("Content-Type", ""), response.read()


def in_pieces(data: bytes, size: int = 16 * 1024) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def test_a_chunked_body_over_the_limit_is_413_however_it_ends(url: str) -> None:
    at_limit = ROW + b" " * (LIMIT - len(ROW))
    status, _, answer = post_chunked(url, "/predict", in_pieces(at_limit))
    assert status == 200, answer
    expected = requests.post(url + "/predict", json=ROWS[0], timeout=30).json()
    assert answer == expected
    over_with_spaces = at_limit + b" "
    cut_inside_a_string = b'{"funded_amnt": "' + b"x" * LIMIT + b'"}'
    for body in (over_with_spaces, cut_inside_a_string):
        status, _, answer = post_chunked(url, "/predict", in_pieces(body))
        assert status == 413, answer
        assert answer == {
            "error": f"request body in bytes is more than the limit of {LIMIT}",
            "type": "PayloadTooLargeError",
        }


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body, framed right."""
    return b"%x\r\n%s\r\n" % (len(data), data)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"zz\r\n{}\r\n0\r\n\r\n", (400, "MalformedRequestError"), id="no-size"),
        pytest.param(chunk(ROW[:40]) + b"zz\r\n", (400, "MalformedRequestError"), id="cut-row"),
        pytest.param(chunk(ROW[:40]), (400, "MalformedRequestError"), id="client-gone"),
        # What was framed right before the break is the body: here a whole, empty, object.
        pytest.param(b"2\r\n{}XX0\r\n\r\n", (422, "RequestValidationError"), id="no-chunk-end"),
    ],
)
def test_a_broken_chunked_framing_ends_the_body_and_no_cut_body_is_answered(
    url: str, body: bytes, expected: tuple[int, str]
) -> None:
    """granian does not report a broken chunked framing (nor a client gone mid-body): the body
    ends there, and the JSON cut short is refused as malformed."""
    request = (
        b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body
    )
    status, content_type, data = exchange_raw(url, request, close_after_sending=True)
    assert (status, content_type) == (expected[0], "application/json"), data
    assert orjson.loads(data)["type"] == expected[1]


def test_a_body_that_ends_before_its_content_length_is_a_json_400(url: str) -> None:
    request = (
        b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(ROW) + 10, ROW)
    )
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)  # the client stops sending: the body is 10 bytes short
        response = http.client.HTTPResponse(sock)
        response.begin()
        status, answer = response.status, orjson.loads(response.read())
    assert status == 400, answer
    assert answer == {
        "error": f"malformed request: the body ended after {len(ROW)} of the {len(ROW) + 10} "
        "bytes its Content-Length gave",
        "type": "MalformedRequestError",
    }


def test_gzip_bodies_are_read_and_bounded_on_the_real_server(url: str) -> None:
    batch = json.dumps(ROWS).encode()
    expected = requests.post(url + "/predict/batch", json=ROWS, timeout=30).json()
    gzip_header = {"Content-Encoding": "gzip"}
    sized = requests.post(
        url + "/predict/batch",
        data=gzip.compress(batch),
        headers={"Content-Type": "application/json"} | gzip_header,
        timeout=30,
    )
    assert sized.status_code == 200, sized.text
    assert sized.json() == expected
    status, _, answer = post_chunked(
        url, "/predict/batch", in_pieces(gzip.compress(batch), 500), gzip_header
    )
    assert (status, answer) == (200, expected)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(200)) + compressor.flush()
    status, _, answer = post_chunked(url, "/predict/batch", in_pieces(bomb), gzip_header)
    assert status == 413
    assert (
        answer["error"] == f"gzip-inflated request body in bytes is more than the limit of {LIMIT}"
    )
    status, headers, answer = post_chunked(url, "/predict", [ROW], {"Content-Encoding": "br"})
    assert (status, headers["accept-encoding"], answer["type"]) == (
        415,
        "gzip",
        "UnsupportedEncodingError",
    )


def test_the_original_clients_pandas_bodies_are_answered(url: str) -> None:
    frame = pd.DataFrame(ROWS, index=range(100, 100 + len(ROWS)))
    records = requests.post(url + "/predict/batch", json=ROWS, timeout=30).json()
    orients: list[Literal["dict", "list", "records"]] = ["dict", "list", "records"]
    for orient in orients:
        columns: Any = frame.to_dict(orient)  # as the client has it: integer index keys and all
        batch = requests.post(url + "/predict/batch", json=columns, timeout=30)
        assert batch.status_code == 200, (orient, batch.text)
        assert batch.json() == records
        for position in (0, 17):
            row: Any = frame.iloc[[position]].to_dict(orient)
            one = requests.post(url + "/predict", json=row, timeout=30)
            assert one.status_code == 200, (orient, one.text)
            record = requests.post(url + "/predict", json=ROWS[position], timeout=30)
            assert one.json() == record.json()
