"""Request validation: real schema, real rows; every problem named by row, field and message."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, cast

import orjson
import pandas as pd
import pytest

from loanapp.artifacts import load_model
from loanapp.errors import (
    ECHO_LIMIT,
    MalformedRequestError,
    PayloadTooLargeError,
    RequestValidationError,
)
from loanapp.schema import FeatureSpec, InputSchema
from loanapp.training.data import load_dataset
from loanapp.training.train import TrainingResult
from loanapp.validation import PROBLEM_LIMIT, ValidatedRows, validate_request
from loanapp.validation.findings import OTHER_KIND, problem_kind

DELETE = object()


@pytest.fixture(scope="module")
def schema(logreg: TrainingResult) -> InputSchema:
    """The 22-feature schema stored with a real model."""
    return load_model(logreg.artifact, logreg.version).metadata.input_schema


@pytest.fixture(scope="module")
def rows(schema: InputSchema) -> list[dict[str, Any]]:
    """Real applicants inside the training range of the schema (so without warnings)."""
    records = cast(list[dict[str, Any]], load_dataset().features.to_dict("records"))
    inside = [row for row in records if _inside(schema, row)]
    assert len(inside) >= 100
    return inside[:100]


def _inside(schema: InputSchema, row: dict[str, Any]) -> bool:
    return all(
        row[spec.name] in (spec.categories or ())
        if spec.kind == "category"
        else (spec.minimum or 0) <= row[spec.name] <= (spec.maximum or 0)
        for spec in schema.features
    )


def _training_range(schema: InputSchema, name: str) -> tuple[float, float]:
    spec = next(spec for spec in schema.features if spec.name == name)
    assert spec.minimum is not None
    assert spec.maximum is not None
    return spec.minimum, spec.maximum


def _columnar(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [record[name] for record in records] for name in records[0]}


def _indexed(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """pandas' default `to_dict()` form, index keys as JSON has them: strings, here not 0..n-1."""
    keys = [str(3 * at + 1) for at in range(len(records))]
    return {name: dict(zip(keys, (r[name] for r in records), strict=True)) for name in records[0]}


def _as_sent(body: object) -> Any:
    """A body as the server parses it: through JSON (integer keys become strings)."""
    return json.loads(json.dumps(body))


def _reject(schema: InputSchema, body: object, *, single: bool) -> list[dict[str, object]]:
    with pytest.raises(RequestValidationError) as caught:
        validate_request(schema, body, single=single, max_rows=1000)
    assert caught.value.status_code == 422
    return caught.value.problems


def _with(row: dict[str, Any], field: str, value: object) -> dict[str, Any]:
    changed = dict(row)
    if value is DELETE:
        del changed[field]
    else:
        changed[field] = value
    return changed


# --- accepted bodies -------------------------------------------------------------------------


def test_one_record_is_accepted_with_columns_in_schema_order(schema, rows) -> None:
    reversed_row = dict(reversed(list(rows[0].items())))
    result = validate_request(schema, reversed_row, single=True, max_rows=1)
    assert result == ValidatedRows({name: [rows[0][name]] for name in schema.names}, 1, [])
    assert list(result.columns) == schema.names


@pytest.mark.parametrize("form", ["records", "columns"])
def test_batch_is_accepted_with_values_equal_to_the_input(schema, rows, form) -> None:
    shuffled = [dict(reversed(list(row.items()))) for row in rows]
    body = shuffled if form == "records" else _columnar(shuffled)
    result = validate_request(schema, body, single=False, max_rows=100)
    assert list(result.columns) == schema.names
    assert result.columns == {name: [row[name] for row in rows] for name in schema.names}
    assert result.row_count == 100
    assert result.warnings == []


def test_one_row_in_the_columnar_form_is_accepted(schema, rows) -> None:
    result = validate_request(schema, _columnar(rows[:1]), single=True, max_rows=1)
    assert result.columns == {name: [rows[0][name]] for name in schema.names}
    assert result.row_count == 1


