"""What a request hands to the prediction log, and the JSON lines the writer makes of it."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import orjson

from loanapp.schema import FeatureValue

APPROVE = "approve"
DECLINE = "decline"


class Decisions(NamedTuple):
    """One request's decisions, as references to what the request built anyway (no copies)."""

    time: float
    """Seconds since the epoch when the request was answered."""
    request_id: str | None
    model: str
    version: str
    positive_index: int
    columns: dict[str, list[FeatureValue]]
    row_count: int
    probabilities: Any
    """Class probabilities, one row per input row: an array or nested lists."""
    labels: Any
    """Class index per row: an array or a list."""
    reasons: Sequence[Any] | None
    """Per row: a decline's reasons (a list, or None if it has none); None for no row."""


def day_of(decisions: Decisions) -> str:
    """The date partition (UTC) of a request's rows."""
    return _second_of(int(decisions.time))[:10]


@functools.lru_cache(maxsize=4)
def _second_of(second: int) -> str:
    """ISO 8601 of a whole second, UTC; the lines of one second share it (formatting is slow)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def iso_time(timestamp: float) -> str:
    """ISO 8601 in UTC to the millisecond, e.g. 2026-12-01T03:40:11.123Z."""
    second = int(timestamp)
    return f"{_second_of(second)}.{int((timestamp - second) * 1000):03d}Z"


def _positives(decisions: Decisions) -> tuple[list[float], list[bool]]:
    """Each row's p(bad) and whether it was declined; lists of one row need no numpy."""
    index = decisions.positive_index
    if isinstance(decisions.probabilities, np.ndarray) or isinstance(decisions.labels, np.ndarray):
        positive = np.asarray(decisions.probabilities, dtype=np.float64)[:, index]
        return positive.tolist(), (np.asarray(decisions.labels) == index).tolist()
    return (
        [float(row[index]) for row in decisions.probabilities],
        [label == index for label in decisions.labels],
    )


def to_lines(decisions: Decisions) -> bytes:
    """The rows of one request as JSON lines, newline-terminated."""
    when = iso_time(decisions.time)
    positive, declined = _positives(decisions)
    columns = decisions.columns.items()
    lines = []
    for row, (p_bad, is_declined) in enumerate(zip(positive, declined, strict=True)):
        line: dict[str, object] = {
            "time": when,
            "request_id": decisions.request_id,
            "model": decisions.model,
            "model_version": decisions.version,
            "row": row,
            "input": {name: column[row] for name, column in columns},
            "p_bad": p_bad,
            "decision": DECLINE if is_declined else APPROVE,
        }
        reasons = decisions.reasons[row] if decisions.reasons is not None else None
        if is_declined and reasons:
            line["reasons"] = reasons
        lines.append(_encoded(line))
    return b"".join(lines)


def _encoded(line: dict[str, object]) -> bytes:
    """One JSON line; text orjson refuses (a lone surrogate in an unseen category) is escaped."""
    try:
        return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return json.dumps(line, ensure_ascii=True).encode() + b"\n"
