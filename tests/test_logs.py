"""Log lines: JSON with the request's id, route, status, duration and version; text by default."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from logging.config import DictConfigurator

import orjson
import pytest
from flask import Flask, Response

from loanapp import logs
from loanapp.logs import (
    REQUEST_LOGGER,
    TEXT_FORMAT,
    JsonFormatter,
    LogFormat,
    RequestLines,
    configure_logging,
    granian_logging_config,
    model_version_var,
    request_id_var,
)
from loanapp.request_records import RECORDER, FinishedRequest
from loanapp.web import install_common_handlers, json_response


@pytest.fixture
def json_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Everything logged during the test, as JSON lines of the predict API."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("predict-api"))
    monkeypatch.setattr(logs, "_request_lines", RequestLines("predict-api", "json", stream))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def make_app() -> Flask:
    app = Flask(__name__)
    install_common_handlers(app, "predict-api")

    @app.post("/score/<int:number>")
    def score(number: int) -> Response:
        model_version_var.set("abc123")
        logging.getLogger("loanapp.test").info("scoring")
        return json_response({"number": number})

    return app


def records(stream: io.StringIO) -> list[dict[str, object]]:
    RECORDER.drain()  # request lines are written by the drain, off the request's thread
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_line_per_request_with_its_id_route_status_and_version(json_lines) -> None:
    client = make_app().test_client()
    secret = "applicant-secret-value"
    response = client.post(
        "/score/7?name=" + secret, json={"annual_inc": secret}, headers={"X-Request-ID": "req-1"}
    )
    assert response.status_code == 200

    inside, request_line = records(json_lines)
    assert inside["message"] == "scoring"
    assert inside["request_id"] == "req-1"  # every line of the request carries its id
    assert request_line["logger"] == "loanapp.requests"
    assert request_line["level"] == "INFO"
    assert request_line["service"] == "predict-api"
    assert request_line["request_id"] == "req-1"
    assert request_line["route"] == "/score/<int:number>"  # the rule, never the path
    assert request_line["method"] == "POST"
    assert request_line["status"] == 200
    assert request_line["model_version"] == "abc123"
    assert isinstance(request_line["duration_seconds"], float)
    assert str(request_line["time"]).endswith("+00:00")
    assert secret not in json_lines.getvalue()
    assert request_id_var.get() is None  # the thread's next lines belong to no request


def test_unknown_paths_and_methods_are_logged_with_fixed_labels(json_lines) -> None:
    client = make_app().test_client()
    assert client.get("/random/../path/" + "x" * 500).status_code == 404
    assert client.open("/score/1", method="BREW").status_code == 405
    lines = records(json_lines)
    assert [(line["route"], line["method"], line["status"]) for line in lines] == [
        ("unmatched", "GET", 404),
        ("unmatched", "other", 405),
    ]
    assert "x" * 100 not in json_lines.getvalue()


def test_an_exception_stays_inside_its_json_line(json_lines) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("loanapp.test").exception("failed")
    (line,) = records(json_lines)
    assert line["level"] == "ERROR"
    assert "ValueError: boom" in str(line["exception"])


@pytest.mark.parametrize(("log_format", "is_json"), [("json", True), ("text", False)])
def test_the_format_is_chosen_by_the_setting(log_format, is_json) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", log_format, "model-server")
        (handler,) = root.handlers
        assert isinstance(handler.formatter, JsonFormatter) is is_json
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_granian_lines_use_the_same_json_formatter() -> None:
    config = granian_logging_config("model-server")
    # What granian's dictConfig does with the formatter entry, without reconfiguring this process.
    formatter = DictConfigurator(config).configure_formatter(config["formatters"]["json"])  # type: ignore[index]
    assert isinstance(formatter, JsonFormatter)
    assert formatter.service == "model-server"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_request_line_is_what_the_configured_formatter_writes(log_format: LogFormat) -> None:
    """Request lines skip `logging` for speed; they must still read like its lines."""
    request = FinishedRequest(
        1_764_560_000.25, "predict-api", "req-9", "/predict", "POST", 200, 0.0004, "abc"
    )
    stream = io.StringIO()
    RequestLines("predict-api", log_format, stream).write([request])
    record = logging.LogRecord(
        REQUEST_LOGGER.name,
        logging.INFO,
        __file__,
        1,
        "POST /predict 200 0.4 ms version abc",
        (),
        None,
    )
    record.created, record.msecs = request.finished_at, 250.0
    formatter = (
        JsonFormatter("predict-api") if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    token = request_id_var.set("req-9")
    try:
        expected = formatter.format(record)
    finally:
        request_id_var.reset(token)
    written = stream.getvalue().rstrip("\n")
    if log_format == "text":
        assert written == expected
    else:
        extras = {"route": "/predict", "method": "POST", "status": 200, "duration_seconds": 0.0004}
        assert orjson.loads(written) == orjson.loads(expected) | extras | {"model_version": "abc"}
