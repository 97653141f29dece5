"""Problems and warnings as validation collects them, and how they become the response's dicts."""

from __future__ import annotations

from operator import itemgetter
from typing import Final

PROBLEM_LIMIT: Final = 100
"""Most problems (and, likewise, warnings) listed for one request, to bound the response."""

MISSING: Final = object()
"""The value of a field that a record lacks."""
SKIP: Final = object()
"""Every field of a batch item that is not an object: that row's problem is already reported."""

# Problems or warnings before they become dicts: (row, position in the schema, field, text).
# Unknown fields take positions after the schema's, so that they sort after the known ones.
Findings = list[tuple[int, int, str | None, str]]

_JSON_TYPES: Final[dict[type, str]] = {bool: "boolean", int: "integer", float: "number"}
_JSON_TYPES.update({str: "string", list: "array", dict: "object", type(None): "null"})


# Each problem text starts with one of these, by kind (the metrics count problems by kind). The
# texts are written in `values` and `shapes`; tests check that every one maps to a kind.
PROBLEM_KINDS: Final = (
    ("missing", "missing"),
    ("must not be null", "null"),
    ("expected ", "wrong_type"),
    ("must be a finite number", "not_finite"),
    ("unknown category", "unknown_category"),
    ("out of range", "out_of_range"),
    ("unknown field", "unknown_field"),
    ("index keys differ", "misaligned"),
)
OTHER_KIND: Final = "other"


def problem_kind(text: str) -> str:
    """The kind of a problem, from its text: a kind in PROBLEM_KINDS, else OTHER_KIND."""
    for prefix, kind in PROBLEM_KINDS:
        if text.startswith(prefix):
            return kind
    return OTHER_KIND


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type ("integer", "array", ...)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def as_dicts(findings: Findings) -> list[dict[str, object]]:
    """The first PROBLEM_LIMIT findings, by row, then schema order, as dicts."""
    findings.sort(key=itemgetter(0, 1))
    return [
        {"row": row, "problem": text}
        if field is None
        else {"row": row, "field": field, "problem": text}
        for row, _, field, text in findings[:PROBLEM_LIMIT]
    ]
