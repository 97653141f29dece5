"""The watcher: follows the model server by long-poll and swaps in each verified new version."""

from __future__ import annotations

import logging
import random
import threading
import time

from loanapp.errors import LoanappError
from loanapp.predict_api.cache import ArtifactCache
from loanapp.predict_api.client import ModelServerClient
from loanapp.predict_api.serving_model import load_serving_model
from loanapp.predict_api.slot import ModelSlot

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.25


class ModelWatcher:
    """One per worker process: a daemon thread that keeps the slot on the model server's version.

    A new version is downloaded, hash-verified, loaded and checked against its reference rows
    before one assignment makes it current. Any failure keeps the old model, is logged, shows in
    /readyz, and is retried with capped exponential backoff.
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
    ) -> None:
        self.name = name
        self.client = client
        self.slot = slot
        self.cache = cache
        self.wait_seconds = wait_seconds
        self.retry_max_seconds = retry_max_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)

    def start(self) -> None:
        """Serve the locally cached version at once if there is one, then follow the server."""
        cached = self.cache.load_last(self.name)
        if cached is not None:
            version, data = cached
            try:
                self._install(version, data, source="local cache")
            except LoanappError as exc:
                logger.warning("cached version %s not usable: %s", version, exc.message)
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
            try:
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
            self.slot.record_failure(message)
            delay = min(self.retry_max_seconds, FIRST_RETRY_SECONDS * 2 ** (failures - 1))
            logger.warning(
                "model update failed (retry in %.1fs): %s", delay, message, exc_info=unexpected
            )
            self._stopping.wait(delay * random.uniform(0.8, 1.2))

    def _follow_once(self) -> None:
        current = self.slot.current
        known = current.version if current else None
        asked_at = time.monotonic()
        version = self.client.current_version(
            self.name, known=known, wait=self.wait_seconds if known else 0.0
        )
        if self._stopping.is_set():
            return  # stopping: the answer of a long-poll that outlived the stop is not acted on
        if version is None or version == known:
            # The model server names what this worker serves: whatever failed before (a version
            # refused, then rolled back; the server unreachable for a while) is over.
            self.slot.clear_failure()
            # A busy model server answers "no change" at once instead of holding the request;
            # pause before asking again rather than spin.
            if known and time.monotonic() - asked_at < self.wait_seconds / 2:
                self._stopping.wait(min(1.0, self.wait_seconds / 2))
            return
        data = self.client.fetch_artifact(self.name, version)
        self._install(version, data, source="model server")
        self.cache.save(self.name, version, data)

    def _install(self, version: str, data: bytes, source: str) -> None:
        model = load_serving_model(data, version, source)  # hash, versions, reference rows
        previous = self.slot.swap(model)
        logger.info(
            "serving %s version %s (from %s; was %s)",
            self.name,
            version,
            source,
            previous.version if previous else "none",
        )
