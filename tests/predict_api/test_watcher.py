"""The watcher: follows a model server whose answers the test scripts, one call at a time.

The model server is a fake client (the one place these tests replace a collaborator: its
transport is HTTP); the slot, the cache and the artifacts are real. Every call the watcher makes
waits for the test to script its answer, as a held long-poll waits for a change, and tells the
test that it was made: the tests synchronise on those calls, never on time. The watcher's clock,
which ends its start wait, is a fake too: it moves only when a test moves it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from loanapp.artifacts import compute_version
from loanapp.errors import UpstreamUnavailableError
from loanapp.predict_api.cache import ArtifactCache
from loanapp.predict_api.client import ModelServerClient
from loanapp.predict_api.serving_model import ServingModel
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.trust import TrustPolicy
from loanapp.predict_api.watcher import ModelWatcher
from loanapp.signing import (
    VersionSignature,
    generate_key_pair,
    load_private_key,
    load_public_keys,
    sign_version,
)
from loanapp.training.train import TrainingResult
from loanapp.worker_identity import WorkerReport
from tests.factories import (
    with_drifted_reference_rows,
    with_other_scikit_learn,
)

NAME = "loan"
SERVER_URL = "http://model-server.test"
WAIT_SECONDS = 0.02  # only passed on: the fake answers when the test says so
STARTUP_WAIT_SECONDS = 5.0  # on the fake clock
JOIN_SECONDS = 30  # generous: only a broken watcher makes a wait last this long


@dataclass(frozen=True)
class Call:
    """One call the watcher made to the model server."""

    method: str
    version: str | None  # current_version: the version it knows; fetch_artifact: the one it wants
    wait: float | None = None
    timeout: float | None = None  # current_version: the bound on the whole question, if any


Answer = str | bytes | None | Exception | list[VersionSignature]


class ScriptedModelServer:
    """A model-server client: each call is announced to the test, then answered as scripted."""

    def __init__(self) -> None:
        self._calls: queue.Queue[Call] = queue.Queue()
        self._answers: queue.Queue[Answer] = queue.Queue()
        self._closed = threading.Event()
        self.threads: set[threading.Thread] = set()
        self.identities: list[WorkerReport | None] = []

    # -- the client's interface, called by the watcher's thread ----------------------------------

    def current_version(
        self,
        name: str,
        *,
        known: str | None = None,
        wait: float = 0.0,
        timeout: float | None = None,
        identity: WorkerReport | None = None,
    ) -> str | None:
        """The next scripted answer: a version, None for "not changed", or an error."""
        assert name == NAME
        self.identities.append(identity)
        answer = self._answer(Call("current_version", known, wait, timeout))
        assert answer is None or isinstance(answer, str)
        return answer

    def fetch_artifact(self, name: str, version: str) -> bytes:
        """The next scripted answer: artifact bytes (verified or not), or an error."""
        assert name == NAME
        answer = self._answer(Call("fetch_artifact", version))
        assert isinstance(answer, bytes)
        return answer

    def fetch_signatures(self, name: str, version: str) -> list[VersionSignature]:
        """The next scripted answer: the signatures the server says the version has."""
        assert name == NAME
        answer = self._answer(Call("fetch_signatures", version))
        assert isinstance(answer, list)
        return answer

    # -- the test's side --------------------------------------------------------------------------

    def next_call(self) -> Call:
        """Wait for the watcher's next call; fail if its thread ends without making one."""
        deadline = time.monotonic() + JOIN_SECONDS
        while time.monotonic() < deadline:
            try:
                return self._calls.get(timeout=0.05)
            except queue.Empty:
                if self.threads and not any(thread.is_alive() for thread in self.threads):
                    raise AssertionError("the watcher's thread ended") from None
        raise AssertionError("the watcher made no further call")

    def answer(self, answer: Answer) -> None:
        """Answer the call the watcher is waiting on (or its next one)."""
        self._answers.put(answer)

    def unseen_calls(self) -> list[Call]:
        """Calls the watcher made that the test has not taken with `next_call`."""
        calls = []
        while not self._calls.empty():
            calls.append(self._calls.get())
        return calls

    def close(self) -> None:
        """From now on every call fails at once, so that a watcher left running ends."""
        self._closed.set()
        self._answers.put(UpstreamUnavailableError(SERVER_URL, "closed by the test"))

    def join(self) -> None:
        """Wait for the watcher's thread to end."""
        for thread in self.threads:
            thread.join(JOIN_SECONDS)

    def _answer(self, call: Call) -> Answer:
        self.threads.add(threading.current_thread())
        if self._closed.is_set():
            raise UpstreamUnavailableError(SERVER_URL, "closed by the test")
        self._calls.put(call)
        answer = self._answers.get()
        if isinstance(answer, Exception):
            raise answer
        return answer