@pytest.mark.parametrize("single", [True, False])
def test_integral_floats_become_ints_and_ints_of_number_features_become_floats(
    schema, rows, single
) -> None:
    chosen = rows[:1] if single else rows[:5]
    changed = [
        row | {"funded_amnt": float(row["funded_amnt"]), "annual_inc": int(row["annual_inc"])}
        for row in chosen
    ]
    result = validate_request(schema, changed[0] if single else changed, single=single, max_rows=5)
    assert result.columns["funded_amnt"] == [row["funded_amnt"] for row in chosen]
    assert {type(value) for value in result.columns["funded_amnt"]} == {int}
    assert result.columns["annual_inc"] == [float(int(row["annual_inc"])) for row in chosen]
    assert {type(value) for value in result.columns["annual_inc"]} == {float}


# --- one wrong value, in every body form -------------------------------------------------------

VALUE_PROBLEMS = [
    pytest.param("funded_amnt", None, "must not be null", id="null"),
    pytest.param("funded_amnt", "16100", "expected an integer, got string", id="int-string"),
    pytest.param("funded_amnt", True, "expected an integer, got boolean", id="int-bool"),
    pytest.param("funded_amnt", 16100.5, "expected an integer, got 16100.5", id="int-fraction"),
    pytest.param("funded_amnt", [16100], "expected an integer, got array", id="int-list"),
    pytest.param("funded_amnt", math.nan, "must be a finite number", id="int-nan"),
    pytest.param("int_rate", "13.99", "expected a number, got string", id="number-string"),
    pytest.param("int_rate", False, "expected a number, got boolean", id="number-bool"),
    pytest.param("int_rate", {"v": 1}, "expected a number, got object", id="number-object"),
    pytest.param("int_rate", math.nan, "must be a finite number", id="nan"),
    pytest.param("int_rate", math.inf, "must be a finite number", id="infinity"),
    pytest.param("int_rate", -math.inf, "must be a finite number", id="minus-infinity"),
    pytest.param("term", 36, "expected a string, got integer", id="category-int"),
    pytest.param(
        "term", "term_48", "unknown category 'term_48'; allowed: term_36, term_60", id="unseen"
    ),
    pytest.param(
        "term", "x" * 1000, "category '" + "x" * 80 + "'... (1000 characters); all", id="long"
    ),
    pytest.param("funded_amnt", -1, "out of range: -1 is below 0 (the feature is never", id="neg"),
    pytest.param(
        "delinq_2yrs", 10**30, "out of range: 1000000000000000000000000000000 is ab", id="huge"
    ),
    pytest.param("int_rate", 10**400, "out of range: 1000000000", id="too-big-for-a-float"),
]
SINGLE_FORMS = ["record", "listed-record", "columns", "indexed"]
FORMS = [*SINGLE_FORMS, "batch-records", "batch-columns", "batch-indexed"]


def _body_with(rows: list[dict[str, Any]], form: str, field: str, value: object) -> object:
    """`value` in `field` of row 0 (single forms) or row 2 of 4 (batch forms)."""
    if form in SINGLE_FORMS:
        changed = [_with(rows[0], field, value)]
    else:
        changed = [*rows[:2], _with(rows[2], field, value), rows[3]]
    if form == "record":
        return changed[0]
    if form in ("listed-record", "batch-records"):
        return changed
    return _columnar(changed) if form.endswith("columns") else _indexed(changed)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("field", "value", "message"), VALUE_PROBLEMS)
def test_a_wrong_value_is_named_by_row_and_field(schema, rows, form, field, value, message) -> None:
    body = _body_with(rows, form, field, value)
    problems = _reject(schema, body, single=form in SINGLE_FORMS)
    assert len(problems) == 1
    assert problems[0]["row"] == (2 if form.startswith("batch") else 0)
    assert problems[0]["field"] == field
    assert message in str(problems[0]["problem"])


