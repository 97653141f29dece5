"""The shapes a prediction body may take, read into one list of raw values per field.

Shapes (what ``pandas.DataFrame.from_dict`` and ``DataFrame.to_dict`` read and write):

- a record ``{"funded_amnt": 16100, ...}`` (/predict only), or a list of records;
- columns of lists ``{"funded_amnt": [16100], ...}``, every list of the same length;
- columns of index -> value objects ``{"funded_amnt": {"0": 16100}, ...}``, pandas' default
  ``to_dict()``: every column must hold the same index keys, and rows follow the order of the
  first column's keys.

An object whose values are all lists or all objects is columns; any other object is a record
(a list or object inside it is then a wrong-type problem of its field). /predict takes one row in
any shape, including a list holding one record.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, KeysView
from itertools import islice
from operator import itemgetter
from typing import Final, cast

from loanapp.errors import MalformedRequestError, PayloadTooLargeError, clip, quoted
from loanapp.validation.findings import MISSING, PROBLEM_LIMIT, SKIP, Findings, json_type

KEYS_LISTED: Final = 5
"""Most index keys named in a misaligned column's problem."""

Columns = dict[str, list[object]]


def read_columns(
    features: Collection[str], body: object, *, single: bool, max_rows: int, problems: Findings
) -> tuple[Columns, int]:
    """The body's values as one list per field, and its row count.

    A body of the wrong shape raises MalformedRequestError (400), more than `max_rows` rows
    PayloadTooLargeError (413) before any row is read. Problems of whole columns (missing,
    unknown, misaligned; reported on row 0) and of rows that are not objects go to `problems`,
    and such columns are left out of the result.
    """
    if isinstance(body, dict) and body:
        kinds = set(map(type, body.values()))
        if kinds == {list}:
            return _read_lists(features, body, single, max_rows, problems)
        if kinds == {dict}:
            return _read_index_objects(features, body, single, max_rows, problems)
        if kinds == {list, dict}:
            raise MalformedRequestError(
                "columns must all be lists or all be objects of index -> value; found both"
            )
    rows = _rows_of(body, single)
    row_count = _check_size(len(rows), max_rows)
    return _read_records(features, rows, problems), row_count


def _rows_of(body: object, single: bool) -> list[object]:
    if isinstance(body, list):
        if single and len(body) != 1:
            raise MalformedRequestError(f"expected one row, got a list of {len(body)}")
        if not body:
            raise MalformedRequestError("the batch has no rows")
        return body
    if isinstance(body, dict):
        if single:
            return [body]
        if not body:
            raise MalformedRequestError("the batch has no rows")
    got = "an object whose values are not all lists or all objects"
    if not isinstance(body, dict):
        got = json_type(body)
    expected = "an object of features" if single else "a list of objects, or an object of columns"
    raise MalformedRequestError(f"expected {expected}, got {got}")


def _check_size(row_count: int, max_rows: int) -> int:
    if row_count > max_rows:
        raise PayloadTooLargeError("batch size in rows", row_count, max_rows)
    return row_count


def _columnar_row_count(row_count: int, single: bool, max_rows: int) -> int:
    if single and row_count != 1:
        raise MalformedRequestError(f"expected one row in the columnar form, got {row_count}")
    if row_count == 0:
        raise MalformedRequestError("the batch has no rows")
    return _check_size(row_count, max_rows)


def _read_lists(
    features: Collection[str], body: Columns, single: bool, max_rows: int, problems: Findings
) -> tuple[Columns, int]:
    """Columns of lists, as they are."""
    lengths = sorted({len(values) for values in body.values()})
    if len(lengths) > 1:
        shown = ", ".join(map(str, lengths[:10]))
        raise MalformedRequestError(f"columns must all have the same length; found lengths {shown}")
    row_count = _columnar_row_count(lengths[0], single, max_rows)
    _report_columns(features, body, problems)
    return body, row_count


def _read_index_objects(
    features: Collection[str],
    body: dict[str, dict[str, object]],
    single: bool,
    max_rows: int,
    problems: Findings,
) -> tuple[Columns, int]:
    """Columns of index -> value objects, as lists in the order of the first column's keys."""
    first_name, first = next(iter(body.items()))
    row_count = _columnar_row_count(len(first), single, max_rows)
    index = first.keys()
    keys = list(index)
    columns: Columns = {}
    for name, column in body.items():
        if column.keys() == index:  # a set comparison: the same keys, in any order
            columns[name] = [*map(column.__getitem__, keys)]
        elif name in features:  # an unknown column is reported as unknown, whatever its keys
            position = next(at for at, feature in enumerate(features) if feature == name)
            problem = _misaligned(first_name, index, column)
            problems.append((0, position, name, problem))
    _report_columns(features, body, problems)
    return columns, row_count


def _misaligned(first_name: str, index: KeysView[str], column: dict[str, object]) -> str:
    missing = [key for key in index if key not in column]
    extra = [key for key in column if key not in index]
    found = [(label, keys) for label, keys in (("missing", missing), ("extra", extra)) if keys]
    listed = "; ".join(f"{label} {_listed(keys)}" for label, keys in found)
    return f"index keys differ from those of the first column {quoted(first_name)}: {listed}"


def _listed(keys: list[str]) -> str:
    shown = ", ".join(map(quoted, keys[:KEYS_LISTED]))
    more = len(keys) - KEYS_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _report_columns(
    features: Collection[str], body: Columns | dict[str, dict[str, object]], problems: Findings
) -> None:
    """Missing and unknown columns, each once, on row 0."""
    for position, name in enumerate(features):
        if name not in body:
            problems.append((0, position, name, "missing"))
    _report_unknown(features, 0, body, problems)


def _read_records(features: Collection[str], rows: list[object], problems: Findings) -> Columns:
    """One list per feature; a row's missing fields are MISSING, and a non-object row is SKIP."""
    names = tuple(features)
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
            _report_unknown(features, index, row, problems)
        else:
            problems.append((index, -1, None, f"expected an object, got {json_type(row)}"))
    return {
        name: [row.get(name, MISSING) if type(row) is dict else SKIP for row in rows]
        for name in names
    }


def _report_unknown(
    features: Collection[str], row: int, fields: Iterable[str], problems: Findings
) -> None:
    problem = f"unknown field; expected one of the model's {len(features)} features"
    unknown = islice((name for name in fields if name not in features), PROBLEM_LIMIT)
    # The name is the client's: clipped, since it is repeated in the response and its message.
    problems.extend(
        (row, at, clip(name), problem) for at, name in enumerate(unknown, len(features))
    )