def unavailable(reason: str = "GET /v1/models/loan/current answered 503") -> Exception:
    """The error the real client raises when the model server fails."""
    return UpstreamUnavailableError(SERVER_URL, reason)


class FakeClock:
    """A monotonic clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """The watcher's clock, at 0 until the test moves it."""
    return FakeClock()


@pytest.fixture
def server() -> ScriptedModelServer:
    """The fake model server, answering only what the test scripts."""
    return ScriptedModelServer()


@pytest.fixture
def slot() -> ModelSlot:
    """An empty model slot."""
    return ModelSlot()


@pytest.fixture
def cache(tmp_path: Path) -> ArtifactCache:
    """An empty artifact cache in a temporary folder."""
    return ArtifactCache(tmp_path / "cache", SERVER_URL)


@pytest.fixture
def watcher(
    server: ScriptedModelServer, slot: ModelSlot, cache: ArtifactCache, clock: FakeClock
) -> Iterator[ModelWatcher]:
    """A watcher over the fake server, not started; stopped and its thread ended at teardown."""
    watcher = ModelWatcher(
        name=NAME,
        # The watcher takes the concrete client; the fake has the two methods it calls.
        client=cast(ModelServerClient, server),
        slot=slot,
        cache=cache,
        wait_seconds=WAIT_SECONDS,
        retry_max_seconds=0.01,
        startup_wait_seconds=STARTUP_WAIT_SECONDS,
        clock=clock,
    )
    yield watcher
    watcher.stop(timeout=0)
    server.close()
    server.join()


def serve_first(server: ScriptedModelServer, result: TrainingResult) -> None:
    """Script a start with nothing served: the server names `result`, and the watcher fetches it."""
    # The first question is bounded by the start wait (the fake clock has not moved).
    assert server.next_call() == Call("current_version", None, 0.0, STARTUP_WAIT_SECONDS)
    server.answer(result.version)
    assert server.next_call() == Call("fetch_artifact", result.version)
    server.answer(result.artifact)
    # Its next question names the version it now serves: the swap is done.
    assert server.next_call() == Call("current_version", result.version, WAIT_SECONDS)


def test_a_new_version_is_fetched_installed_and_cached(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    logreg: TrainingResult,
    second_logreg: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="loanapp.predict_api.watcher")
    watcher.start()
    serve_first(server, logreg)
    assert slot.current is not None
    assert (slot.current.version, slot.current.source) == (logreg.version, "model server")
    assert cache.load_last(NAME) == (logreg.version, logreg.artifact)

    second = compute_version(second_logreg)
    server.answer(second)  # the long-poll answers: the version changed
    assert server.next_call() == Call("fetch_artifact", second)
    server.answer(second_logreg)
    assert server.next_call() == Call("current_version", second, WAIT_SECONDS)
    assert slot.current.version == second
    assert slot.status()["last_error"] is None
    assert cache.load_last(NAME) == (second, second_logreg)
    swaps = [r.getMessage() for r in caplog.records if r.getMessage().startswith("serving")]
    assert swaps == [
        f"serving loan version {logreg.version} (from model server; was none)",
        f"serving loan version {second} (from model server; was {logreg.version})",
    ]


def test_each_question_names_the_worker_and_what_it_serves(
    watcher: ModelWatcher, server: ScriptedModelServer, slot: ModelSlot, logreg: TrainingResult
) -> None:
    watcher.start()
    serve_first(server, logreg)
    first, after_swap = server.identities
    assert first is not None
    assert (first.pid, first.version, first.since, first.predictor) == (
        os.getpid(),
        None,
        None,
        None,
    )
    assert after_swap is not None
    assert slot.current is not None
    assert (after_swap.worker, after_swap.version) == (first.worker, logreg.version)
    assert (after_swap.since, after_swap.predictor) == (
        slot.current.loaded_at,
        slot.current.predictor_kind,
    )
    server.answer(UpstreamUnavailableError(SERVER_URL, "gone"))  # this update fails
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    after_failure = server.identities[-1]
    assert after_failure is not None
    assert after_failure.last_error is not None
    assert "gone" in after_failure.last_error


