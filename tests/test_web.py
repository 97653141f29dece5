"""What both services share: how a body is read (framing, limit, gzip), request ids, JSON output."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib

import numpy as np
import orjson
import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from loanapp.errors import ECHO_LIMIT
from loanapp.logs import request_id_var
from loanapp.web import install_common_handlers, json_response, read_json_body

LIMIT = 1000
BODY = {"funded_amnt": 16100, "term": "term_36"}


def make_app(limit: int = LIMIT) -> Flask:
    """An app with the shared handlers and one route that answers the JSON body it read."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = limit
    install_common_handlers(app, "test")

    @app.post("/echo")
    def echo() -> Response:
        return json_response({"body": read_json_body(request), "request_id": request_id_var.get()})

    return app


@pytest.fixture
def client() -> FlaskClient:
    return make_app().test_client()


def post_streamed(app: Flask, data: bytes, headers: dict[str, str] | None = None) -> Response:
    """POST `data` as a chunked body arrives from granian: no Content-Length, and the server
    marks the stream as ended (wsgi.input_terminated) so that it may be read to its end."""
    builder = EnvironBuilder(
        path="/echo",
        method="POST",
        data=data,
        content_type="application/json",
        headers=list((headers or {}).items()),
    )
    environ = builder.get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input_terminated"] = True
    return Response.from_app(app, environ, buffered=True)


def padded(body: object, size: int) -> bytes:
    """`body` as JSON followed by spaces up to `size` bytes: still the same JSON."""
    data = json.dumps(body).encode()
    return data + b" " * (size - len(data))


# --- the body limit, however the body is framed ------------------------------------------------


def test_a_streamed_body_over_the_limit_is_413_and_one_at_the_limit_is_read() -> None:
    app = make_app()
    at_limit = post_streamed(app, padded(BODY, LIMIT))
    assert at_limit.status_code == 200
    assert at_limit.get_json()["body"] == BODY
    for over in (padded(BODY, LIMIT + 1), b'{"a": "' + b"x" * 5000 + b'"}'):
        response = post_streamed(app, over)
        assert response.status_code == 413, response.get_data()
        assert response.get_json() == {
            "error": f"request body in bytes is more than the limit of {LIMIT}",
            "type": "PayloadTooLargeError",
        }


@pytest.mark.parametrize(
    ("data", "headers", "reason"),
    [
        (json.dumps(BODY).encode()[:-1], {}, "body is not valid JSON"),
        (json.dumps([BODY, BODY]).encode()[:-3], {}, "body is not valid JSON"),
        (gzip.compress(json.dumps(BODY).encode())[:-1], {"Content-Encoding": "gzip"}, "gzip"),
        (b"", {}, "body is not valid JSON"),
    ],
    ids=["record", "list", "gzip", "nothing"],
)
def test_a_chunked_body_cut_short_is_400_never_answered(
    data: bytes, headers: dict[str, str], reason: str
) -> None:
    """granian ends a chunked body's stream where its framing breaks, without an error: what
    reaches the app is cut, and the body's own end marks refuse it."""
    response = post_streamed(make_app(), data, headers)
    assert response.status_code == 400, response.get_data()
    assert response.get_json()["type"] == "MalformedRequestError"
    assert reason in response.get_json()["error"]


