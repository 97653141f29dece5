"""Held long-polls never starve the model server: more predict-API workers than it lets wait."""

from __future__ import annotations

import time
from typing import Any

import pytest
import urllib3

from loanapp.dev.processes import child_pids
from loanapp.dev.stack import LocalStack
from tests.integration.conftest import Versions, wait_until_every_worker_serves

pytestmark = pytest.mark.integration

PREDICT_WORKERS = 4


@pytest.fixture
def stack_options() -> dict[str, Any]:
    """One model-server worker with 4 threads, of which at most 2 may hold long-polls, followed
    by 4 predict-API workers: without the cap their long-polls would take every thread."""
    return {
        "serve_options": {
            "model-server": ["--workers", "1", "--threads", "4"],
            "predict-api": ["--workers", str(PREDICT_WORKERS), "--threads", "2"],
        },
        "environment": {"LOANAPP_MAX_LONG_POLLS": "2", "LOANAPP_WAIT_SECONDS": "8"},
    }


def test_downloads_and_health_answer_while_long_polls_are_held(
    stack: LocalStack, versions: Versions
) -> None:
    assert stack.predict_api is not None
    assert stack.predict_api.pid is not None
    assert len(child_pids(stack.predict_api.pid)) == PREDICT_WORKERS
    wait_until_every_worker_serves(stack, versions.first)
    time.sleep(1.0)  # every predict-API worker is now in a long-poll (or pausing after a refusal)
    pool = urllib3.PoolManager(retries=False)
    artifact_url = f"{stack.model_server_url}/v1/models/loan/versions/{versions.first}/artifact"
    for _ in range(20):
        health = pool.request("GET", stack.model_server_url + "/healthz", timeout=5.0)
        assert health.status == 200
        download = pool.request("GET", artifact_url, timeout=5.0)
        assert download.status == 200
        assert download.headers["ETag"] == f'"{versions.first}"'
    # The capped workers still learn of a promotion: every one of the four swaps.
    stack.registry().promote("loan", versions.second, actor="test")
    wait_until_every_worker_serves(stack, versions.second)
