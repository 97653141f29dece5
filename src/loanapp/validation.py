"""Validation of prediction request bodies against a model's input schema.

/predict (``single=True``) takes one applicant: a record ``{"funded_amnt": 16100, ...}``, or the
columnar form that ``pandas.DataFrame.from_dict`` reads, ``{"funded_amnt": [16100], ...}``, with one
row. /predict/batch takes a list of records, or the columnar form. A non-empty object whose values
are all lists is columnar; any other object is a record (and a list in it is a wrong-type problem).

A body of the wrong overall shape is a 400 `MalformedRequestError`: not an object (/predict),
neither a list nor columnar (batch), no rows, a columnar /predict body with other than one row,
columns of different lengths. More rows than ``max_rows`` is a 413 `PayloadTooLargeError`, raised
before any row is read. Problems inside rows make one 422 `RequestValidationError` listing each as
``{"row", "field", "problem"}``, by row, then schema order, then unknown fields, at most
`PROBLEM_LIMIT` of them. A batch item that is not an object is a problem of its row, without
"field"; a missing or unknown column of the columnar form is reported once, on row 0.

Integer features take integers and integral floats (16100.0 becomes 16100), number features take
integers and floats (made floats), category features take only strings seen in training (the model
would encode an unseen one as all zeros). Booleans, null, NaN and infinities are rejected.

Range rule: with margin = the largest of (maximum - minimum, |maximum|, |minimum|, 1) seen in
training, a value outside the hard range [0 if minimum >= 0 else minimum - margin, maximum + margin]
is rejected (most likely a unit or typing error); one inside it but outside [minimum, maximum] is
accepted and listed in `ValidatedRows.warnings`: the model extrapolates there. The margin is never
below the feature's own magnitude, so a feature that was nearly constant in training still takes
plausible values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from typing import Final, cast

from loanapp.errors import MalformedRequestError, PayloadTooLargeError, RequestValidationError
from loanapp.schema import FeatureSpec, FeatureValue, InputSchema

PROBLEM_LIMIT: Final = 100
"""Most problems (and, likewise, warnings) listed for one request, to bound the response."""
CATEGORY_LIST_LIMIT: Final = 60
"""Unknown-category messages list the allowed categories when there are at most this many."""

_MISSING: Final = object()
_SKIP: Final = object()  # every field of a batch item that is not an object: already reported
_JSON_TYPES: Final[dict[type, str]] = {bool: "boolean", int: "integer", float: "number"}
_JSON_TYPES.update({str: "string", list: "array", dict: "object", type(None): "null"})

# Problems or warnings before they become dicts: (row, position in the schema, field, text).
_Findings = list[tuple[int, int, str | None, str]]


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
    plan = _get_plan(schema)
    if single and type(body) is dict and len(body) == len(plan):
        plain = _plain_record(plan, body)
        if plain is not None:
            return ValidatedRows(plain, 1, [])
    problems: _Findings = []
    if isinstance(body, dict) and body and all(type(v) is list for v in body.values()):
        raw: dict[str, list[object]] = body
        row_count = _read_columnar(plan, raw, single, max_rows, problems)
    else:
        rows = _rows_of(body, single)
        row_count = _check_size(len(rows), max_rows)
        raw = _read_records(plan, rows, problems)
    warnings: _Findings = []
    columns: dict[str, list[object]] = {}
    for position, column in enumerate(plan.values()):
        if (values := raw.get(column.name)) is not None:
            columns[column.name] = _check_column(column, position, values, problems, warnings)
    if problems:
        raise RequestValidationError(_as_dicts(problems))
    valid_columns = cast(dict[str, list[FeatureValue]], columns)
    return ValidatedRows(valid_columns, row_count, _as_dicts(warnings))


@dataclass(frozen=True, slots=True)
class _Column:
    """One feature, with the bounds its checks need worked out in advance."""

    spec: FeatureSpec
    name: str
    kind: str
    categories: frozenset[str]
    minimum: float  # the training range, infinite when the schema records none
    maximum: float
    low: float  # the hard range
    high: float

    @classmethod
    def of(cls, spec: FeatureSpec) -> _Column:
        minimum = -math.inf if spec.minimum is None else spec.minimum
        maximum = math.inf if spec.maximum is None else spec.maximum
        margin = max(maximum - minimum, abs(maximum), abs(minimum), 1.0)
        low = 0.0 if minimum >= 0 else minimum - margin
        categories = frozenset(spec.categories or ())
        return cls(spec, spec.name, spec.kind, categories, minimum, maximum, low, maximum + margin)


# A schema prepared for validation: its columns by name, in schema order.
_Plan = dict[str, _Column]
_plans: dict[int, tuple[InputSchema, _Plan]] = {}


def _get_plan(schema: InputSchema) -> _Plan:
    # Preparing a schema takes longer than validating a row; a worker serves one or two schemas.
    cached_schema, plan = _plans.get(id(schema), (None, {}))
    if cached_schema is not schema:
        plan = {spec.name: _Column.of(spec) for spec in schema.features}
        if len(_plans) >= 8:
            _plans.clear()
        _plans[id(schema)] = (schema, plan)  # holding the schema keeps its id from being reused
    return plan


def _plain_record(plan: _Plan, record: dict[str, object]) -> dict[str, list[FeatureValue]] | None:
    """The columns of one record whose every value is of its exact type and within the training
    range, or None so that the full checks run and say what is off: the common case, fast."""
    columns: dict[str, list[FeatureValue]] = {}
    for name, column in plan.items():
        value = record.get(name)
        kind = type(value)
        if column.kind == "category":
            if kind is not str or value not in column.categories:
                return None
        elif kind is float or kind is int:
            number = cast(float, value)
            if not column.minimum <= number <= column.maximum:  # also NaN
                return None
            if column.kind == "integer":
                if kind is not int:
                    return None
            elif kind is int:
                value = float(number)
        else:
            return None
        columns[name] = [cast(FeatureValue, value)]
    return columns


def _rows_of(body: object, single: bool) -> list[object]:
    if single and isinstance(body, dict):
        return [body]
    if not single and isinstance(body, list) and body:
        return body
    if not single and isinstance(body, list | dict) and not body:
        raise MalformedRequestError("the batch has no rows")
    got = "an object whose values are not all lists" if isinstance(body, dict) else _json_type(body)
    expected = "an object of features" if single else "a list of objects or of equal-length lists"
    raise MalformedRequestError(f"expected {expected}, got {got}")


def _check_size(row_count: int, max_rows: int) -> int:
    if row_count > max_rows:
        raise PayloadTooLargeError("batch size in rows", row_count, max_rows)
    return row_count


def _read_columnar(
    plan: _Plan, body: dict[str, list[object]], single: bool, max_rows: int, problems: _Findings
) -> int:
    """The row count of a columnar body; missing and unknown columns are problems of row 0."""
    lengths = sorted({len(values) for values in body.values()})
    if len(lengths) > 1:
        shown = ", ".join(map(str, lengths[:10]))
        raise MalformedRequestError(f"columns must all have the same length; found lengths {shown}")
    if single and lengths[0] != 1:
        raise MalformedRequestError(f"expected one row in the columnar form, got {lengths[0]}")
    if lengths[0] == 0:
        raise MalformedRequestError("the batch has no rows")
    row_count = _check_size(lengths[0], max_rows)
    for position, name in enumerate(plan):
        if name not in body:
            problems.append((0, position, name, "missing"))
    _report_unknown(plan, 0, body, problems)
    return row_count


def _read_records(plan: _Plan, rows: list[object], problems: _Findings) -> dict[str, list[object]]:
    """One list per feature; a row's missing fields are _MISSING, and a non-object row is _SKIP."""
    names = tuple(plan)
    records = cast(list[dict[str, object]], rows)
    if len(names) > 1 and set(map(type, rows)) == {dict} and set(map(len, records)) == {len(names)}:
        try:  # transposing with itemgetter and zip runs in C: much faster than a loop per column
            transposed = zip(*map(itemgetter(*names), records), strict=True)
            return dict(zip(names, map(list, transposed), strict=True))
        except KeyError:
            pass  # a row lacks a feature, and so has an unknown field in its place
    for index, row in enumerate(rows):
        if len(problems) >= PROBLEM_LIMIT:
            break
        if type(row) is dict:
            _report_unknown(plan, index, row, problems)
        else:
            problems.append((index, -1, None, f"expected an object, got {_json_type(row)}"))
    return {
        name: [row.get(name, _MISSING) if type(row) is dict else _SKIP for row in rows]
        for name in names
    }


