"""Properties of the request validator, over generated bodies (hypothesis).

Any JSON value as a body is answered 200 or 4xx with a JSON error body, never an exception;
a valid row with one field changed to any invalid value is refused, naming that field.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loanapp.errors import LoanappError, RequestValidationError
from loanapp.predict_api.app import create_app
from loanapp.predict_api.serving_model import load_serving_model
from loanapp.predict_api.state import PredictApiState
from loanapp.schema import FeatureSpec, InputSchema
from loanapp.settings import PredictApiSettings
from loanapp.training.train import TrainingResult
from loanapp.validation import validate_request
from loanapp.validation.values import Column
from loanapp.web import get_state

# Deterministic, bounded, and without a database folder: the same cases on every run.
PROPERTIES = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def served(
    logreg: TrainingResult, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Flask, InputSchema, dict[str, Any]]:
    """A predict API serving the small model (no model server), its schema and a valid row."""
    settings = PredictApiSettings(max_batch_rows=20, cache_dir=tmp_path_factory.mktemp("cache"))
    app = create_app(settings, follow=False)
    model = load_serving_model(logreg.artifact, logreg.version, "test")
    get_state(app, PredictApiState).slot.swap(model)
    row = dict(model.metadata.reference.rows[0])
    return app, model.metadata.input_schema, row


def feature_rows(schema: InputSchema, row: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The valid row, with some fields replaced by any JSON value (valid or not)."""
    names = schema.names
    return st.dictionaries(st.sampled_from(names), json_values, max_size=4).map(
        lambda changes: row | changes
    )


@PROPERTIES
@given(data=st.data())
def test_any_json_body_is_answered_200_or_4xx_with_a_json_error(
    served: tuple[Flask, InputSchema, dict[str, Any]], data: st.DataObject
) -> None:
    app, schema, row = served
    rows = feature_rows(schema, row)
    body = data.draw(
        json_values
        | rows
        | st.lists(rows, max_size=3)
        | rows.map(lambda r: {k: [v] for k, v in r.items()})
    )
    path = data.draw(st.sampled_from(["/predict", "/predict/batch"]))
    response = app.test_client().post(path, json=body)
    answer = response.get_json()
    if response.status_code == 200:
        assert "model_version" in answer
    else:
        assert response.status_code in (400, 413, 422), answer
        assert set(answer) >= {"error", "type"}
        assert isinstance(answer["error"], str)


def invalid_values(spec: FeatureSpec) -> st.SearchStrategy[Any]:
    """Values the validator must refuse for this feature."""
    others = (
        st.none()
        | st.booleans()
        | st.lists(scalars, max_size=3)
        | st.dictionaries(st.text(max_size=5), scalars, max_size=3)
    )
    if spec.kind == "category":
        known = set(spec.categories or ())
        return others | st.integers() | st.floats() | st.text().filter(lambda t: t not in known)
    column = Column.of(spec)
    outside = st.floats(allow_nan=True).filter(
        lambda x: not math.isfinite(x) or not column.low <= x <= column.high
    )
    wrong = others | st.text() | outside | st.integers(min_value=int(column.high) + 1)
    if spec.kind == "integer":
        fractional = st.floats(min_value=column.low, max_value=column.high).filter(
            lambda x: not x.is_integer()
        )
        wrong = wrong | fractional
    return wrong


@PROPERTIES
@given(data=st.data())
def test_one_invalid_field_is_refused_naming_that_field(
    served: tuple[Flask, InputSchema, dict[str, Any]], data: st.DataObject
) -> None:
    _, schema, row = served
    spec = data.draw(st.sampled_from(schema.features))
    value = data.draw(invalid_values(spec))
    changed = row | {spec.name: value}
    single = data.draw(st.booleans())
    body: Any = changed if single else [row, changed]
    with pytest.raises(RequestValidationError) as refused:
        validate_request(schema, body, single=single, max_rows=10)
    fields = {problem.get("field") for problem in refused.value.problems}
    assert fields == {spec.name}
    assert refused.value.problems[0]["row"] == (0 if single else 1)


@PROPERTIES
@given(body=json_values)
def test_the_validator_raises_nothing_but_its_own_errors(
    served: tuple[Flask, InputSchema, dict[str, Any]], body: Any
) -> None:
    _, schema, _ = served
    for single in (True, False):
        status = 200
        try:
            validate_request(schema, body, single=single, max_rows=10)
        except LoanappError as error:
            status = error.status_code
        assert status == 200 or 400 <= status < 500