@pytest.mark.parametrize("form", ["record", "batch-records"])
def test_missing_and_unknown_fields_are_named(schema, rows, form) -> None:
    broken = _with(_with(rows[0], "term", DELETE), "colour", "red")
    body = broken if form == "record" else [rows[1], broken]
    row = 0 if form == "record" else 1
    assert _reject(schema, body, single=form == "record") == [
        {"row": row, "field": "term", "problem": "missing"},
        {
            "row": row,
            "field": "colour",
            "problem": "unknown field; expected one of the model's 22 features",
        },
    ]


def test_missing_and_unknown_columns_are_reported_once_on_row_0(schema, rows) -> None:
    columns = _columnar(rows[:3])
    del columns["int_rate"]
    columns["colour"] = ["red", "green", "blue"]
    assert _reject(schema, columns, single=False) == [
        {"row": 0, "field": "int_rate", "problem": "missing"},
        {
            "row": 0,
            "field": "colour",
            "problem": "unknown field; expected one of the model's 22 features",
        },
    ]


def test_an_empty_object_for_predict_lists_every_feature_as_missing(schema) -> None:
    problems = _reject(schema, {}, single=True)
    assert problems == [{"row": 0, "field": name, "problem": "missing"} for name in schema.names]


def test_problems_in_several_rows_are_all_reported_in_order(schema, rows) -> None:
    body: list[Any] = list(rows[:8])
    body[1] = _with(rows[1], "term", "term_99")
    body[3] = rows[3] | {"zzz": 1, "funded_amnt": "lots", "annual_inc": None}
    body[5] = "not an applicant"
    body[7] = _with(rows[7], "int_rate", math.inf)
    problems = _reject(schema, body, single=False)
    assert [(problem["row"], problem.get("field")) for problem in problems] == [
        (1, "term"),
        (3, "funded_amnt"),
        (3, "annual_inc"),
        (3, "zzz"),
        (5, None),
        (7, "int_rate"),
    ]
    assert problems[4] == {"row": 5, "problem": "expected an object, got string"}
    assert "unknown category 'term_99'" in str(problems[0]["problem"])


def test_a_row_sent_as_an_array_of_values_is_a_problem_of_its_row(schema, rows) -> None:
    body = [rows[0], list(rows[1].values()), rows[2]]
    assert _reject(schema, body, single=False) == [
        {"row": 1, "problem": "expected an object, got array"}
    ]


def test_problems_are_capped_keeping_the_first_rows(schema, rows) -> None:
    body = [row | {"funded_amnt": "x", "term": 1} for row in rows] * 3
    problems = _reject(schema, body, single=False)
    assert len(problems) == PROBLEM_LIMIT
    expected = [(row, field) for row in range(50) for field in ("funded_amnt", "term")]
    assert [(problem["row"], problem["field"]) for problem in problems] == expected


# --- ranges ------------------------------------------------------------------------------------


@pytest.mark.parametrize("single", [True, False])
def test_values_beyond_the_training_range_are_accepted_with_a_warning(schema, rows, single) -> None:
    minimum, maximum = _training_range(schema, "funded_amnt")
    above = int(maximum + (maximum - minimum) / 2)
    below = int(minimum / 2)
    above_warning = f"above the training maximum {maximum:g}; the prediction extrapolates"
    below_warning = f"below the training minimum {minimum:g}; the prediction extrapolates"
    if single:
        result = validate_request(schema, rows[0] | {"funded_amnt": above}, single=True, max_rows=1)
        assert result.columns["funded_amnt"] == [above]
        assert result.warnings == [{"row": 0, "field": "funded_amnt", "problem": above_warning}]
        return
    body = [rows[0], rows[1] | {"funded_amnt": above}, rows[2] | {"funded_amnt": below}]
    result = validate_request(schema, body, single=False, max_rows=3)
    assert result.columns["funded_amnt"] == [rows[0]["funded_amnt"], above, below]
    assert result.warnings == [
        {"row": 1, "field": "funded_amnt", "problem": above_warning},
        {"row": 2, "field": "funded_amnt", "problem": below_warning},
    ]


