"""How a predict API starts: from the model server's version when it answers, else from its cache.

Each worker is asked over one kept-alive connection, so that /readyz (which names the worker) and
the /model and /predict answers around it all come from that same worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import urllib3

from loanapp.dev.processes import child_pids
from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import Traffic, sample_rows
from tests.integration.conftest import Versions

pytestmark = pytest.mark.integration

ROWS = sample_rows(20)


@dataclass(frozen=True)
class WorkerAnswers:
    """What one predict-API worker answered to /readyz, /model and /predict."""

    pid: int
    ready: dict[str, Any]
    model: dict[str, Any]
    predicted_version: str | None


def ask_one_worker(url: str) -> WorkerAnswers | None:
    """/readyz, /model, /predict, /readyz over one connection; None unless one worker answered."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    pool = urllib3.HTTPConnectionPool(
        parts.hostname, parts.port, maxsize=1, block=True, retries=False, timeout=5.0
    )
    try:
        before = orjson.loads(pool.request("GET", "/readyz").data)
        model = orjson.loads(pool.request("GET", "/model").data)
        headers = {"Content-Type": "application/json"}
        prediction = pool.request("POST", "/predict", body=orjson.dumps(ROWS[0]), headers=headers)
        predicted = orjson.loads(prediction.data).get("model_version")
        after = orjson.loads(pool.request("GET", "/readyz").data)
    except (urllib3.exceptions.HTTPError, orjson.JSONDecodeError):
        return None  # not listening yet, or a worker still booting
    finally:
        one_connection = pool.num_connections == 1
        pool.close()
    if not one_connection or before["worker_pid"] != after["worker_pid"]:
        return None  # the connection was not kept: the answers may come from two workers
    return WorkerAnswers(after["worker_pid"], after, model, predicted)


def every_worker_until(
    stack: LocalStack, done: Callable[[WorkerAnswers], bool], timeout: float = 60.0
) -> dict[int, WorkerAnswers]:
    """Ask the predict API's workers until each one's latest answers are `done`; by worker PID."""
    assert stack.predict_api is not None
    assert stack.predict_api.pid is not None
    latest: dict[int, WorkerAnswers] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers = ask_one_worker(stack.predict_api_url)
        if answers is not None:
            latest[answers.pid] = answers
        workers = child_pids(stack.predict_api.pid)
        if workers and all(pid in latest and done(latest[pid]) for pid in workers):
            return {pid: latest[pid] for pid in workers}
        time.sleep(0.02)
    raise AssertionError(f"not every worker got there: last answers {summary(latest)}")


def serves(version: str) -> Callable[[WorkerAnswers], bool]:
    """Done when /readyz, /model and /predict all name `version`."""

    def done(answers: WorkerAnswers) -> bool:
        return (
            answers.ready.get("version") == answers.model.get("model_version") == version
            and answers.predicted_version == version
        )

    return done


def summary(answers: dict[int, WorkerAnswers]) -> dict[int, tuple[Any, ...]]:
    """Per worker: the versions (first 12 digits) and sources it reported, for a failure message."""
    return {
        pid: (
            str(a.ready.get("version"))[:12],
            a.ready.get("source"),
            a.ready.get("model_server_reached"),
            str(a.model.get("model_version"))[:12],
            str(a.predicted_version)[:12],
        )
        for pid, a in answers.items()
    }


def log_size(stack: LocalStack) -> int:
    """Bytes in the predict API's log so far (it is appended to across restarts)."""
    return (stack.work_dir / "predict-api.log").stat().st_size


def log_since(stack: LocalStack, offset: int) -> str:
    """What the predict API logged after `offset`."""
    with (stack.work_dir / "predict-api.log").open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def test_a_predict_api_whose_cache_holds_another_version_starts_on_the_servers_version(
    stack: LocalStack, versions: Versions
) -> None:
    assert stack.model_server is not None
    assert stack.predict_api is not None
    # The predict API has served and cached `first`. Both stop; `second` is promoted; the
    # model server starts again, so that each of its workers names `second`.
    stack.predict_api.stop()
    stack.model_server.stop()
    stack.registry().promote("loan", versions.second, actor="test")
    stack.start_model_server().wait_ready()
    offset = log_size(stack)
    stack.start_predict_api()
    # Traffic from before the predict API listens, so that an early answer would be seen.
    traffic = Traffic(stack.predict_api_url, rows=ROWS, concurrency=2, max_seconds=120).start()
    stack.predict_api.wait_ready()
    answers = every_worker_until(stack, serves(versions.second))
    replies = traffic.stop()

    logged = log_since(stack, offset)
    assert versions.first not in logged, "a worker installed (or tried) the cached version"
    assert f"serving loan version {versions.second} (from model server; was none)" in logged
    assert all(reply.version != versions.first for reply in replies)
    assert {reply.version for reply in replies if reply.status == 200} == {versions.second}
    reported = {(a.ready.get("source"), a.model.get("source")) for a in answers.values()}
    assert reported == {("model server", "model server")}, summary(answers)
    assert all(a.ready["model_server_reached"] is True for a in answers.values())


def test_with_the_model_server_down_it_starts_from_its_cache_and_says_so(
    stack: LocalStack, versions: Versions
) -> None:
    assert stack.model_server is not None
    assert stack.predict_api is not None
    stack.model_server.kill()
    stack.predict_api.stop()
    stack.start_predict_api().wait_ready()  # after the start wait, from the cache
    answers = every_worker_until(stack, serves(versions.first))
    for worker in answers.values():
        assert worker.ready["status"] == "ready"
        assert worker.ready["source"] == worker.model["source"] == "local cache"
        assert worker.ready.get("model_server_reached") is False, summary(answers)
        assert "unavailable" in worker.ready["last_error"]

    # The model server comes back, still naming `first`: reached, nothing failing, same model.
    stack.start_model_server().wait_ready()
    every_worker_until(
        stack,
        lambda a: (
            serves(versions.first)(a)
            and a.ready["source"] == "local cache"
            and a.ready["model_server_reached"] is True
            and a.ready["last_error"] is None
        ),
    )
