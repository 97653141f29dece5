"""The checks of each feature's values: type, category, range; with a fast path for the usual case.

Integer features take integers and integral floats (16100.0 becomes 16100), number features take
integers and floats (made floats), category features take only strings seen in training (the model
would encode an unseen one as all zeros). Booleans, null, NaN and infinities are rejected.

Range rule: with margin = the largest of (maximum - minimum, |maximum|, |minimum|, 1) seen in
training, a value outside the hard range [0 if minimum >= 0 else minimum - margin, maximum + margin]
is rejected (most likely a unit or typing error); one inside it but outside [minimum, maximum] is
accepted with a warning: the model extrapolates there. The margin is never below the feature's own
magnitude, so a feature that was nearly constant in training still takes plausible values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, cast

from loanapp.errors import quoted
from loanapp.schema import FeatureKind, FeatureSpec, FeatureValue, InputSchema
from loanapp.validation.findings import MISSING, PROBLEM_LIMIT, SKIP, Findings, json_type

CATEGORY_LIST_LIMIT: Final = 60
"""Unknown-category messages list the allowed categories when there are at most this many."""


@dataclass(frozen=True, slots=True)
class Column:
    """One feature, with the bounds its checks need worked out in advance."""

    spec: FeatureSpec
    name: str
    kind: FeatureKind
    categories: frozenset[str]
    minimum: float  # the training range, infinite when the schema records none
    maximum: float
    low: float  # the hard range
    high: float
    plain_check: tuple[str, frozenset[str] | None, float, float, bool]
    """What `plain_record` checks, unpacked at once: name, categories (None for numbers),
    training minimum and maximum, integer or not."""

    @classmethod
    def of(cls, spec: FeatureSpec) -> Column:
        minimum = -math.inf if spec.minimum is None else spec.minimum
        maximum = math.inf if spec.maximum is None else spec.maximum
        margin = max(maximum - minimum, abs(maximum), abs(minimum), 1.0)
        low = 0.0 if minimum >= 0 else minimum - margin
        categories = frozenset(spec.categories or ())
        plain = (
            spec.name,
            categories if spec.kind == "category" else None,
            minimum,
            maximum,
            spec.kind == "integer",
        )
        high = maximum + margin
        return cls(spec, spec.name, spec.kind, categories, minimum, maximum, low, high, plain)


# A schema prepared for validation: its columns by name, in schema order.
Plan = dict[str, Column]
_plans: dict[int, tuple[InputSchema, Plan]] = {}


def get_plan(schema: InputSchema) -> Plan:
    """The schema's columns with their bounds worked out, kept for the next request."""
    # Preparing a schema takes longer than validating a row; a worker serves one or two schemas.
    cached_schema, plan = _plans.get(id(schema), (None, {}))
    if cached_schema is not schema:
        plan = {spec.name: Column.of(spec) for spec in schema.features}
        if len(_plans) >= 8:
            _plans.clear()
        _plans[id(schema)] = (schema, plan)  # holding the schema keeps its id from being reused
    return plan


def plain_record(plan: Plan, record: dict[str, object]) -> dict[str, list[FeatureValue]] | None:
    """The columns of one record whose every value is of its exact type and within the training
    range, or None so that the full checks run and say what is off: the common case, fast."""
    columns: dict[str, list[FeatureValue]] = {}
    for column in plan.values():
        name, categories, minimum, maximum, integer = column.plain_check
        value = record.get(name)
        kind = type(value)
        if categories is not None:
            if kind is not str or value not in categories:
                return None
        elif kind is int:
            if not minimum <= cast(int, value) <= maximum:
                return None
            if not integer:
                value = float(cast(int, value))
        elif kind is float:
            if integer or not minimum <= cast(float, value) <= maximum:  # also NaN
                return None
        else:
            return None
        columns[name] = [cast(FeatureValue, value)]
    return columns


def check_column(
    column: Column, position: int, values: list[object], problems: Findings, warnings: Findings
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


def _check_value(column: Column, value: object) -> tuple[str | None, str | None]:
    """The problem that rejects a value, or the warning that accepts it, or neither."""
    if value is SKIP:
        return None, None
    if value is MISSING or value is None:
        return ("missing" if value is MISSING else "must not be null"), None
    if column.kind == "category":
        if type(value) is not str:
            return f"expected a string, got {json_type(value)}", None
        if value in column.categories:
            return None, None
        known = column.spec.categories or ()
        hint = f"the model knows {len(known)} categories"
        if len(known) <= CATEGORY_LIST_LIMIT:
            hint = "allowed: " + ", ".join(known)
        return f"unknown category {quoted(value)}; {hint}", None
    if type(value) is not int and type(value) is not float:
        article = "an integer" if column.kind == "integer" else "a number"
        return f"expected {article}, got {json_type(value)}", None
    if type(value) is float and not math.isfinite(value):
        return "must be a finite number", None
    if column.kind == "integer" and type(value) is float and not value.is_integer():
        return f"expected an integer, got {quoted(value)}", None
    if value > column.high:
        reason = f"the training maximum {_bound(column.maximum)} plus a margin"
        return f"out of range: {quoted(value)} is above {_bound(column.high)} ({reason})", None
    if value < column.low:
        reason = f"the training minimum {_bound(column.minimum)} minus a margin"
        if column.minimum >= 0:
            reason = "the feature is never negative in training"
        return f"out of range: {quoted(value)} is below {_bound(column.low)} ({reason})", None
    if column.minimum <= value <= column.maximum:
        return None, None
    where = f"above the training maximum {_bound(column.maximum)}"
    if value < column.minimum:
        where = f"below the training minimum {_bound(column.minimum)}"
    return None, f"{where}; the prediction extrapolates"


def _normalised(column: Column, values: list[object], types: set[type]) -> list[object]:
    """Integral floats of an integer feature made ints, and ints of a number feature floats."""
    if column.kind == "integer" and float in types:
        return [*map(int, cast(list[float], values))]
    if column.kind == "number" and int in types:
        return [*map(float, cast(list[float], values))]
    return values


def _bound(number: float) -> str:
    return f"{number:.10g}"