@pytest.mark.parametrize("single", [True, False])
def test_values_beyond_the_hard_range_are_rejected(schema, rows, single) -> None:
    minimum, maximum = _training_range(schema, "funded_amnt")
    hard_maximum = maximum + max(maximum - minimum, abs(maximum), abs(minimum), 1.0)
    accepted = rows[0] | {"funded_amnt": int(hard_maximum)}
    validate_request(schema, accepted, single=True, max_rows=1)
    body = rows[0] | {"funded_amnt": int(hard_maximum) + 1}
    problems = _reject(schema, body if single else [rows[1], body], single=single)
    assert problems == [
        {
            "row": 0 if single else 1,
            "field": "funded_amnt",
            "problem": f"out of range: {int(hard_maximum) + 1} is above {hard_maximum:g} "
            f"(the training maximum {maximum:g} plus a margin)",
        }
    ]


def test_a_feature_constant_in_training_still_takes_plausible_values() -> None:
    constant = InputSchema(
        features=(FeatureSpec(name="delinquencies", kind="integer", minimum=0.0, maximum=0.0),)
    )
    accepted = validate_request(constant, {"delinquencies": 1}, single=True, max_rows=1)
    assert accepted.columns == {"delinquencies": [1]}
    assert str(accepted.warnings[0]["problem"]).startswith("above the training maximum 0")
    with pytest.raises(RequestValidationError, match="2 is above 1"):
        validate_request(constant, {"delinquencies": 2}, single=True, max_rows=1)


BALANCE = InputSchema(
    features=(FeatureSpec(name="balance", kind="number", minimum=-10.0, maximum=30.0),)
)


@pytest.mark.parametrize(
    ("value", "problem", "warning"),
    [
        (-50, None, "below the training minimum -10; the prediction extrapolates"),
        (
            -50.5,
            "out of range: -50.5 is below -50 (the training minimum -10 minus a margin)",
            None,
        ),
        (-20, None, "below the training minimum -10; the prediction extrapolates"),
        (70, None, "above the training maximum 30; the prediction extrapolates"),
        (
            70.5,
            "out of range: 70.5 is above 70 (the training maximum 30 plus a margin)",
            None,
        ),
        (0, None, None),
    ],
)
def test_a_negative_training_minimum_extends_the_hard_range_below_it(
    value, problem, warning
) -> None:
    if problem is None:
        result = validate_request(BALANCE, [{"balance": value}] * 2, single=False, max_rows=2)
        assert result.columns == {"balance": [float(value)] * 2}
        if warning is None:
            assert result.warnings == []
        else:
            assert result.warnings == [
                {"row": row, "field": "balance", "problem": warning} for row in (0, 1)
            ]
    else:
        assert _reject(BALANCE, {"balance": value}, single=True) == [
            {"row": 0, "field": "balance", "problem": problem}
        ]


def test_an_unseen_category_among_many_names_only_their_number() -> None:
    codes = tuple(f"c{index:02}" for index in range(61))
    schema = InputSchema(features=(FeatureSpec(name="code", kind="category", categories=codes),))
    assert validate_request(schema, [{"code": "c60"}], single=False, max_rows=1).columns == {
        "code": ["c60"]
    }
    problems = _reject(schema, {"code": "zz"}, single=True)
    assert problems == [
        {
            "row": 0,
            "field": "code",
            "problem": "unknown category 'zz'; the model knows 61 categories",
        }
    ]