def _report_unknown(plan: _Plan, row: int, fields: Iterable[str], problems: _Findings) -> None:
    problem = f"unknown field; expected one of the model's {len(plan)} features"
    unknown = islice((name for name in fields if name not in plan), PROBLEM_LIMIT)
    problems.extend((row, at, name, problem) for at, name in enumerate(unknown, len(plan)))


def _check_column(
    column: _Column, position: int, values: list[object], problems: _Findings, warnings: _Findings
) -> list[object]:
    """The column's values normalised; its problems and warnings appended to those lists."""
    types = set(map(type, values))
    if len(values) == 1:
        pass  # one value: the per-value check below is quicker than the fast paths
    elif column.kind == "category":
        if types == {str} and column.categories.issuperset(cast(list[str], values)):
            return values
    elif types == {int} if column.kind == "integer" else types <= {int, float}:
        numbers = cast(list[float], values)
        try:  # NaN and infinities survive summation: a finite sum means finite numbers
            finite = math.isfinite(sum(numbers))
        except OverflowError:  # an integer too large for a float
            finite = False
        if finite and column.minimum <= min(numbers) <= max(numbers) <= column.maximum:
            return _normalised(column, values, types)
    found = warned = 0
    for row, value in enumerate(values):
        problem, warning = _check_value(column, value)
        if problem is not None:
            problems.append((row, position, column.name, problem))
            found += 1
            if found == PROBLEM_LIMIT:
                break  # later rows cannot make the list, and the request is rejected anyway
        if warning is not None and warned < PROBLEM_LIMIT:
            warnings.append((row, position, column.name, warning))
            warned += 1
    # Once anything is wrong the request is rejected, and values need no normalising.
    return values if problems else _normalised(column, values, types)


