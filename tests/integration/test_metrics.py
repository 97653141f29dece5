"""/metrics of both services under granian with 2 workers each: counts summed over the workers."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest
import urllib3

from loanapp.dev.processes import child_pids, wait_until
from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import sample_rows
from tests.integration.conftest import ADMIN_TOKEN, Versions
from tests.integration.scrape import Exposition, scrape, scrape_until

PREDICTIONS = "loanapp_predictions_total"

pytestmark = pytest.mark.integration

PREDICT_API_ROUTES = {
    "/predict",
    "/predict/batch",
    "/model",
    "/healthz",
    "/readyz",
    "/metrics",
    "unmatched",
}


def post(url: str, body: object, **headers: str) -> urllib3.BaseHTTPResponse:
    """One POST on a new connection, so that the kernel spreads requests over the workers."""
    return urllib3.request(
        "POST", url, json=body, headers={"Connection": "close", **headers}, retries=False
    )


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def predict_api_workers(stack: LocalStack) -> list[int]:
    assert stack.predict_api is not None
    assert stack.predict_api.pid is not None
    return child_pids(stack.predict_api.pid)


def served_by(exposition: Exposition) -> dict[str, str]:
    """Worker PID -> version, for each live worker's loanapp_model_info of value 1."""
    return {
        sample.labels["pid"]: sample.labels["version"]
        for sample in exposition.matching("loanapp_model_info")
        if sample.value == 1
    }


def test_counts_summed_over_the_workers_equal_the_requests_sent(
    stack: LocalStack, versions: Versions
) -> None:
    url = stack.predict_api_url
    rows = sample_rows(5)
    singles, batch_rows, invalid, hostile = 30, len(rows), 3, 12
    for index in range(singles):
        assert post(url + "/predict", rows[index % len(rows)]).status == 200
    assert post(url + "/predict/batch", rows).status == 200
    for _ in range(invalid):
        bad = rows[0] | {"term": "term_99", "surprise": 1}
        assert post(url + "/predict", bad).status == 422
    for index in range(hostile):
        assert urllib3.request("GET", f"{url}/scan/{index}/x{index}", retries=False).status == 404
    assert urllib3.request("BREW", url + "/predict", retries=False).status == 405

    requests = "loanapp_http_requests_total"
    scored = singles + batch_rows

    def settled(exposition: Exposition) -> bool:
        return (
            exposition.total("loanapp_predictions_total") == scored
            and exposition.total(requests, route="/predict") == singles + invalid
            and exposition.total(requests, route="/predict/batch") == 1
            and exposition.total(requests, route="unmatched") == hostile + 1
        )

    exposition = scrape_until(url, settled)
    # Whichever worker answers the scrape reports the same totals: it merges every worker's files.
    assert scrape(url).total("loanapp_predictions_total") == exposition.total(
        "loanapp_predictions_total"
    )
    assert exposition.total(requests, route="/predict", method="POST", status="200") == singles
    assert exposition.total(requests, route="/predict/batch", status="200") == 1
    assert exposition.total(requests, route="/predict", status="422") == invalid
    assert exposition.total(requests, route="unmatched", method="GET", status="404") == hostile
    assert exposition.total(requests, route="unmatched", method="other", status="405") == 1
    assert exposition.total(requests, service="predict-api") == exposition.total(requests)
    assert exposition.label_values(requests, "route") <= PREDICT_API_ROUTES
    assert "/scan/" not in exposition.text  # no raw path ever becomes a label
    duration = "loanapp_http_request_duration_seconds_count"
    assert exposition.total(duration, route="/predict") == singles + invalid

    assert exposition.total("loanapp_predictions_total") == scored
    assert exposition.label_values("loanapp_predictions_total", "version") == {versions.first}
    assert exposition.label_values("loanapp_predictions_total", "decision") <= {
        "approve",
        "decline",
    }
    assert exposition.total("loanapp_prediction_probability_count") == scored
    assert exposition.total("loanapp_prediction_probability_bucket", le="+Inf") == scored

    errors = "loanapp_validation_errors_total"
    assert exposition.total(errors, field="term", problem="unknown_category") == invalid
    assert exposition.total(errors, field="other", problem="unknown_field") == invalid
    assert exposition.total(errors) == 2 * invalid

    workers = predict_api_workers(stack)
    assert len(workers) == 2
    assert served_by(exposition) == {str(pid): versions.first for pid in workers}
    assert exposition.total("loanapp_model_updates_total", result="success") == len(workers)


