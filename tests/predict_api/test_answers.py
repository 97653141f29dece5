"""Reasons with every decline, explanations on request: /predict and /predict/batch."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from loanapp.artifacts import build_artifact, compute_version, load_model, read_compiled
from loanapp.dev.traffic import sample_rows
from loanapp.explain import PREDATES_EXPLANATIONS
from loanapp.predict_api.serving_model import SCIKIT_LEARN_UNEXPLAINED, load_serving_model
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.state import PredictApiState
from loanapp.reasons import MAX_REASONS, NEVER_NAMED
from loanapp.training import pipelines
from loanapp.training.train import TrainingResult
from loanapp.web import get_state
from tests.factories import rebuild, train_small, without_explanation_data

ROWS = sample_rows(40)
ALWAYS_DECLINE = 0.0
NEVER_DECLINE = 0.999999


def serve(app: Flask, artifact: bytes, threshold: float | None = None) -> FlaskClient:
    """A client of `app` serving `artifact`, with another decision threshold if given."""
    if threshold is not None:
        metadata = load_model(artifact, compute_version(artifact)).metadata
        artifact = rebuild(
            artifact, decision=metadata.decision.model_dump() | {"threshold": threshold}
        )
    slot: ModelSlot = get_state(app, PredictApiState).slot
    slot.swap(load_serving_model(artifact, compute_version(artifact), "test"))
    return app.test_client()


def predict(client: FlaskClient, row: dict[str, Any], explain: bool = False) -> dict[str, Any]:
    """The answer of /predict for one row, with `?explain=true` if asked."""
    response = client.post("/predict" + ("?explain=true" if explain else ""), json=row)
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def expected_reasons(row: dict[str, Any], contributions: dict[str, float]) -> list[Any]:
    """The reasons an explanation implies: nameable positive contributions, largest first."""
    ranked = sorted(
        (
            (value, feature)
            for feature, value in contributions.items()
            if value > 0 and feature not in NEVER_NAMED
        ),
        key=lambda pair: -pair[0],
    )
    return [
        {"feature": feature, "value": row[feature], "contribution": pytest.approx(value)}
        for value, feature in ranked[:MAX_REASONS]
    ]


def approximately(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reasons with their contributions compared to rounding (batches sum in another order)."""
    return [reason | {"contribution": pytest.approx(reason["contribution"])} for reason in reasons]


def test_an_approved_applicant_gets_no_reasons(app: Flask, logreg: TrainingResult) -> None:
    client = serve(app, logreg.artifact, NEVER_DECLINE)
    answer = predict(client, ROWS[0])
    assert answer["prediction"] == 0
    assert "reasons" not in answer
    assert "explanation" not in answer