def test_an_unchanged_version_is_not_fetched_again(
    watcher: ModelWatcher, server: ScriptedModelServer, slot: ModelSlot, logreg: TrainingResult
) -> None:
    watcher.start()
    serve_first(server, logreg)
    server.answer(None)  # 304: not changed
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    server.answer(logreg.version)  # a busy server's answer at once: the same version
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    assert slot.current is not None
    assert slot.current.version == logreg.version


@pytest.mark.parametrize("failing_call", ["current_version", "fetch_artifact"])
def test_a_failed_update_is_recorded_logged_and_retried(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    logreg: TrainingResult,
    second_logreg: bytes,
    caplog: pytest.LogCaptureFixture,
    failing_call: str,
) -> None:
    second = compute_version(second_logreg)
    watcher.start()
    serve_first(server, logreg)
    error = unavailable()
    if failing_call == "fetch_artifact":
        server.answer(second)
        assert server.next_call() == Call("fetch_artifact", second)
    with caplog.at_level(logging.WARNING, logger="loanapp.predict_api.watcher"):
        server.answer(error)
        retry = server.next_call()  # asked again, still knowing the old version
    assert retry == Call("current_version", logreg.version, WAIT_SECONDS)
    status = slot.status()
    assert status["last_error"] == error.args[0]
    assert status["last_error_at"] is not None
    assert (status["version"], status["source"]) == (logreg.version, "model server")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("model update failed (retry in ")
    assert warnings[0].endswith(error.args[0])
    assert cache.load_last(NAME) == (logreg.version, logreg.artifact)

    # The retry succeeds: the new version is served and the error is cleared.
    server.answer(second)
    assert server.next_call() == Call("fetch_artifact", second)
    server.answer(second_logreg)
    assert server.next_call() == Call("current_version", second, WAIT_SECONDS)
    assert slot.current is not None
    assert slot.current.version == second
    assert slot.status()["last_error"] is None
    assert cache.load_last(NAME) == (second, second_logreg)


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        pytest.param(
            "bytes-of-another-version",
            "artifact integrity check failed: expected sha256 ",
            id="bytes-of-another-version",
        ),
        pytest.param(
            "drifted-reference-rows",
            "loaded model does not reproduce its reference rows",
            id="drifted-reference-rows",
        ),
    ],
)
def test_an_artifact_that_fails_verification_is_refused_and_the_old_model_stays(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    logreg: TrainingResult,
    second_logreg: bytes,
    problem: str,
    message: str,
) -> None:
    if problem == "bytes-of-another-version":
        version, data = compute_version(second_logreg), logreg.artifact
    else:
        data = with_drifted_reference_rows(second_logreg)
        version = compute_version(data)
    watcher.start()
    serve_first(server, logreg)
    server.answer(version)
    assert server.next_call() == Call("fetch_artifact", version)
    server.answer(data)
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    assert slot.current is not None
    assert slot.current.version == logreg.version
    assert str(slot.status()["last_error"]).startswith(message)
    assert cache.load_last(NAME) == (logreg.version, logreg.artifact)
    assert not (cache.folder / version).exists()


@pytest.mark.parametrize("answer", ["not-changed", "served-version"])
def test_an_answer_naming_the_served_version_clears_the_last_error(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    logreg: TrainingResult,
    second_logreg: bytes,
    answer: str,
) -> None:
    refused = with_drifted_reference_rows(second_logreg)
    watcher.start()
    serve_first(server, logreg)
    server.answer(compute_version(refused))  # a bad version is promoted
    assert server.next_call() == Call("fetch_artifact", compute_version(refused))
    server.answer(refused)
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    assert str(slot.status()["last_error"]).startswith("loaded model does not reproduce")

    # It is rolled back: the model server names the version this worker serves again, by a
    # long-poll's "not changed" or by an answer that names it.
    server.answer(None if answer == "not-changed" else logreg.version)
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    status = slot.status()
    assert (status["last_error"], status["last_error_at"]) == (None, None)
    assert status["version"] == logreg.version


