"""Validation of prediction request bodies against a model's input schema.

/predict (``single=True``) takes one applicant, /predict/batch many, in any of the shapes that
`loanapp.validation.shapes` describes: records, columns of lists, or columns of index -> value
objects (pandas' ``to_dict()`` in its "records", "list" and default orients).

A body of the wrong overall shape is a 400 `MalformedRequestError`: not one of those shapes, no
rows, other than one row for /predict, columns of different lengths, lists and objects mixed as
columns. More rows than ``max_rows`` is a 413 `PayloadTooLargeError`, raised before any row is
read. Problems inside rows make one 422 `RequestValidationError` listing each as
``{"row", "field", "problem"}``, by row, then schema order, then unknown fields, at most
`PROBLEM_LIMIT` of them. A batch item that is not an object is a problem of its row, without
"field"; a missing, unknown or misaligned column (index keys other than the first column's) is
reported once, on row 0. The checks of each value are `loanapp.validation.values`'.

Every client text a problem repeats (an unknown field's name, a value, an index key) is clipped
and escaped by `loanapp.errors.clip` or `quoted`: a 4,000-character name is never echoed whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from loanapp.errors import RequestValidationError
from loanapp.schema import FeatureValue, InputSchema
from loanapp.validation.findings import PROBLEM_LIMIT, Findings, as_dicts
from loanapp.validation.shapes import read_columns
from loanapp.validation.values import CATEGORY_LIST_LIMIT, check_column, get_plan, plain_record

__all__ = ["CATEGORY_LIST_LIMIT", "PROBLEM_LIMIT", "ValidatedRows", "validate_request"]


@dataclass(frozen=True)
class ValidatedRows:
    """Rows that match the schema: one normalised list per feature, keys in schema order."""

    columns: dict[str, list[FeatureValue]]
    row_count: int
    warnings: list[dict[str, object]]


def validate_request(
    schema: InputSchema, body: object, *, single: bool, max_rows: int
) -> ValidatedRows:
    """Check a parsed /predict (`single`) or /predict/batch body; raise on any problem."""
    plan = get_plan(schema)
    if type(body) is dict and len(body) == len(plan):
        # One row, as a record (/predict) or as one-item columns: the fast path if it is plain.
        plain = plain_record(plan, body) if single else None
        if plain is None and (row := _only_row(body)) is not None:
            plain = plain_record(plan, row)
        if plain is not None:
            return ValidatedRows(plain, 1, [])
    problems: Findings = []
    raw, row_count = read_columns(plan, body, single=single, max_rows=max_rows, problems=problems)
    warnings: Findings = []
    columns: dict[str, list[object]] = {}
    for position, column in enumerate(plan.values()):
        if (values := raw.get(column.name)) is not None:
            columns[column.name] = check_column(column, position, values, problems, warnings)
    if problems:
        raise RequestValidationError(as_dicts(problems))
    valid_columns = cast(dict[str, list[FeatureValue]], columns)
    return ValidatedRows(valid_columns, row_count, as_dicts(warnings))


def _only_row(columns: dict[str, object]) -> dict[str, object] | None:
    """The one row of columns that are all one-item lists, as a record; None otherwise."""
    row: dict[str, object] = {}
    for name, values in columns.items():
        if type(values) is not list or len(values) != 1:
            return None
        row[name] = values[0]
    return row
