"""Both services on the S3 backend (a real SeaweedFS server), and through an S3 outage.

The store is `s3://bucket/<this test's prefix>`; the services find the server through the AWS
variables, as in a deployment. The outage really stops the S3 server's process for 30 s.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import Traffic, sample_rows
from loanapp.errors import StoreUnavailableError
from loanapp.store.registry import ModelRegistry
from loanapp.store.uri import open_store
from loanapp.training.train import TrainingResult
from tests.factories import rebuild
from tests.integration.conftest import (
    ADMIN_TOKEN,
    Versions,
    assert_no_failures,
    publish_versions,
    stack_for,
    wait_until_every_worker_serves,
)
from tests.seaweedfs import SeaweedFS

pytestmark = pytest.mark.integration

ROWS = sample_rows(50)
OUTAGE_SECONDS = 30.0
# One model-server worker, so "its in-memory cache" is one cache the test can fill beforehand.
ONE_MODEL_SERVER_WORKER = {"serve_options": {"model-server": ["--workers", "1"]}}


@pytest.fixture
def s3_versions(
    s3_uri: str, tmp_path: Path, logreg: TrainingResult, gbm: TrainingResult
) -> Versions:
    """Three versions published in the S3 store; `first` is production."""
    return publish_versions(ModelRegistry(open_store(s3_uri)), tmp_path, logreg, gbm)


@pytest.fixture
def s3_stack(
    tmp_path: Path,
    s3_uri: str,
    s3_environment: dict[str, str],
    s3_versions: Versions,
    stack_options: dict[str, Any],
) -> Iterator[LocalStack]:
    """Model server (registry mode, LOANAPP_STORE=s3://...) and predict API, serving `first`."""
    options = dict(stack_options)
    environment = s3_environment | options.pop("environment", {})
    with stack_for(tmp_path, store=s3_uri, environment=environment, **options) as stack:
        yield stack


def test_predictions_and_promotions_on_the_s3_store(
    s3_stack: LocalStack, s3_versions: Versions, s3_uri: str, logreg: TrainingResult
) -> None:
    pool = urllib3.PoolManager(retries=False)
    ready = _get_json(pool, s3_stack.model_server_url + "/readyz")
    assert (ready["mode"], ready["store"], ready["store_ok"]) == ("registry", s3_uri, True)
    assert _predict(pool, s3_stack)["model_version"] == s3_versions.first

    # A promotion from another process (the CLI's way) reaches every predict-API worker.
    s3_stack.registry().promote("loan", s3_versions.second, actor="test")
    wait_until_every_worker_serves(s3_stack, s3_versions.second)
    assert _predict(pool, s3_stack)["model_version"] == s3_versions.second

    # An upload through the model server writes blob, record and alias to S3, and goes live.
    data = rebuild(logreg.artifact, model_type="logreg-uploaded")
    uploaded = pool.request(
        "POST", s3_stack.model_server_url + "/v1/models/loan/versions?alias=production",
        body=data, headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                            "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert uploaded.status == 201, uploaded.data
    version = hashlib.sha256(data).hexdigest()
    wait_until_every_worker_serves(s3_stack, version)
    assert _predict(pool, s3_stack)["model_version"] == version
    history = s3_stack.registry().get_alias("loan").history
    assert [change.version for change in history] == [
        s3_versions.first,
        s3_versions.second,
        version,
    ]


@pytest.mark.parametrize("stack_options", [ONE_MODEL_SERVER_WORKER])
def test_s3_outage_serves_from_memory_refuses_publish_and_recovers(
    s3_stack: LocalStack,
    s3_versions: Versions,
    s3_uri: str,
    seaweedfs: SeaweedFS,
    logreg: TrainingResult,
) -> None:
    first, second = s3_versions.first, s3_versions.second
    registry = s3_stack.registry()
    pool = urllib3.PoolManager(retries=False)
    model_server = s3_stack.model_server_url
    artifact_url = f"{model_server}/v1/models/loan/versions/{first}/artifact"
    # The predict API has downloaded `first` already; ask once more so that this worker holds it.
    assert hashlib.sha256(pool.request("GET", artifact_url).data).hexdigest() == first
    keys_before = registry.store.list("")
    unpublished = rebuild(logreg.artifact, model_type="logreg-during-outage")
    traffic = Traffic(s3_stack.predict_api_url, rows=ROWS, concurrency=4, max_seconds=240).start()

    seaweedfs.stop()  # the S3 server's process is gone: connections are refused
    try:
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        ready = _wait_for(
            lambda: _get_json(pool, model_server + "/readyz"), lambda r: not r["store_ok"]
        )
        assert ready["status"] == "ready", ready  # still ready: it answers from memory
        assert s3_uri in ready["store_error"], ready

        with pytest.raises(StoreUnavailableError, match=f"model store {s3_uri} is unavailable"):
            registry.publish(unpublished, actor="test")

        checks = 0
        while time.monotonic() < outage_ends:
            current = _get_json(pool, model_server + "/v1/models/loan/current")
            assert current["version"] == first
            artifact = pool.request("GET", artifact_url, timeout=10.0)
            assert artifact.status == 200, artifact.data
            assert hashlib.sha256(artifact.data).hexdigest() == first
            checks += 1
            time.sleep(1.0)
        assert checks > 0
    finally:
        seaweedfs.start()  # on the same data folder and ports, as after a restart

    # Both services recover by themselves: the model server's next polls succeed...
    _wait_for(lambda: _get_json(pool, model_server + "/readyz"), lambda r: r["store_ok"])
    # ...the failed publish left nothing behind, not even its blob...
    assert registry.store.list("") == keys_before
    assert hashlib.sha256(unpublished).hexdigest() not in {
        record.version for record in registry.list_versions("loan")
    }
    # ...and a promotion made now reaches every predict-API worker.
    registry.promote("loan", second, actor="test")
    wait_until_every_worker_serves(s3_stack, second)
    replies = traffic.stop()
    assert_no_failures(replies, {first, second})
    assert {reply.version for reply in replies} == {first, second}


def _get_json(pool: urllib3.PoolManager, url: str) -> dict[str, Any]:
    response = pool.request("GET", url, timeout=10.0)
    assert response.status == 200, (url, response.status, response.data)
    body: dict[str, Any] = orjson.loads(response.data)
    return body


def _predict(pool: urllib3.PoolManager, stack: LocalStack) -> dict[str, Any]:
    response = pool.request(
        "POST", stack.predict_api_url + "/predict", body=orjson.dumps(ROWS[0]),
        headers={"Content-Type": "application/json"}, timeout=10.0,
    )  # fmt: skip
    assert response.status == 200, response.data
    body: dict[str, Any] = orjson.loads(response.data)
    return body


def _wait_for(
    read: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Poll `read` until `done` holds for its answer (bounded); the last answer."""
    deadline = time.monotonic() + timeout
    answer = read()
    while not done(answer):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout:.0f}s: last {answer}")
        time.sleep(0.1)
        answer = read()
    return answer