def test_an_unexpected_error_while_updating_is_recorded_and_retried(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    logreg: TrainingResult,
    second_logreg: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    version = compute_version(second_logreg)
    watcher.start()
    serve_first(server, logreg)
    server.answer(version)
    assert server.next_call() == Call("fetch_artifact", version)
    with caplog.at_level(logging.WARNING):
        server.answer(RuntimeError("a bug below the watcher"))
        # The thread outlived the error: it asks again, with the old model still in place.
        assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    error = slot.status()["last_error"]
    assert error == "unexpected error while updating: RuntimeError('a bug below the watcher')"
    assert slot.current is not None
    assert slot.current.version == logreg.version
    assert any(record.exc_info for record in caplog.records), "the traceback is logged"
    server.answer(version)
    assert server.next_call() == Call("fetch_artifact", version)
    server.answer(second_logreg)
    assert server.next_call().method == "current_version"
    assert slot.current.version == version


def test_start_asks_the_model_server_first_and_never_serves_another_cached_version(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    logreg: TrainingResult,
    second_logreg: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="loanapp.predict_api.watcher")
    cache.save(NAME, logreg.version, logreg.artifact)  # rolled back since, or from another store
    watcher.start()
    # The first question knows no version, and is bounded by the start wait.
    assert server.next_call() == Call("current_version", None, 0.0, STARTUP_WAIT_SECONDS)
    assert slot.current is None  # not ready while the question is open
    assert slot.status()["model_server_reached"] is False
    second = compute_version(second_logreg)
    server.answer(second)
    assert server.next_call() == Call("fetch_artifact", second)
    server.answer(second_logreg)
    assert server.next_call() == Call("current_version", second, WAIT_SECONDS)
    status = slot.status()
    assert (status["version"], status["source"]) == (second, "model server")
    assert status["model_server_reached"] is True
    swaps = [r.getMessage() for r in caplog.records if r.getMessage().startswith("serving")]
    assert swaps == [f"serving loan version {second} (from model server; was none)"]
    assert cache.load_last(NAME) == (second, second_logreg)


def test_start_serves_the_cached_version_once_the_model_server_is_not_reached_in_time(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    clock: FakeClock,
    logreg: TrainingResult,
) -> None:
    cache.save(NAME, logreg.version, logreg.artifact)
    watcher.start()
    assert server.next_call() == Call("current_version", None, 0.0, STARTUP_WAIT_SECONDS)
    clock.advance(STARTUP_WAIT_SECONDS / 2)
    server.answer(unavailable("ConnectTimeoutError"))
    # Asked again, for no longer than the start wait has left; nothing is served meanwhile.
    assert server.next_call() == Call("current_version", None, 0.0, STARTUP_WAIT_SECONDS / 2)
    assert slot.current is None
    assert slot.status()["last_error"] == unavailable("ConnectTimeoutError").args[0]
    clock.advance(STARTUP_WAIT_SECONDS / 2)
    server.answer(unavailable())
    # The wait is over: the cached version is served, and followed with long-polls from it.
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    status = slot.status()
    assert (status["version"], status["source"]) == (logreg.version, "local cache")
    assert status["model_server_reached"] is False
    # The model server answers at last, naming that version: reached, and nothing failing.
    server.answer(None)
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    status = slot.status()
    assert (status["model_server_reached"], status["last_error"]) == (True, None)
    assert (status["version"], status["source"]) == (logreg.version, "local cache")


def test_the_cached_version_is_not_served_once_the_model_server_has_answered(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    clock: FakeClock,
    logreg: TrainingResult,
    second_logreg: bytes,
) -> None:
    cache.save(NAME, logreg.version, logreg.artifact)
    second = compute_version(second_logreg)
    watcher.start()
    assert server.next_call() == Call("current_version", None, 0.0, STARTUP_WAIT_SECONDS)
    server.answer(second)  # the model server names another version...
    assert server.next_call() == Call("fetch_artifact", second)
    clock.advance(2 * STARTUP_WAIT_SECONDS)
    server.answer(unavailable())  # ...and fails before the download ends, past the start wait
    # Asked again without a bound, and still nothing served: the cache holds what the model
    # server no longer names.
    assert server.next_call() == Call("current_version", None, 0.0)
    assert slot.current is None
    assert slot.status()["model_server_reached"] is True
    server.answer(second)
    assert server.next_call() == Call("fetch_artifact", second)
    server.answer(second_logreg)
    assert server.next_call() == Call("current_version", second, WAIT_SECONDS)
    assert slot.current is not None
    assert slot.current.version == second


def test_with_nothing_cached_a_worker_waits_for_the_model_server(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    clock: FakeClock,
    logreg: TrainingResult,
    caplog: pytest.LogCaptureFixture,
) -> None:
    watcher.start()
    assert server.next_call() == Call("current_version", None, 0.0, STARTUP_WAIT_SECONDS)
    clock.advance(STARTUP_WAIT_SECONDS)
    with caplog.at_level(logging.WARNING, logger="loanapp.predict_api.watcher"):
        server.answer(unavailable())
        assert server.next_call() == Call("current_version", None, 0.0)
    assert caplog.records[-1].getMessage() == (
        "model server not reached within 5s and no cached version to serve meanwhile"
    )
    assert slot.current is None
    server.answer(logreg.version)
    assert server.next_call() == Call("fetch_artifact", logreg.version)
    server.answer(logreg.artifact)
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    assert slot.status()["source"] == "model server"


def test_a_cached_version_that_no_longer_loads_is_not_served(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    clock: FakeClock,
    logreg: TrainingResult,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old = with_other_scikit_learn(logreg.artifact)
    cache.save(NAME, compute_version(old), old)
    watcher.start()
    assert server.next_call() == Call("current_version", None, 0.0, STARTUP_WAIT_SECONDS)
    clock.advance(STARTUP_WAIT_SECONDS)
    watcher_logger = "loanapp.predict_api.watcher"
    with caplog.at_level(logging.WARNING, logger=watcher_logger):
        server.answer(unavailable())
        assert server.next_call() == Call("current_version", None, 0.0)
    assert slot.current is None
    assert [r.getMessage() for r in caplog.records if r.name == watcher_logger][1:] == [
        f"model server not reached within 5s: trying the cached version {compute_version(old)} "
        "meanwhile",
        f"cached version {compute_version(old)} not usable: artifact was trained with "
        f"scikit-learn 0.24.2 but scikit-learn {logreg.metadata.libraries['scikit-learn']} is "
        "installed; load it where scikit-learn==0.24.2 is installed, or retrain it",
    ]
    server.answer(logreg.version)  # the model server's version replaces it
    assert server.next_call() == Call("fetch_artifact", logreg.version)
    server.answer(logreg.artifact)
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    assert slot.current is not None
    assert slot.current.version == logreg.version


def test_stop_ends_the_thread_and_an_answer_after_it_is_not_installed(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    logreg: TrainingResult,
    second_logreg: bytes,
) -> None:
    watcher.start()
    serve_first(server, logreg)  # now held in a long-poll
    watcher.stop(timeout=0)  # the long-poll is still held: do not wait for it
    server.answer(compute_version(second_logreg))  # the long-poll outlives the stop
    server.join()
    assert server.threads
    assert not any(thread.is_alive() for thread in server.threads)
    assert server.unseen_calls() == []  # neither a download nor another question
    assert slot.current is not None
    assert slot.current.version == logreg.version
    assert cache.load_last(NAME) == (logreg.version, logreg.artifact)


# -- signatures: a worker with trusted keys serves only what one of them signed --------------------


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """A trusted key pair and a stranger's, as files."""
    trusted_private, trusted_public = generate_key_pair(tmp_path / "keys", "trusted")
    stranger_private, _ = generate_key_pair(tmp_path / "keys", "stranger")
    return {"trusted": trusted_private, "public": trusted_public, "stranger": stranger_private}


@pytest.fixture
def trusting_watcher(watcher: ModelWatcher, keys: dict[str, Path]) -> ModelWatcher:
    """The watcher, trusting only the `trusted` key."""
    watcher.trust = TrustPolicy(load_public_keys([keys["public"]]))
    return watcher


def signed(version: str, key: Path) -> list[VersionSignature]:
    """The signature list a model server would give for `version` signed by `key`."""
    return [sign_version(version, load_private_key(key))]


def serve_first_signed(server: ScriptedModelServer, result: TrainingResult, key: Path) -> None:
    """`serve_first`, with the signature the trusting watcher now asks for."""
    assert server.next_call() == Call("current_version", None, 0.0, STARTUP_WAIT_SECONDS)
    server.answer(result.version)
    assert server.next_call() == Call("fetch_artifact", result.version)
    server.answer(result.artifact)
    assert server.next_call() == Call("fetch_signatures", result.version)
    server.answer(signed(result.version, key))
    assert server.next_call() == Call("current_version", result.version, WAIT_SECONDS)


def test_a_version_signed_by_a_trusted_key_is_served_and_named(
    trusting_watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    keys: dict[str, Path],
    logreg: TrainingResult,
) -> None:
    trusting_watcher.start()
    serve_first_signed(server, logreg, keys["trusted"])
    assert slot.current is not None
    assert slot.current.version == logreg.version
    key_id = signed(logreg.version, keys["trusted"])[0].key_id
    assert slot.current.signed_by == key_id
    assert slot.status()["signed_by"] == key_id
    assert cache.load_signatures(logreg.version) == signed(logreg.version, keys["trusted"])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unsigned", "it has no signature"),
        ("stranger", "is not trusted"),
        ("copied", "the signature does not verify for this version"),
    ],
)
def test_a_version_not_signed_by_a_trusted_key_is_refused_and_the_old_one_stays(
    trusting_watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    keys: dict[str, Path],
    logreg: TrainingResult,
    second_logreg: bytes,
    case: str,
    message: str,
) -> None:
    second = compute_version(second_logreg)
    trusting_watcher.start()
    serve_first_signed(server, logreg, keys["trusted"])
    server.answer(second)
    assert server.next_call() == Call("fetch_artifact", second)
    server.answer(second_logreg)
    assert server.next_call() == Call("fetch_signatures", second)
    # What a model server in the wrong hands could claim: nothing, a stranger's signature, or
    # the trusted key's signature of another version.
    claimed = {
        "unsigned": [],
        "stranger": signed(second, keys["stranger"]),
        "copied": signed(logreg.version, keys["trusted"]),
    }[case]
    server.answer(claimed)
    assert server.next_call() == Call("current_version", logreg.version, WAIT_SECONDS)
    assert slot.current is not None
    assert slot.current.version == logreg.version
    error = slot.status()["last_error"]
    assert error.startswith(f"version {second} is not signed by a trusted key: ")
    assert message in error