# --- shapes and sizes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "single", "message"),
    [
        ("text", True, "expected an object of features, got string"),
        (42, True, "expected an object of features, got integer"),
        (None, True, "expected an object of features, got null"),
        ([{}, {}], True, "expected one row, got a list of 2"),
        ([], True, "expected one row, got a list of 0"),
        ({"funded_amnt": {"0": 1, "1": 2}}, True, "expected one row in the columnar form, got 2"),
        ({"funded_amnt": {}}, False, "the batch has no rows"),
        ({"funded_amnt": [1], "term": {"0": "a"}}, False, "all be lists or all be objects"),
        (
            {"funded_amnt": [1, 2], "term": ["a", "b"]},
            True,
            "expected one row in the columnar form, got 2",
        ),
        ({"funded_amnt": [1], "term": ["a", "b"]}, False, "same length; found lengths 1, 2"),
        ({"funded_amnt": [], "term": []}, False, "the batch has no rows"),
        ([], False, "the batch has no rows"),
        ({}, False, "the batch has no rows"),
        ({"funded_amnt": 1}, False, "got an object whose values are not all lists or all objects"),
        ("text", False, "expected a list of objects, or an object of columns, got string"),
    ],
)
def test_a_body_of_the_wrong_shape_is_malformed(schema, body, single, message) -> None:
    with pytest.raises(MalformedRequestError) as caught:
        validate_request(schema, body, single=single, max_rows=10)
    assert caught.value.status_code == 400
    assert message in caught.value.message


@pytest.mark.parametrize("form", ["records", "columns", "indexed"])
def test_more_rows_than_max_rows_is_too_large_before_rows_are_read(schema, rows, form) -> None:
    shapes: dict[str, Callable[[list[dict[str, Any]]], object]]
    shapes = {"records": list, "columns": _columnar, "indexed": _indexed}
    body: object = shapes[form](rows[:5])
    assert validate_request(schema, body, single=False, max_rows=5).row_count == 5
    with pytest.raises(PayloadTooLargeError) as caught:
        validate_request(schema, body, single=False, max_rows=4)
    assert (caught.value.status_code, caught.value.size, caught.value.limit) == (413, 5, 4)
    garbage: object = {
        "records": ["x"] * 5,
        "columns": {"nonsense": [None] * 5},
        "indexed": {"nonsense": dict.fromkeys("abcde")},
    }[form]
    with pytest.raises(PayloadTooLargeError):
        validate_request(schema, garbage, single=False, max_rows=4)


# --- pandas' shapes ------------------------------------------------------------------------------


def test_every_pandas_to_dict_orient_of_real_rows_is_read_in_order(schema, rows) -> None:
    frame = pd.DataFrame(rows[:6], index=[7, 3, 11, 0, 5, 42])  # an index as a filter leaves it
    expected = validate_request(schema, rows[:6], single=False, max_rows=6)
    expected_one = validate_request(schema, rows[2], single=True, max_rows=1)
    for orient in ("dict", "list", "records"):
        batch = validate_request(schema, _as_sent(frame.to_dict(orient)), single=False, max_rows=6)
        assert batch == expected, orient
        one_row = _as_sent(frame.iloc[[2]].to_dict(orient))
        assert validate_request(schema, one_row, single=True, max_rows=1) == expected_one, orient


def test_rows_follow_the_index_order_of_the_first_column(schema, rows) -> None:
    body = _indexed(rows[:4])  # keys "1", "4", "7", "10"
    body["term"] = dict(reversed(body["term"].items()))
    first = dict(sorted(body.pop("int_rate").items()))  # "1", "10", "4", "7", as strings sort
    body = {"int_rate": first, **body}
    result = validate_request(schema, body, single=False, max_rows=4)
    in_key_order = [rows[0], rows[3], rows[1], rows[2]]
    assert result.columns == {name: [row[name] for row in in_key_order] for name in schema.names}