def test_each_start_writes_to_a_fresh_folder_under_the_temporary_folder(
    stack: LocalStack,
) -> None:
    assert stack.predict_api is not None
    assert stack.predict_api.pid is not None
    folder = Path(environment_of(stack.predict_api.pid)["PROMETHEUS_MULTIPROC_DIR"])
    assert folder.parent.parent == Path(tempfile.gettempdir())
    assert folder.parent.name.startswith(f"loanapp-run-predict-api-{stack.predict_api.pid}-")
    written_by = {path.stem.rsplit("_", 1)[1] for path in folder.glob("*.db")}
    assert written_by == {str(pid) for pid in predict_api_workers(stack)}
    assert stack.model_server is not None
    assert stack.model_server.pid is not None
    other = Path(environment_of(stack.model_server.pid)["PROMETHEUS_MULTIPROC_DIR"])
    assert other != folder


def test_a_dead_worker_keeps_its_counts_and_loses_its_live_gauges(stack: LocalStack) -> None:
    url = stack.predict_api_url
    rows = sample_rows(4)
    for row in rows:
        assert post(url + "/predict", row).status == 200
    # What a worker recorded survives it (a kill loses only what it had not recorded yet).
    scrape_until(url, lambda exposition: exposition.total(PREDICTIONS) == len(rows))
    before = predict_api_workers(stack)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)  # granian replaces it
    wait_until(
        lambda: (
            len(set(predict_api_workers(stack)) - set(before)) == 1
            and len(predict_api_workers(stack)) == 2
        ),
        url=url,
        timeout=60,
        waiting_for="a replacement worker",
    )
    stack.wait_for_every_worker()
    for row in rows:
        assert post(url + "/predict", row).status == 200

    exposition = scrape_until(url, lambda found: found.total(PREDICTIONS) == 2 * len(rows))
    assert set(served_by(exposition)) == {str(pid) for pid in predict_api_workers(stack)}
    assert str(victim) not in exposition.label_values("loanapp_model_info", "pid")


def test_the_model_server_reports_long_polls_writes_and_the_version_of_its_alias(
    stack: LocalStack, versions: Versions
) -> None:
    url = stack.model_server_url
    # Each predict-API worker holds one long-poll on the model server most of the time.
    wait_until(
        lambda: scrape(url).total("loanapp_long_polls_held") == 2,
        url=url,
        timeout=60,
        waiting_for="2 held long-polls",
    )
    alias_info = "loanapp_alias_info"
    assert scrape(url).total(alias_info, alias="production", version=versions.first) == 1

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    promoted = urllib3.request(
        "PUT",
        url + "/v1/models/loan/aliases/production",
        json={"version": versions.second},
        headers=admin,
        retries=False,
    )
    assert promoted.status == 200
    uploaded = urllib3.request(
        "POST",
        url + "/v1/models/loan/versions",
        body=versions.files[versions.gbm].read_bytes(),
        headers=admin | {"Content-Type": "application/octet-stream"},
        retries=False,
        timeout=120.0,  # the publish gate loads the model fully
    )
    assert uploaded.status == 201
    rolled_back = urllib3.request(
        "POST", url + "/v1/models/loan/aliases/production/rollback", headers=admin, retries=False
    )
    assert rolled_back.status == 200

    def alias_back_on_first_everywhere() -> bool:
        exposition = scrape(url)
        return (
            exposition.total(alias_info, alias="production", version=versions.first) == 1
            and exposition.total(alias_info, alias="production", version=versions.second) == 0
        )

    wait_until(alias_back_on_first_everywhere, url=url, timeout=30, waiting_for="the rollback")
    exposition = scrape(url)
    changes = "loanapp_alias_changes_total"
    assert exposition.total(changes, model="loan", alias="production", action="promote") == 1
    assert exposition.total(changes, model="loan", alias="production", action="rollback") == 1
    assert exposition.total("loanapp_publishes_total", model="loan") == 1
    assert exposition.total("loanapp_store_errors_total") == 0
    assert exposition.label_values("loanapp_http_requests_total", "service") == {"model-server"}
    assert "/v1/models/<name>/current" in exposition.label_values(
        "loanapp_http_requests_total", "route"
    )