@pytest.mark.parametrize("signature_cached", [True, False])
def test_a_start_from_the_cache_checks_the_cached_signatures(
    trusting_watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    clock: FakeClock,
    keys: dict[str, Path],
    logreg: TrainingResult,
    signature_cached: bool,
) -> None:
    cache.save(NAME, logreg.version, logreg.artifact)
    if signature_cached:
        cache.save_signatures(logreg.version, signed(logreg.version, keys["trusted"]))
    trusting_watcher.start()
    assert server.next_call() == Call("current_version", None, 0.0, STARTUP_WAIT_SECONDS)
    clock.advance(STARTUP_WAIT_SECONDS)
    server.answer(unavailable())  # the model server cannot be reached: the cache is tried
    assert server.next_call().method == "current_version"
    if signature_cached:
        assert slot.current is not None
        assert (slot.current.version, slot.current.source) == (logreg.version, "local cache")
    else:
        assert slot.current is None  # an unsigned cached version is not served either


def test_a_version_is_on_disk_before_it_is_served(
    watcher: ModelWatcher,
    server: ScriptedModelServer,
    slot: ModelSlot,
    cache: ArtifactCache,
    logreg: TrainingResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cached_when_swapped: list[tuple[str, bytes] | None] = []
    real_swap = slot.swap

    def swap(model: ServingModel) -> ServingModel | None:
        cached_when_swapped.append(cache.load_last(NAME))
        return real_swap(model)

    monkeypatch.setattr(slot, "swap", swap)
    watcher.start()
    serve_first(server, logreg)
    # A worker stopped right after it reports a version still starts from it next time.
    assert cached_when_swapped == [(logreg.version, logreg.artifact)]