def test_misaligned_index_keys_are_named_by_column(schema, rows) -> None:
    body = _indexed(rows[:3])  # keys "1", "4", "7"
    body["int_rate"] = {"1": 10.0, "9": 11.0, "4": 12.0}
    del body["term"]["7"]
    body["annual_inc"] = {str(key): 1.0 for key in range(20)}
    first = "index keys differ from those of the first column 'funded_amnt'"
    assert _reject(schema, body, single=False) == [
        {"row": 0, "field": "term", "problem": f"{first}: missing '7'"},
        {"row": 0, "field": "int_rate", "problem": f"{first}: missing '7'; extra '9'"},
        {
            "row": 0,
            "field": "annual_inc",
            "problem": f"{first}: extra '0', '2', '3', '5', '6' and 12 more",
        },
    ]


def test_a_list_holding_one_record_is_one_row(schema, rows) -> None:
    result = validate_request(schema, [rows[0]], single=True, max_rows=1)
    assert result == validate_request(schema, rows[0], single=True, max_rows=1)
    problems = _reject(schema, [rows[0] | {"term": "term_99"}], single=True)
    assert [(p["row"], p["field"]) for p in problems] == [(0, "term")]


# --- a client's text in problems -----------------------------------------------------------------


def test_a_clients_long_or_unencodable_text_is_clipped_and_escaped(schema, rows) -> None:
    body = rows[0] | {"y" * 4000: 1, "\ud800": 2, "term": "z" * 4000}
    with pytest.raises(RequestValidationError) as caught:
        validate_request(schema, body, single=True, max_rows=1)
    problems = caught.value.problems
    clipped = "'... (4000 characters)"
    assert problems == [
        {
            "row": 0,
            "field": "term",
            "problem": "unknown category '" + "z" * ECHO_LIMIT + clipped + "; allowed: term_36, "
            "term_60",
        },
        {"row": 0, "field": "y" * ECHO_LIMIT + "... (4000 characters)", "problem": UNKNOWN},
        {"row": 0, "field": "\\ud800", "problem": UNKNOWN},
    ]
    assert len(caught.value.message) < 300
    orjson.dumps(caught.value.to_dict())  # nothing a JSON encoder refuses


def test_a_long_index_key_is_clipped(schema, rows) -> None:
    body = _indexed(rows[:1])
    body["term"] = {"k" * 4000: "term_36"}
    problems = _reject(schema, body, single=True)
    missing_and_extra = "missing '1'; extra '" + "k" * ECHO_LIMIT + "'... (4000 characters)"
    assert problems == [
        {
            "row": 0,
            "field": "term",
            "problem": "index keys differ from those of the first column 'funded_amnt': "
            + missing_and_extra,
        }
    ]


UNKNOWN = "unknown field; expected one of the model's 22 features"


@pytest.mark.parametrize(("field", "value", "message"), VALUE_PROBLEMS)
def test_every_value_problem_has_a_kind_for_the_metrics(
    schema, rows, field, value, message
) -> None:
    (problem,) = _reject(schema, _with(rows[0], field, value), single=True)
    kind = problem_kind(str(problem["problem"]))
    assert kind != OTHER_KIND
    if value is None:
        assert kind == "null"
    elif "finite" in message:
        assert kind == "not_finite"
    elif "category" in message:
        assert kind == "unknown_category"
    elif message.startswith("out of range"):
        assert kind == "out_of_range"
    else:
        assert kind == "wrong_type"


def test_problems_of_rows_and_columns_have_kinds_too(schema, rows) -> None:
    missing = {key: value for key, value in rows[0].items() if key != "term"}
    body = [missing | {"surprise": 1}, "not a row"]
    kinds = [problem_kind(str(p["problem"])) for p in _reject(schema, body, single=False)]
    assert kinds == ["missing", "unknown_field", "wrong_type"]
    indexed = _indexed(rows[:2])
    indexed["term"] = {"0": "term_36", "9": "term_36"}
    kinds = [problem_kind(str(p["problem"])) for p in _reject(schema, indexed, single=False)]
    assert kinds == ["misaligned"]
    assert problem_kind("something new") == OTHER_KIND
