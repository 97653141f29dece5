"""The predict API's OpenAPI document: valid, built from the served model's schema, and true."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from loanapp.predict_api.serving_model import load_serving_model
from loanapp.predict_api.state import PredictApiState
from loanapp.schema import InputSchema
from loanapp.training.train import TrainingResult
from loanapp.web import get_state
from tests.factories import rebuild
from tests.openapi_checks import assert_answer_as_documented

OPERATIONS_WITH_BODIES = ("/predict", "/predict/batch", "/v2/models/{name}/infer")


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_route_of_the_app_is_described(app: Flask, document: dict[str, Any]) -> None:
    routes = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in ("static", "api_docs.asset")
    }
    assert routes == set(document["paths"])


def test_features_say_what_the_validator_accepts(
    document: dict[str, Any], logreg: TrainingResult
) -> None:
    schema = load_serving_model(logreg.artifact, logreg.version, "test").metadata.input_schema
    row = document["components"]["schemas"]["Row"]
    assert row["required"] == schema.names
    assert row["additionalProperties"] is False
    term = next(spec for spec in schema.features if spec.name == "term")
    assert row["properties"]["term"] == {"type": "string", "enum": list(term.categories or ())}
    funded = row["properties"]["funded_amnt"]
    assert funded["type"] == "integer"
    assert funded["minimum"] == 0  # never negative in training
    spec = next(spec for spec in schema.features if spec.name == "funded_amnt")
    assert spec.maximum is not None
    assert funded["x-training-maximum"] == spec.maximum
    assert funded["maximum"] > spec.maximum  # beyond the training range: answered, with a warning
    batch = document["components"]["schemas"]["PredictBatchBody"]["anyOf"]
    assert [form["title"] for form in batch] == [
        "records",
        "columns of lists",
        "columns of index objects",
    ]
    assert batch[0]["maxItems"] == 50  # the settings' batch limit


@pytest.mark.parametrize(
    ("value", "status"),
    [
        pytest.param("maximum", 200, id="at the documented maximum: accepted"),
        pytest.param("above", 422, id="just above it: refused"),
    ],
)
def test_documented_bounds_are_the_validators(
    client: FlaskClient, document: dict[str, Any], value: str, status: int
) -> None:
    maximum = document["components"]["schemas"]["Row"]["properties"]["funded_amnt"]["maximum"]
    row = dict(
        document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"][
            "examples"
        ]["record"]["value"]
    )
    row["funded_amnt"] = int(maximum) if value == "maximum" else int(maximum) + 1
    response = client.post("/predict", json=row)
    assert response.status_code == status
    assert_answer_as_documented(document, "/predict", "post", response)


def test_every_example_request_is_answered_as_documented(
    client: FlaskClient, document: dict[str, Any]
) -> None:
    sent = 0
    for path in OPERATIONS_WITH_BODIES:
        operation = document["paths"][path]["post"]
        media = operation["requestBody"]["content"]["application/json"]
        examples = [example["value"] for example in media.get("examples", {}).values()]
        examples += [media["example"]] if "example" in media else []
        url = path.replace("{name}", "loan")
        for example in examples:
            response = client.post(url, json=example)
            assert response.status_code == 200, (path, response.get_json())
            assert_answer_as_documented(document, path, "post", response)
            sent += 1
    assert sent == 8  # four forms of /predict, three of /predict/batch, one V2 inference


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/predict", {"funded_amnt": "x"}, 422),
        ("/predict", [], 400),
        ("/predict/batch", [{}] * 51, 413),
        ("/v2/models/loan/infer", {"inputs": []}, 400),
        ("/v2/models/other/infer", {"inputs": []}, 404),
    ],
)
def test_errors_are_answered_as_documented(
    client: FlaskClient, document: dict[str, Any], path: str, body: Any, status: int
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status
    documented = path.replace("/loan/", "/{name}/").replace("/other/", "/{name}/")
    assert_answer_as_documented(document, documented, "post", response)


def test_another_schema_changes_the_document(
    app: Flask, client: FlaskClient, document: dict[str, Any], logreg: TrainingResult
) -> None:
    metadata = load_serving_model(logreg.artifact, logreg.version, "test").metadata
    features = [
        spec.model_copy(update={"categories": (*(spec.categories or ()), "term_84")})
        if spec.name == "term"
        else spec.model_copy(update={"maximum": 10 * (spec.maximum or 0)})
        if spec.name == "funded_amnt"
        else spec
        for spec in metadata.input_schema.features
    ]
    other = rebuild(logreg.artifact, input_schema=InputSchema(features=tuple(features)))
    model = load_serving_model(other, _version_of(other), "test")
    get_state(app, PredictApiState).slot.swap(model)

    changed = client.get("/openapi.json").get_json()
    assert changed["info"]["x-model-version"] == model.version != logreg.version
    before = document["components"]["schemas"]["Row"]["properties"]
    after = changed["components"]["schemas"]["Row"]["properties"]
    assert after["term"]["enum"] == [*before["term"]["enum"], "term_84"]
    assert after["funded_amnt"]["maximum"] > before["funded_amnt"]["maximum"]
    assert after["int_rate"] == before["int_rate"]


def _version_of(artifact: bytes) -> str:
    return hashlib.sha256(artifact).hexdigest()


def test_before_a_model_is_loaded_the_document_is_a_503(empty_app: Flask) -> None:
    response = empty_app.test_client().get("/openapi.json")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["type"] == "ModelNotReadyError"
