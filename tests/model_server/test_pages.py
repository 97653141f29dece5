"""How the dashboard words times, durations and versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from loanapp.model_server.pages import duration, moment, short_version


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-01-02T03:04:05.678+00:00", "2026-01-02 03:04:05 UTC"),
        ("2026-01-02T05:04:05+02:00", "2026-01-02 03:04:05 UTC"),
        (
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-1))),
            "2026-01-02 04:04:05 UTC",
        ),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02 03:04:05 UTC"),
        (None, ""),
    ],
)
def test_moment(value: str | datetime | None, shown: str) -> None:
    assert moment(value) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0.0123, "12 ms"), (0.9994, "999 ms"), (2.25, "2.2 s"), (None, "")]
)
def test_duration(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


def test_short_version() -> None:
    assert short_version("0123456789abcdef" * 4) == "0123456789ab"
    assert short_version(None) == "none"
