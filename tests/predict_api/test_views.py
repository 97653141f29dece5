"""The predict API's HTTP contract, on a real model held in the slot."""

from __future__ import annotations

import json
import math
from typing import Literal

import numpy as np
import orjson
import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from loanapp.artifacts import compute_version, load_model
from loanapp.dev.traffic import sample_rows
from loanapp.predict_api.app import create_app
from loanapp.predict_api.serving_model import load_serving_model
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.state import PredictApiState
from loanapp.settings import PredictApiSettings
from loanapp.training.train import TrainingResult
from loanapp.web import get_state
from tests.factories import rebuild

ROWS = sample_rows(20)


def post_json_text(client: FlaskClient, path: str, text: str | bytes) -> TestResponse:
    """POST JSON text as given: key order kept (the test client's `json=` sorts keys)."""
    return client.post(path, data=text, content_type="application/json")


def test_predict_answers_label_probabilities_and_version(
    client: FlaskClient, logreg: TrainingResult
) -> None:
    response = client.post("/predict", json=ROWS[0])
    assert response.status_code == 200
    body = response.get_json()
    model = load_model(logreg.artifact, logreg.version)
    expected = model.predict_rows([ROWS[0]])[0]
    assert body["model_version"] == logreg.version
    assert body["classes"] == ["good", "bad"]
    assert body["positive_class"] == "bad"
    np.testing.assert_allclose(body["predict_proba"], expected, atol=1e-12)
    threshold = model.metadata.decision.threshold
    assert body["threshold"] == threshold
    assert body["prediction"] == int(expected[1] >= threshold)
    assert response.headers["X-Request-ID"]


def test_columnar_single_row_gives_the_same_answer(client: FlaskClient) -> None:
    record = client.post("/predict", json=ROWS[1]).get_json()
    columnar = client.post("/predict", json={k: [v] for k, v in ROWS[1].items()}).get_json()
    assert columnar == record


def _serve_with_threshold(app: Flask, logreg: TrainingResult, threshold: float) -> FlaskClient:
    """Swap in the logreg model with another decision threshold; a client of the app."""
    metadata = load_model(logreg.artifact, logreg.version).metadata
    decision = metadata.decision.model_dump() | {"threshold": threshold}
    artifact = rebuild(logreg.artifact, decision=decision)
    slot: ModelSlot = get_state(app, PredictApiState).slot
    slot.swap(load_serving_model(artifact, compute_version(artifact), "test"))
    return app.test_client()


@pytest.mark.parametrize(("threshold", "expected"), [(0.0, 1), (0.999999, 0)])
def test_label_follows_the_stored_threshold(
    app: Flask, logreg: TrainingResult, threshold: float, expected: int
) -> None:
    body = _serve_with_threshold(app, logreg, threshold).post("/predict/batch", json=ROWS)
    assert body.get_json()["predictions"] == [expected] * len(ROWS)
    assert body.get_json()["threshold"] == threshold


def test_predict_is_positive_when_the_probability_equals_the_threshold(
    app: Flask, client: FlaskClient, logreg: TrainingResult
) -> None:
    p_bad = client.post("/predict", json=ROWS[0]).get_json()["predict_proba"][1]
    body = _serve_with_threshold(app, logreg, p_bad).post("/predict", json=ROWS[0]).get_json()
    assert body["threshold"] == p_bad
    assert body["predict_proba"][1] == p_bad  # exactly at the threshold, to the last bit
    assert body["classes"][body["prediction"]] == "bad"  # p(bad) >= threshold: positive
    just_above = math.nextafter(p_bad, 1.0)
    body = _serve_with_threshold(app, logreg, just_above).post("/predict", json=ROWS[0])
    assert body.get_json()["classes"][body.get_json()["prediction"]] == "good"


