"""The headers a predict-API worker names itself with, and how the model server reads them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loanapp.worker_identity import (
    ERROR_HEADER,
    MAX_ERROR_CHARS,
    PREDICTOR_HEADER,
    SINCE_HEADER,
    VERSION_HEADER,
    WORKER_HEADER,
    WorkerReport,
    parse_worker_headers,
)

VERSION = "ab" * 32
SINCE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_report_survives_its_headers() -> None:
    report = WorkerReport("api-7f9c.local", 4242, VERSION, SINCE, "trees", "store down")
    assert parse_worker_headers(report.to_headers()) == report


def test_a_long_or_unprintable_error_is_clipped_and_stays_ascii() -> None:
    report = WorkerReport("host", 1, last_error="é\r\n" + "x" * 1000)
    value = report.to_headers()[ERROR_HEADER]
    assert value.isascii()
    assert "\r" not in value
    assert "\n" not in value
    parsed = parse_worker_headers(report.to_headers())
    assert parsed is not None
    assert parsed.last_error is not None
    assert len(parsed.last_error) < MAX_ERROR_CHARS + 30


@pytest.mark.parametrize(
    "worker",
    ["", "host", "host/", "/12", "host/12345678901", "ho st/1", "-host/1", "h" * 101 + "/1"],
)
def test_a_malformed_worker_name_is_no_report(worker: str) -> None:
    assert parse_worker_headers({WORKER_HEADER: worker, VERSION_HEADER: VERSION}) is None


@pytest.mark.parametrize(
    ("header", "value", "field"),
    [
        (VERSION_HEADER, "abc", "version"),
        (VERSION_HEADER, "AB" * 32, "version"),
        (SINCE_HEADER, "yesterday", "since"),
        (SINCE_HEADER, "2026-01-02T03:04:05", "since"),  # no time zone: not comparable
        (SINCE_HEADER, "2026-01-02T03:04:05+00:00" + " " * 40, "since"),
        (PREDICTOR_HEADER, "x" * 41, "predictor"),
        (PREDICTOR_HEADER, "<script>", "predictor"),
    ],
)
def test_a_malformed_field_is_dropped_alone(header: str, value: str, field: str) -> None:
    report = parse_worker_headers({WORKER_HEADER: "host/1", header: value})
    assert report is not None
    assert report.worker == "host/1"
    assert getattr(report, field) is None