def _check_value(column: _Column, value: object) -> tuple[str | None, str | None]:
    """The problem that rejects a value, or the warning that accepts it, or neither."""
    if value is _SKIP:
        return None, None
    if value is _MISSING or value is None:
        return ("missing" if value is _MISSING else "must not be null"), None
    if column.kind == "category":
        if type(value) is not str:
            return f"expected a string, got {_json_type(value)}", None
        if value in column.categories:
            return None, None
        known = column.spec.categories or ()
        hint = f"the model knows {len(known)} categories"
        if len(known) <= CATEGORY_LIST_LIMIT:
            hint = "allowed: " + ", ".join(known)
        return f"unknown category {_shown(value)}; {hint}", None
    if type(value) is not int and type(value) is not float:
        article = "an integer" if column.kind == "integer" else "a number"
        return f"expected {article}, got {_json_type(value)}", None
    if type(value) is float and not math.isfinite(value):
        return "must be a finite number", None
    if column.kind == "integer" and type(value) is float and not value.is_integer():
        return f"expected an integer, got {_shown(value)}", None
    if value > column.high:
        reason = f"the training maximum {_bound(column.maximum)} plus a margin"
        return f"out of range: {_shown(value)} is above {_bound(column.high)} ({reason})", None
    if value < column.low:
        reason = f"the training minimum {_bound(column.minimum)} minus a margin"
        if column.minimum >= 0:
            reason = "the feature is never negative in training"
        return f"out of range: {_shown(value)} is below {_bound(column.low)} ({reason})", None
    if column.minimum <= value <= column.maximum:
        return None, None
    where = f"above the training maximum {_bound(column.maximum)}"
    if value < column.minimum:
        where = f"below the training minimum {_bound(column.minimum)}"
    return None, f"{where}; the prediction extrapolates"


def _normalised(column: _Column, values: list[object], types: set[type]) -> list[object]:
    """Integral floats of an integer feature made ints, and ints of a number feature floats."""
    if column.kind == "integer" and float in types:
        return [*map(int, cast(list[float], values))]
    if column.kind == "number" and int in types:
        return [*map(float, cast(list[float], values))]
    return values


def _as_dicts(findings: _Findings) -> list[dict[str, object]]:
    findings.sort(key=itemgetter(0, 1))
    return [
        {"row": row, "problem": text}
        if field is None
        else {"row": row, "field": field, "problem": text}
        for row, _, field, text in findings[:PROBLEM_LIMIT]
    ]


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    """A value for a message: its repr, shortened."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _bound(number: float) -> str:
    return f"{number:.10g}"