def test_batch_is_positive_where_the_probability_equals_the_threshold(
    app: Flask, client: FlaskClient, logreg: TrainingResult
) -> None:
    p_bad = [p[1] for p in client.post("/predict/batch", json=ROWS).get_json()["predict_proba"]]
    threshold = sorted(p_bad)[len(p_bad) // 2]  # one row's p(bad): rows on both sides of it
    at_threshold = p_bad.index(threshold)
    body = _serve_with_threshold(app, logreg, threshold).post("/predict/batch", json=ROWS)
    answer = body.get_json()
    assert answer["threshold"] == threshold
    assert [p[1] for p in answer["predict_proba"]] == p_bad
    assert answer["predictions"][at_threshold] == 1  # "bad", the positive class
    assert answer["predictions"] == [1 if p >= threshold else 0 for p in p_bad]
    assert set(answer["predictions"]) == {0, 1}


def test_batch_answers_every_row_in_order(client: FlaskClient, logreg: TrainingResult) -> None:
    response = client.post("/predict/batch", json=ROWS)
    assert response.status_code == 200
    body = response.get_json()
    expected = load_model(logreg.artifact, logreg.version).predict_rows(ROWS)
    np.testing.assert_allclose(body["predict_proba"], expected, atol=1e-12)
    assert len(body["predictions"]) == len(ROWS)
    assert body["model_version"] == logreg.version
    reversed_body = client.post("/predict/batch", json=ROWS[::-1]).get_json()
    assert reversed_body["predict_proba"] == body["predict_proba"][::-1]


def test_batch_columnar_form(client: FlaskClient) -> None:
    columns = {name: [row[name] for row in ROWS[:3]] for name in ROWS[0]}
    columnar = client.post("/predict/batch", json=columns).get_json()
    records = client.post("/predict/batch", json=ROWS[:3]).get_json()
    assert columnar == records


def test_batch_larger_than_the_limit_is_413(client: FlaskClient) -> None:
    response = client.post("/predict/batch", json=ROWS * 3)  # 60 rows, limit 50
    assert response.status_code == 413
    assert response.get_json() == {
        "error": "batch size in rows is 60, more than the limit of 50",
        "type": "PayloadTooLargeError",
    }


def test_body_larger_than_the_limit_is_413(client: FlaskClient) -> None:
    response = client.post(
        "/predict", data=b"[" + b"1," * 40_000 + b"1]", content_type="application/json"
    )
    assert response.status_code == 413
    assert response.get_json()["type"] == "PayloadTooLargeError"


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"{not json", "application/json", "body is not valid JSON"),
        (b'{"a": 1}', "text/plain", "Content-Type must be application/json"),
        (b"", "application/json", "body is not valid JSON"),
    ],
)
def test_malformed_bodies_are_400(
    client: FlaskClient, data: bytes, content_type: str, message: str
) -> None:
    response = client.post("/predict", data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["type"] == "MalformedRequestError"
    assert message in response.get_json()["error"]


def test_invalid_values_are_422_naming_row_and_field(client: FlaskClient) -> None:
    bad = dict(ROWS[0], term="term_99", int_rate=None)
    response = client.post("/predict", json=bad)
    assert response.status_code == 422
    assert response.get_json()["type"] == "RequestValidationError"
    assert response.get_json()["error"].startswith("2 invalid values in the request; first: row 0")
    problems = response.get_json()["problems"]
    assert {(p["row"], p["field"]) for p in problems} == {(0, "term"), (0, "int_rate")}


def test_nan_is_422_not_400(client: FlaskClient) -> None:
    body = json.dumps(dict(ROWS[0], int_rate=float("nan")))  # the standard encoder writes NaN
    assert "NaN" in body
    response = client.post("/predict", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["type"] == "RequestValidationError"
    assert any(p["field"] == "int_rate" for p in response.get_json()["problems"])


def test_no_model_yet_is_503_with_retry_after(settings: PredictApiSettings) -> None:
    # A young worker holds a request for its first model this long, then refuses it.
    young = settings.model_copy(update={"startup_wait_seconds": 0.1})
    client = create_app(young, follow=False).test_client()
    response = client.post("/predict", json=ROWS[0])
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.get_json() == {
        "error": "no model is loaded yet: waiting for the model server",
        "type": "ModelNotReadyError",
    }
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["status"] == "not ready"
    assert client.get("/healthz").status_code == 200


def test_model_and_readyz_describe_the_served_version(
    client: FlaskClient, logreg: TrainingResult
) -> None:
    model = client.get("/model").get_json()
    assert model["model_version"] == logreg.version
    assert model["positive_class"] == "bad"
    assert len(model["schema"]["features"]) == 22
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["version"] == logreg.version
    assert ready.get_json()["source"] == "test"


def test_unknown_routes_and_methods_are_json(client: FlaskClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.get_json()["type"] == "NotFound"
    assert "requested URL was not found" in missing.get_json()["error"]
    wrong_method = client.get("/predict")
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["type"] == "MethodNotAllowed"
    assert "POST" in wrong_method.headers["Allow"]
    assert wrong_method.mimetype == "application/json"


def test_failed_update_keeps_the_model_and_shows_in_readyz(
    app: Flask, logreg: TrainingResult, gbm: TrainingResult
) -> None:
    slot: ModelSlot = get_state(app, PredictApiState).slot
    slot.record_failure("artifact integrity check failed: expected sha256 a, got sha256 b")
    client = app.test_client()
    ready = client.get("/readyz").get_json()
    assert ready["version"] == logreg.version
    assert "integrity" in ready["last_error"]
    assert client.post("/predict", json=ROWS[0]).get_json()["model_version"] == logreg.version
    slot.swap(load_serving_model(gbm.artifact, gbm.version, "test"))
    assert client.get("/readyz").get_json()["last_error"] is None
    assert client.post("/predict", json=ROWS[0]).get_json()["model_version"] == gbm.version


# --- every shape pandas writes -------------------------------------------------------------------


def test_every_shape_pandas_writes_gets_the_answer_of_the_records(client: FlaskClient) -> None:
    frame = pd.DataFrame(ROWS[:12], index=[40 - 3 * at for at in range(12)])  # "40", ..., "7"
    expected = client.post("/predict/batch", json=ROWS[:12]).get_json()
    orients: list[Literal["dict", "list", "records"]] = ["dict", "list", "records"]
    for orient in orients:
        batch = post_json_text(client, "/predict/batch", json.dumps(frame.to_dict(orient)))
        assert batch.status_code == 200, (orient, batch.get_json())
        assert batch.get_json() == expected
        for position in (0, 5):
            one_row = frame.iloc[[position]].to_dict(orient)
            single = post_json_text(client, "/predict", json.dumps(one_row))
            assert single.status_code == 200, (orient, single.get_json())
            assert single.get_json() == client.post("/predict", json=ROWS[position]).get_json()


def test_misaligned_index_keys_are_422_naming_the_column_and_keys(client: FlaskClient) -> None:
    body = pd.DataFrame(ROWS[:3]).to_dict()
    body["int_rate"] = {0: 13.0, 1: 12.0, 5: 11.0}  # no row 2; a row 5
    response = post_json_text(client, "/predict/batch", json.dumps(body))
    assert response.status_code == 422
    assert response.get_json()["problems"] == [
        {
            "row": 0,
            "field": "int_rate",
            "problem": "index keys differ from those of the first column 'funded_amnt': "
            "missing '2'; extra '5'",
        }
    ]


# --- a client's text in answers ------------------------------------------------------------------

RECORD_TEXT = json.dumps(ROWS[0])[1:-1]  # the fields of one valid record, without braces


@pytest.mark.parametrize(
    ("path", "text", "status", "shown"),
    [
        ("/predict", '{"\\ud800": 1}', 422, "\\ud800"),
        ("/predict/batch", '{"\\ud800": 1}', 400, "not all lists or all objects"),
        ("/predict", '{"\\ud800": 1, ' + RECORD_TEXT + "}", 422, "field \\ud800: unknown field"),
        ("/predict/batch", '[{"\\udc00x": 1, ' + RECORD_TEXT + "}]", 422, "field \\udc00x"),
        (
            "/predict",
            '{"\\ud800": 1, ' + RECORD_TEXT.replace("term_36", "\\ud800") + "}",
            422,
            "field term: unknown category '\\ud800'",
        ),
        ("/predict/batch", '{"\\ud800": [1]}', 422, "\\ud800"),
        ("/predict/batch", '{"funded_amnt": {"\\udfff": 1}, "term": {"0": "x"}}', 422, "'\\udfff'"),
    ],
)
def test_a_lone_surrogate_anywhere_is_a_4xx_naming_it(
    client: FlaskClient, path: str, text: str, status: int, shown: str
) -> None:
    response = post_json_text(client, path, text)
    assert response.status_code == status, response.get_data()[:300]
    answer = orjson.loads(response.get_data())  # strict UTF-8: nothing unencodable was sent
    assert answer["type"] in ("RequestValidationError", "MalformedRequestError")
    problems = [f"field {p.get('field')}: {p['problem']}" for p in answer.get("problems", [])]
    assert any(shown in text for text in [answer["error"], *problems]), answer


def test_a_long_field_name_or_value_is_not_echoed_whole(client: FlaskClient) -> None:
    body = dict(ROWS[0], term="t" * 4000) | {"k" * 4000: 1}
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert len(response.get_data()) < 1000
    assert "'... (4000 characters)" in response.get_json()["error"]
    fields = [problem["field"] for problem in response.get_json()["problems"]]
    assert fields == ["term", "k" * 80 + "... (4000 characters)"]
