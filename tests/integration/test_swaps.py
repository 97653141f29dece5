"""Zero failed requests while versions change, the model server dies, and bad artifacts appear."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import urllib3

from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import Traffic, sample_rows
from tests.integration.conftest import (
    Versions,
    assert_no_failures,
    wait_until_every_worker_serves,
)

SWAP_REASON = "swap test: every kind of model must be served"
pytestmark = pytest.mark.integration

ROWS = sample_rows(50)


def start_traffic(stack: LocalStack) -> Traffic:
    """Four clients posting /predict, bounded to two minutes."""
    return Traffic(stack.predict_api_url, rows=ROWS, concurrency=4, max_seconds=120).start()


def test_promote_and_roll_back_five_times_under_traffic(
    stack: LocalStack, versions: Versions
) -> None:
    registry = stack.registry()
    traffic = start_traffic(stack)
    for _ in range(5):
        registry.promote("loan", versions.second, actor="test")
        wait_until_every_worker_serves(stack, versions.second)
        registry.rollback("loan", actor="test")
        wait_until_every_worker_serves(stack, versions.first)
    replies = traffic.stop()
    assert_no_failures(replies, {versions.first, versions.second})
    assert {reply.version for reply in replies} == {versions.first, versions.second}


def test_model_server_killed_and_restarted_three_times(
    stack: LocalStack, versions: Versions
) -> None:
    registry = stack.registry()
    traffic = start_traffic(stack)
    for target in (versions.second, versions.gbm, versions.first):
        assert stack.model_server is not None
        stack.model_server.kill()  # SIGKILL to master and workers
        # Changes while the server is down; forced, since the gate cannot rank models from
        # three folds of a small sample, and these swaps are about serving, not model quality.
        registry.promote("loan", target, actor="test", force=True, reason=SWAP_REASON)
        stack.start_model_server().wait_ready()
        wait_until_every_worker_serves(stack, target)
    replies = traffic.stop()
    assert_no_failures(replies, {versions.first, versions.second, versions.gbm})
    # Each worker's math libraries run one thread (LOANAPP_MODEL_THREADS), also for the gbm.
    ready = orjson.loads(
        urllib3.PoolManager().request("GET", stack.predict_api_url + "/readyz").data
    )
    assert set(ready["math_threads"].values()) == {1}


def test_corrupted_artifact_is_never_served(
    stack: LocalStack, versions: Versions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = stack.registry()
    # The registry refuses to promote damaged bytes; here they are damaged as if after the
    # promotion (a disk or a hand in the store), so the alias moves as it would have then.
    monkeypatch.setattr(registry, "stored_hash", lambda version: version)
    blob = tmp_path / "store" / "blobs" / "sha256" / versions.second
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    blob.write_bytes(bytes(damaged))
    traffic = start_traffic(stack)
    registry.promote("loan", versions.second, actor="test")
    pool = urllib3.PoolManager(retries=False)
    for _ in range(600):  # until a worker reports the failed update, at most 30 s
        ready = orjson.loads(pool.request("GET", stack.predict_api_url + "/readyz").data)
        if ready.get("last_error"):
            break
        time.sleep(0.05)
    assert "integrity" in ready["last_error"] or "422" in ready["last_error"], ready
    assert ready["version"] == versions.first
    # The next good version still arrives.
    registry.promote("loan", versions.gbm, actor="test", force=True, reason=SWAP_REASON)
    wait_until_every_worker_serves(stack, versions.gbm)
    replies = traffic.stop()
    assert_no_failures(replies, {versions.first, versions.gbm})


def test_pinned_mismatched_hash_refuses_to_start(
    stack: LocalStack, versions: Versions, tmp_path: Path
) -> None:
    traffic = start_traffic(stack)
    assert stack.model_server is not None
    stack.model_server.stop()
    wrong = versions.first  # the hash of another artifact than MODEL_URI
    result = subprocess.run(
        [sys.executable, "-m", "loanapp", "serve", "model-server", "--port", "1"],
        env={
            **stack.model_server.env,
            "MODEL_URI": str(versions.files[versions.gbm]),
            "MODEL_SHA256": wrong,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert f"expected sha256 {wrong}, got sha256 {versions.gbm}" in result.stderr
    assert "Traceback" not in result.stderr
    # The right hash starts it, pinned, and the predict API follows.
    pinned = (str(versions.files[versions.gbm]), versions.gbm)
    stack.start_model_server(pinned=pinned).wait_ready()
    wait_until_every_worker_serves(stack, versions.gbm)
    replies = traffic.stop()
    assert_no_failures(replies, {versions.first, versions.gbm})


def test_predict_api_starts_from_its_cache_while_the_model_server_is_down(
    stack: LocalStack, versions: Versions
) -> None:
    assert stack.model_server is not None
    assert stack.predict_api is not None
    stack.model_server.kill()
    stack.predict_api.stop()
    stack.start_predict_api().wait_ready()  # ready means a verified model is loaded
    wait_until_every_worker_serves(stack, versions.first)  # each worker has its own start
    pool = urllib3.PoolManager(retries=False)
    ready = orjson.loads(pool.request("GET", stack.predict_api_url + "/readyz").data)
    assert ready["version"] == versions.first
    assert ready["source"] == "local cache"
    answer = pool.request(
        "POST", stack.predict_api_url + "/predict", body=orjson.dumps(ROWS[0]),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status == 200
    assert orjson.loads(answer.data)["model_version"] == versions.first
    # When the model server returns, the API follows it again.
    stack.registry().promote("loan", versions.second, actor="test")
    stack.start_model_server().wait_ready()
    wait_until_every_worker_serves(stack, versions.second)


def test_bad_requests_get_json_4xx_from_the_real_server(stack: LocalStack) -> None:
    pool = urllib3.PoolManager(retries=False)
    url = stack.predict_api_url
    cases = [
        ("/predict", b"{oops", "application/json", 400, "MalformedRequestError"),
        ("/predict", orjson.dumps(ROWS[0]), "text/plain", 400, "MalformedRequestError"),
        (
            "/predict",
            orjson.dumps({**ROWS[0], "term": "term_99"}),
            "application/json",
            422,
            "RequestValidationError",
        ),
        (
            "/predict/batch",
            orjson.dumps(ROWS * 30),
            "application/json",
            413,
            "PayloadTooLargeError",
        ),
        (
            "/predict",
            b"[" + b"0," * 3_000_000 + b"0]",
            "application/json",
            413,
            "PayloadTooLargeError",
        ),
    ]
    for path, body, content_type, status, error_type in cases:
        response = pool.request(
            "POST", url + path, body=body, headers={"Content-Type": content_type}, timeout=30.0
        )
        assert response.status == status, (path, response.data[:200])
        assert response.headers["Content-Type"] == "application/json"
        answer = orjson.loads(response.data)
        assert answer["type"] == error_type, (path, answer)
        assert answer["error"]