@pytest.mark.parametrize("result_name", ["logreg", "gbm"])
def test_a_declined_applicant_gets_up_to_four_reasons_largest_first(
    app: Flask, result_name: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    client = serve(app, result.artifact, ALWAYS_DECLINE)
    counts = set()
    for row in ROWS:
        answer = predict(client, row)
        assert answer["classes"][answer["prediction"]] == "bad"
        reasons = answer["reasons"]
        contributions = [reason["contribution"] for reason in reasons]
        assert contributions == sorted(contributions, reverse=True)
        assert all(value > 0 for value in contributions)
        assert not {reason["feature"] for reason in reasons} & set(NEVER_NAMED)
        explanation = predict(client, row, explain=True)["explanation"]
        assert reasons == expected_reasons(row, explanation["contributions"])
        counts.add(len(reasons))
    assert MAX_REASONS in counts  # the cap is reached, not just respected


@pytest.mark.parametrize("result_name", ["logreg", "gbm"])
@pytest.mark.parametrize("threshold", [ALWAYS_DECLINE, NEVER_DECLINE])
def test_explain_adds_every_rows_explanation_which_adds_up_to_the_log_odds(
    app: Flask, result_name: str, threshold: float, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    client = serve(app, result.artifact, threshold)
    features = list(ROWS[0])
    for row in ROWS[:10]:
        answer = predict(client, row, explain=True)
        explanation = answer["explanation"]
        assert list(explanation) == ["base_value", "contributions"]
        assert list(explanation["contributions"]) == features
        p_bad = answer["predict_proba"][1]
        total = explanation["base_value"] + math.fsum(explanation["contributions"].values())
        assert total == pytest.approx(math.log(p_bad / (1 - p_bad)), abs=1e-6)
        assert ("reasons" in answer) == (threshold == ALWAYS_DECLINE)


def test_batch_reasons_and_explanations_are_aligned_with_predictions(
    app: Flask, logreg: TrainingResult
) -> None:
    client = serve(app, logreg.artifact)
    singles = [predict(client, row, explain=True) for row in ROWS]
    assert {single["prediction"] for single in singles} == {0, 1}  # approvals and declines
    plain = client.post("/predict/batch", json=ROWS).get_json()
    explained = client.post("/predict/batch?explain=true", json=ROWS).get_json()
    assert "explanations" not in plain
    for answer in (plain, explained):
        assert len(answer["reasons"]) == len(answer["predictions"]) == len(ROWS)
        for single, reasons in zip(singles, answer["reasons"], strict=True):
            assert reasons == approximately(single.get("reasons", []))
    for single, explanation in zip(singles, explained["explanations"], strict=True):
        assert explanation["base_value"] == single["explanation"]["base_value"]
        expected = single["explanation"]["contributions"]
        assert explanation["contributions"] == pytest.approx(expected, abs=1e-12)
    assert plain["predictions"] == explained["predictions"]


def test_a_batch_with_no_decline_has_an_empty_list_of_reasons_per_row(
    app: Flask, gbm: TrainingResult
) -> None:
    client = serve(app, gbm.artifact, NEVER_DECLINE)
    answer = client.post("/predict/batch", json=ROWS[:5]).get_json()
    assert answer["reasons"] == [[], [], [], [], []]


@pytest.fixture(scope="module")
def logreg_with_state() -> TrainingResult:
    """A logistic regression that uses every input, the state included, as models did before
    the state was left out."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipelines, "UNUSED_FEATURES", MappingProxyType({}))
        return train_small("logreg")


def test_the_state_is_never_named_even_when_it_raises_the_risk_most(
    app: Flask, logreg_with_state: TrainingResult
) -> None:
    client = serve(app, logreg_with_state.artifact, ALWAYS_DECLINE)
    row = riskiest_state_row(client, logreg_with_state)
    answer = predict(client, row, explain=True)
    contributions = answer["explanation"]["contributions"]
    assert max(contributions, key=contributions.get) == "addr_state"
    assert contributions["addr_state"] > 0
    assert "addr_state" not in [reason["feature"] for reason in answer["reasons"]]
    assert answer["reasons"] == expected_reasons(row, contributions)
    assert answer["reasons"]  # other features raised the risk too, and are named


def riskiest_state_row(client: FlaskClient, result: TrainingResult) -> dict[str, Any]:
    """A real applicant moved to the riskiest state, with every feature that raised the risk as
    much as the state moved to its least risky value, so that the state raises it most."""
    model = load_model(result.artifact, result.version)
    compiled = read_compiled(result.artifact, model.metadata)
    assert compiled is not None
    terms = compiled.linear_terms
    weights = dict(terms.categorical)
    safest: dict[str, Any] = {name: min(w, key=w.__getitem__) for name, w in weights.items()}
    specs = {spec.name: spec for spec in model.metadata.input_schema.features}
    for name, _mean, _scale, coef in terms.numeric:
        spec = specs[name]
        bound = spec.minimum if coef > 0 else spec.maximum
        assert bound is not None
        safest[name] = int(bound) if spec.kind == "integer" else bound
    states = weights["addr_state"]
    row = dict(ROWS[0], addr_state=max(states, key=states.__getitem__))
    contributions = predict(client, row, explain=True)["explanation"]["contributions"]
    for name, value in contributions.items():
        if name != "addr_state" and value >= contributions["addr_state"]:
            row[name] = safest[name]
    return row


@pytest.mark.parametrize(
    ("endpoint", "body"), [("/predict", ROWS[0]), ("/predict/batch", ROWS[:2])]
)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("explain=yes", "explain must be true or false, got 'yes'"),
        ("explain=", "explain must be true or false, got ''"),
        ("explain=True", "explain must be true or false, got 'True'"),
        ("explain=1", "explain must be true or false, got '1'"),
    ],
)
def test_explain_must_be_true_or_false(
    client: FlaskClient, endpoint: str, body: Any, query: str, message: str
) -> None:
    response = client.post(f"{endpoint}?{query}", json=body)
    assert response.status_code == 400
    assert response.get_json() == {"error": message, "type": "InvalidInputError"}
    assert client.post(f"{endpoint}?explain=false", json=body).status_code == 200
    assert client.post(f"{endpoint}?other=1", json=body).status_code == 200


@pytest.mark.parametrize(
    ("result_name", "make_old", "reason"),
    [
        ("logreg", without_explanation_data, PREDATES_EXPLANATIONS),
        ("gbm", without_explanation_data, PREDATES_EXPLANATIONS),
        ("logreg", lambda artifact: without_compiled_form(artifact), SCIKIT_LEARN_UNEXPLAINED),
    ],
    ids=["logreg-before-explanations", "gbm-before-explanations", "scikit-learn-fallback"],
)
def test_a_model_that_cannot_explain_is_served_with_null_reasons(
    app: Flask, result_name: str, make_old: Any, reason: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    client = serve(app, make_old(result.artifact), ALWAYS_DECLINE)
    assert client.get("/model").get_json()["explanations"] == {"available": False, "reason": reason}
    answer = predict(client, ROWS[0], explain=True)
    assert answer["prediction"] == 1
    assert answer["reasons"] is None
    assert answer["explanation"] is None
    batch = client.post("/predict/batch?explain=true", json=ROWS[:3]).get_json()
    assert batch["reasons"] == [None, None, None]
    assert batch["explanations"] == [None, None, None]
    approved = serve(app, make_old(result.artifact), NEVER_DECLINE)
    assert "reasons" not in predict(approved, ROWS[0])
    assert approved.post("/predict/batch", json=ROWS[:2]).get_json()["reasons"] == [[], []]


def without_compiled_form(artifact: bytes) -> bytes:
    """The same model, served by scikit-learn for want of a compiled form."""
    model = load_model(artifact, compute_version(artifact))
    return build_artifact(model.estimator, model.metadata.model_copy(update={"compiled": None}))


@pytest.mark.parametrize(
    ("result_name", "method"),
    [
        ("logreg", "exact linear contributions against the training means"),
        ("gbm", "exact path-dependent TreeSHAP"),
    ],
)
def test_the_model_endpoint_says_how_declines_are_explained(
    app: Flask, result_name: str, method: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    explanations = serve(app, result.artifact).get("/model").get_json()["explanations"]
    assert explanations == {"available": True, "method": method}


def test_the_compiled_and_explained_probabilities_agree(app: Flask, gbm: TrainingResult) -> None:
    client = serve(app, gbm.artifact, ALWAYS_DECLINE)
    answer = client.post("/predict/batch?explain=true", json=ROWS).get_json()
    expected = load_model(gbm.artifact, gbm.version).predict_rows(ROWS)
    np.testing.assert_allclose(answer["predict_proba"], expected, atol=1e-12)
    for probabilities, explanation in zip(
        answer["predict_proba"], answer["explanations"], strict=True
    ):
        total = explanation["base_value"] + math.fsum(explanation["contributions"].values())
        assert total == pytest.approx(math.log(probabilities[1] / probabilities[0]), abs=1e-6)