def test_a_body_with_content_length_over_the_limit_says_its_size(client: FlaskClient) -> None:
    response = client.post("/echo", data=padded(BODY, LIMIT + 1), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {
        "error": f"request body in bytes is {LIMIT + 1}, more than the limit of {LIMIT}",
        "type": "PayloadTooLargeError",
    }


# --- Content-Encoding ----------------------------------------------------------------------------


def test_gzip_bodies_are_inflated(client: FlaskClient) -> None:
    data = json.dumps(BODY).encode()
    two_members = gzip.compress(data[:10]) + gzip.compress(data[10:])
    for encoding, sent in [("gzip", gzip.compress(data)), ("x-gzip", two_members)]:
        headers = {"Content-Encoding": encoding.upper()}
        response = client.post("/echo", data=sent, content_type="application/json", headers=headers)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["body"] == BODY
    identity = {"Content-Encoding": "identity"}
    response = client.post("/echo", json=BODY, headers=identity)
    assert response.get_json()["body"] == BODY
    streamed = post_streamed(client.application, gzip.compress(data), {"Content-Encoding": "gzip"})
    assert streamed.get_json()["body"] == BODY


def test_a_gzip_body_is_bounded_once_inflated(client: FlaskClient) -> None:
    sent = gzip.compress(padded(BODY, LIMIT + 1))
    assert len(sent) < LIMIT
    headers = {"Content-Encoding": "gzip"}
    response = client.post("/echo", data=sent, content_type="application/json", headers=headers)
    assert response.status_code == 413
    assert response.get_json() == {
        "error": f"gzip-inflated request body in bytes is more than the limit of {LIMIT}",
        "type": "PayloadTooLargeError",
    }
    at_limit = gzip.compress(padded(BODY, LIMIT))
    response = client.post("/echo", data=at_limit, content_type="application/json", headers=headers)
    assert response.get_json()["body"] == BODY


def test_a_gzip_bomb_is_refused_without_being_inflated() -> None:
    limit = 256 * 1024
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(zeros) for _ in range(200)) + compressor.flush()
    assert len(bomb) < limit  # 200 MiB once inflated: passes the limit on the wire
    client = make_app(limit).test_client()
    headers = {"Content-Encoding": "gzip"}
    tracemalloc.start()
    try:
        response = client.post("/echo", data=bomb, content_type="application/json", headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert response.get_json()["type"] == "PayloadTooLargeError"
    assert peak < 16 * 1024 * 1024  # a few times the limit, not the 200 MiB


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (gzip.compress(b'{"a": 1}')[:-6], "it ends in the middle"),
        (b'{"a": 1}', "incorrect header check"),
        (gzip.compress(b'{"a": 1}') + b"junk", "incorrect header check"),
    ],
)
def test_a_broken_gzip_body_is_400(client: FlaskClient, data: bytes, reason: str) -> None:
    headers = {"Content-Encoding": "gzip"}
    response = client.post("/echo", data=data, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["type"] == "MalformedRequestError"
    assert "body is not valid gzip" in response.get_json()["error"]
    assert reason in response.get_json()["error"]


@pytest.mark.parametrize(
    "encoding", ["br", "deflate", "compress", "zstd", "gzip, br", "gzip, gzip"]
)
def test_other_content_encodings_are_415(client: FlaskClient, encoding: str) -> None:
    headers = {"Content-Encoding": encoding}
    response = client.post("/echo", json=BODY, headers=headers)
    assert response.status_code == 415
    assert response.headers["Accept-Encoding"] == "gzip"
    assert response.get_json() == {
        "error": f"Content-Encoding '{encoding}' is not supported; send the body uncompressed "
        "or with Content-Encoding: gzip",
        "type": "UnsupportedEncodingError",
    }


# --- a client's text in answers ------------------------------------------------------------------


def test_json_response_never_fails_on_text_orjson_refuses() -> None:
    body = {"error": "bad \ud800", "problems": [{"field": "\udfff", "row": 0}], "\ud83d": [1]}
    response = json_response(body, 422)
    assert json.loads(response.get_data()) == {
        "error": "bad \\ud800",
        "problems": [{"field": "\\udfff", "row": 0}],
        "\\ud83d": [1],
    }
    numbers = json_response({"p": np.array([0.25, 0.75])})
    assert orjson.loads(numbers.get_data()) == {"p": [0.25, 0.75]}


def test_a_request_id_is_adopted_only_if_short_and_plain(client: FlaskClient) -> None:
    kept = ["req-42_a.b:c/d=e+f@g;h", "r" * 128]
    replaced = ["r" * 129, "x" * 4000, "has space", "<script>", "caf\u00e9", "-leading-dash"]
    for offered in kept + replaced:
        response = client.post("/echo", json=BODY, headers={"X-Request-ID": offered})
        echoed = response.headers["X-Request-ID"]
        assert response.get_json()["request_id"] == echoed  # the id the logs use
        if offered in kept:
            assert echoed == offered
        else:
            assert len(echoed) == 32, offered
            assert int(echoed, 16) >= 0  # a fresh uuid4, in hex


def test_a_long_content_type_is_not_echoed_whole(client: FlaskClient) -> None:
    response = client.post("/echo", data=b"{}", content_type="text/" + "x" * 4000)
    assert response.status_code == 400
    assert response.get_json()["error"] == (
        "malformed request: Content-Type must be application/json, got 'text/"
        + "x" * (ECHO_LIMIT - 5)
        + "'... (4005 characters)"
    )
