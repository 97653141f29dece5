"""The promotion gate on a real model server process: 409 with its figures, a forced promotion
recorded with who and why, rollback not gated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import urllib3

from loanapp.dev.stack import LocalStack
from loanapp.training.train import TrainingResult
from tests.integration.conftest import ADMIN_TOKEN, stack_for

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def model_server(
    tmp_path: Path, logreg: TrainingResult, baseline: TrainingResult
) -> Iterator[LocalStack]:
    """A model server whose production is a logreg; the baseline is published, not promoted."""
    stack = stack_for(tmp_path)
    registry = stack.registry()
    registry.publish(logreg.artifact, actor="test", alias="production")
    registry.publish(baseline.artifact, actor="test")
    try:
        stack.start_model_server().wait_ready()
        yield stack
    finally:
        stack.stop()


def test_the_gate_over_http(
    model_server: LocalStack, logreg: TrainingResult, baseline: TrainingResult
) -> None:
    alias = model_server.model_server_url + "/v1/models/loan/aliases/production"
    pool = urllib3.PoolManager(retries=False, timeout=60.0)

    refused = pool.request("PUT", alias, json={"version": baseline.version}, headers=ADMIN)
    assert refused.status == 409
    body = orjson.loads(refused.data)
    assert body["error"].startswith(
        f"promotion refused: candidate {baseline.version[:12]} has CV ROC-AUC 0.5000 and "
        f"production {logreg.version[:12]} has "
    )
    assert body["gate"]["why"] == "worse"
    assert (body["gate"]["candidate"], body["gate"]["current"]) == (
        baseline.version,
        logreg.version,
    )

    no_reason = pool.request(
        "PUT", alias, json={"version": baseline.version, "force": True}, headers=ADMIN
    )
    assert no_reason.status == 422

    forced = pool.request(
        "PUT",
        alias,
        json={"version": baseline.version, "force": True, "reason": "compare live with the prior"},
        headers=ADMIN | {"X-Loanapp-Actor": "erin"},
    )
    assert forced.status == 200, forced.data
    history = orjson.loads(pool.request("GET", alias).data)["history"]
    assert [(c["action"], c["by"], c["forced"], c["reason"]) for c in history] == [
        ("promote", "test", False, None),
        ("promote", "erin", True, "compare live with the prior"),
    ]

    back = pool.request("POST", alias + "/rollback", headers=ADMIN)
    assert back.status == 200
    last = orjson.loads(back.data)["history"][-1]
    assert (last["action"], last["version"], last["forced"]) == ("rollback", logreg.version, False)
