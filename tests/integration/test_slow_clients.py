"""Slow and idle clients do not stall the services: 64 connections that send one header byte a
second and 64 that send nothing, held open while a good client keeps getting answers.

Under the gthread server the services had before, 8 to 16 such connections stopped the predict
API. granian reads requests on its event loop, so they hold no thread that runs the app. A client
that sends its body slowly does hold one (granian hands the request over before the body is in),
so the predict API also gets as many of those as a worker has threads to spare. How long the good
client waits meanwhile is measured by `make bench`; here it must be answered every time.
"""

from __future__ import annotations

import orjson
import pytest
import urllib3

from loanapp.dev.slow_clients import held_long_polls, is_open, time_good_client
from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import sample_rows
from loanapp.services import SERVICES
from tests.integration.conftest import Versions, wait_until_every_worker_serves

pytestmark = pytest.mark.integration

# One less than a predict-API worker's threads: however they are spread, a thread is left.
SLOW_BODIES = SERVICES["predict-api"].threads - 1
LONG_POLLS = 16  # besides the predict API workers' own


def test_predict_api_answers_while_slow_and_idle_clients_hold_connections(
    stack: LocalStack, versions: Versions
) -> None:
    wait_until_every_worker_serves(stack, versions.first)
    body = orjson.dumps(sample_rows(1)[0])
    headers = {"Content-Type": "application/json", "Connection": "close"}

    def predict(pool: urllib3.PoolManager) -> int:
        url = stack.predict_api_url + "/predict"
        return pool.request("POST", url, body=body, headers=headers).status

    run = time_good_client(stack.predict_api_url, predict, SLOW_BODIES)
    print(run.summary())
    assert run.still_open == run.held  # held throughout, not dropped to make room


def test_model_server_answers_probes_and_downloads_while_long_polls_are_held(
    stack: LocalStack, versions: Versions
) -> None:
    wait_until_every_worker_serves(stack, versions.first)
    base = stack.model_server_url
    artifact = f"{base}/v1/models/loan/versions/{versions.first}/artifact"
    paths = [base + "/healthz", artifact, base + "/readyz"]
    sent = 0

    def probe_or_download(pool: urllib3.PoolManager) -> int:
        nonlocal sent
        sent += 1
        return pool.request("GET", paths[sent % len(paths)], headers={"Connection": "close"}).status

    with held_long_polls(base, "loan", versions.first, LONG_POLLS) as polls:
        run = time_good_client(base, probe_or_download)
        polls_held = sum(is_open(connection) for connection in polls)
    print(run.summary())
    assert run.still_open == run.held
    assert polls_held == LONG_POLLS  # nothing changed: every long-poll was still waiting
