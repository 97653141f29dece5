"""The promotion gate behind PUT /v1/models/{name}/aliases/{alias}: 409 with its figures, a
forced promotion with who and why, and the body's validation."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from loanapp.store.registry import ModelRegistry
from loanapp.training.train import TrainingResult
from tests.model_server.conftest import AUTH, json_of

PRODUCTION = "/v1/models/loan/aliases/production"


@pytest.fixture
def baseline_version(registry: ModelRegistry, versions: list[str], baseline: TrainingResult) -> str:
    """The prior-only model, published beside `versions` (production: a logreg)."""
    return registry.publish(baseline.artifact, actor="alice").version


def test_the_gate_refuses_with_409_and_its_figures(
    client: FlaskClient, versions: list[str], baseline_version: str
) -> None:
    response = client.put(PRODUCTION, json={"version": baseline_version}, headers=AUTH)
    assert response.status_code == 409
    body = json_of(response)
    assert body["type"] == "PromotionRefusedError"
    assert body["error"].startswith(
        f"promotion refused: candidate {baseline_version[:12]} has CV ROC-AUC 0.5000 and "
        f"production {versions[0][:12]} has "
    )
    gate = body["gate"]
    assert set(gate) == {"candidate", "current", "delta_auc", "delta_auc_ci", "threshold", "why"}
    assert (gate["candidate"], gate["current"]) == (baseline_version, versions[0])
    assert gate["delta_auc"] < 0
    assert gate["delta_auc_ci"][0] < gate["delta_auc"] < gate["delta_auc_ci"][1]
    assert (gate["threshold"], gate["why"]) == (-0.005, "worse")
    assert json_of(client.get(PRODUCTION))["version"] == versions[0]


def test_a_forced_promotion_shows_who_and_why(
    client: FlaskClient, versions: list[str], baseline_version: str
) -> None:
    response = client.put(
        PRODUCTION,
        json={"version": baseline_version, "force": True, "reason": "load test of the prior"},
        headers=AUTH | {"X-Loanapp-Actor": "carol"},
    )
    assert response.status_code == 200, response.data
    last = json_of(client.get(PRODUCTION))["history"][-1]
    assert (last["version"], last["by"], last["forced"]) == (baseline_version, "carol", True)
    assert last["reason"] == "load test of the prior"
    # Rolling back is never gated, and its entry is not forced.
    back = client.post(PRODUCTION + "/rollback", headers=AUTH)
    assert back.status_code == 200
    assert json_of(back)["history"][-1]["forced"] is False


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        ({"force": True}, 422, "a forced promotion needs a reason: give a non-empty 'reason'"),
        (
            {"force": True, "reason": " "},
            422,
            "a forced promotion needs a reason: give a non-empty 'reason'",
        ),
        (
            {"force": "yes", "reason": "x"},
            400,
            "malformed request: 'force' must be true or false, got 'yes'",
        ),
        ({"reason": 5}, 400, "malformed request: 'reason' must be a string, got 5"),
        ({"reason": "x" * 501}, 400, "malformed request: 'reason' is longer than 500 characters"),
    ],
)
def test_promotion_bodies_are_checked(
    client: FlaskClient,
    versions: list[str],
    baseline_version: str,
    extra: dict[str, object],
    status: int,
    message: str,
) -> None:
    response = client.put(PRODUCTION, json={"version": baseline_version} | extra, headers=AUTH)
    assert response.status_code == status
    assert json_of(response)["error"] == message
    assert json_of(client.get(PRODUCTION))["version"] == versions[0]
