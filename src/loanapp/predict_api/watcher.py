"""The watcher: follows the model server by long-poll and swaps in each verified new version."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from loanapp.errors import LoanappError
from loanapp.logs import new_request_id, request_id_var
from loanapp.metrics.predictions import record_model_served, record_model_update
from loanapp.predict_api.cache import ArtifactCache
from loanapp.predict_api.client import ModelServerClient
from loanapp.predict_api.serving_model import ServingModel, load_serving_model
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.trust import TrustPolicy
from loanapp.signing import VersionSignature
from loanapp.worker_identity import WorkerReport

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.25
# A question asked at the very end of the start wait still gets this long (urllib3 refuses 0).
LAST_START_QUESTION_SECONDS = 0.05


class ModelWatcher:
    """One per worker process: a daemon thread that keeps the slot on the model server's version.

    A new version is downloaded, hash-verified, its signature checked when the trust policy asks
    for one, loaded and checked against its reference rows before one assignment makes it
    current. Any failure keeps the old model, is logged, shows in
    /readyz, and is retried with capped exponential backoff.

    At start the model server is asked first, for at most `startup_wait_seconds`; only if it has
    not answered by then is the version this cache last served from it installed, so a worker
    never starts on a version the model server no longer names (rolled back, or from another
    store) when the model server can tell it which one is current.
    """

    def __init__(
        self,
        *,
        name: str,
        client: ModelServerClient,
        slot: ModelSlot,
        cache: ArtifactCache,
        wait_seconds: float,
        retry_max_seconds: float,
        startup_wait_seconds: float,
        trust: TrustPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.client = client
        self.slot = slot
        self.cache = cache
        self.wait_seconds = wait_seconds
        self.retry_max_seconds = retry_max_seconds
        self.startup_wait_seconds = startup_wait_seconds
        self.trust = trust or TrustPolicy()
        self._clock = clock
        # When the start wait ends; None once the model server answered or the cache was tried.
        self._start_deadline: float | None = None
        self._model_server_reached = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)

    def start(self) -> None:
        """Start following the model server in the watcher's thread; this returns at once."""
        self._start_deadline = self._clock() + self.startup_wait_seconds
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop acting on the model server's answers; the thread ends at its next wake-up."""
        self._stopping.set()
        logger.info("stopped following the model server for %s", self.name)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            # One id per round: the model server's log lines for its questions carry it, and so
            # do this worker's lines about the round.
            request_id_var.set(new_request_id())
            try:
                self._serve_cache_if_start_wait_is_over()
                self._follow_once()
                failures = 0
                continue
            except LoanappError as exc:
                message, unexpected = exc.message, None
            except Exception as exc:
                # Not one of ours, so a bug: the thread must outlive it, or this worker would
                # never follow the model server again and nothing would say so.
                message, unexpected = f"unexpected error while updating: {exc!r}", exc
            failures += 1
            record_model_update(succeeded=False)
            self.slot.record_failure(message)
            delay = min(self.retry_max_seconds, FIRST_RETRY_SECONDS * 2 ** (failures - 1))
            logger.warning(
                "model update failed (retry in %.1fs): %s", delay, message, exc_info=unexpected
            )
            self._stopping.wait(self._until_start_deadline(delay * random.uniform(0.8, 1.2)))

    def _follow_once(self) -> None:
        current = self.slot.current
        known = current.version if current else None
        asked_at = self._clock()
        version = self.client.current_version(
            self.name,
            known=known,
            wait=self.wait_seconds if known else 0.0,
            timeout=self._until_start_deadline(None),
            identity=self._identity(),
        )
        if self._stopping.is_set():
            return  # stopping: the answer of a long-poll that outlived the stop is not acted on
        self._record_answer()
        if version is None or version == known:
            # The model server names what this worker serves: whatever failed before (a version
            # refused, then rolled back; the server unreachable for a while) is over.
            self.slot.clear_failure()
            # A busy model server answers "no change" at once instead of holding the request;
            # pause before asking again rather than spin.
            if known and self._clock() - asked_at < self.wait_seconds / 2:
                self._stopping.wait(min(1.0, self.wait_seconds / 2))
            return
        data = self.client.fetch_artifact(self.name, version)
        signatures = (
            self.client.fetch_signatures(self.name, version)
            if self.trust.requires_signature
            else []
        )
        model = self._load(version, data, signatures, source="model server")
        # Cached before it is served: a worker that reports a version has it on disk, even if it
        # is stopped a moment later.
        self.cache.save(self.name, version, data)
        if signatures:
            self.cache.save_signatures(version, signatures)
        self._swap(model)

    def _identity(self) -> WorkerReport:
        """This worker as the model server's fleet view shows it (the PID is read after a fork)."""
        current = self.slot.current
        last_error = self.slot.status()["last_error"]
        return WorkerReport(
            host=socket.gethostname(),
            pid=os.getpid(),
            version=current.version if current else None,
            since=current.loaded_at if current else None,
            predictor=current.predictor_kind if current else None,
            last_error=last_error if isinstance(last_error, str) else None,
        )

    def _record_answer(self) -> None:
        """The model server answered: the start wait is over, and /readyz says it was reached."""
        self._start_deadline = None
        if not self._model_server_reached:
            self._model_server_reached = True
            self.slot.record_model_server_reached()

    def _until_start_deadline(self, seconds: float | None) -> float | None:
        """`seconds`, shortened to what is left of the start wait while it lasts."""
        if self._start_deadline is None:
            return seconds
        left = max(LAST_START_QUESTION_SECONDS, self._start_deadline - self._clock())
        return left if seconds is None else min(seconds, left)

    def _serve_cache_if_start_wait_is_over(self) -> None:
        """Once the start wait ends without an answer, install the cached version, if usable."""
        if self._start_deadline is None or self._clock() < self._start_deadline:
            return
        self._start_deadline = None  # the cache is tried once: it will not load better later
        cached = self.cache.load_last(self.name)
        if cached is None:
            logger.warning(
                "model server not reached within %gs and no cached version to serve meanwhile",
                self.startup_wait_seconds,
            )
            return
        version, data = cached
        logger.warning(
            "model server not reached within %gs: trying the cached version %s meanwhile",
            self.startup_wait_seconds,
            version,
        )
        try:
            signatures = self.cache.load_signatures(version)
            self._swap(self._load(version, data, signatures, source="local cache"))
        except LoanappError as exc:
            logger.warning("cached version %s not usable: %s", version, exc.message)

    def _load(
        self, version: str, data: bytes, signatures: Sequence[VersionSignature], source: str
    ) -> ServingModel:
        """A version made servable: signature (when required), hash, versions, reference rows."""
        signer = self.trust.signer(version, signatures)  # before a byte of the model is parsed
        return replace(load_serving_model(data, version, source), signed_by=signer)

    def _swap(self, model: ServingModel) -> None:
        previous = self.slot.swap(model)
        record_model_update(succeeded=True)
        record_model_served(
            model.version,
            model.predictor_kind,
            (previous.version, previous.predictor_kind) if previous else None,
        )
        logger.info(
            "serving %s version %s (from %s; was %s)",
            self.name,
            model.version,
            model.source,
            previous.version if previous else "none",
        )
