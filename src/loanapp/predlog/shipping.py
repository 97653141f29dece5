"""Shipping finished prediction-log files to an object store, and waiting through its outages.

Files are written in a local spool folder as usual; a thread uploads every finished file it finds
there to the same key under the store's prefix (`model=.../date=.../<name>.jsonl.gz`) and deletes
it only once the upload succeeded. A failed upload is tried again with exponential backoff, the
files waiting in the spool meanwhile, so an outage delays the log and loses nothing. Each worker
scans the whole spool, so files left by a worker that is gone are shipped by the next one; two
workers uploading one file write the same bytes to the same key.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol

from loanapp.errors import LoanappError
from loanapp.metrics.predictions import PREDICTION_LOG_SHIPPED
from loanapp.predlog.files import FINISHED_SUFFIX

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
LAST_RETRY_SECONDS = 60.0
SCAN_SECONDS = 5.0
"""How often the spool is looked at without a file finished here (a dead worker's files)."""


class Uploads(Protocol):
    """Where files go: the object store's unconditional write (loanapp.store's backends)."""

    def put(self, key: str, data: bytes) -> str:
        """Write `data` at `key`; StoreUnavailableError (a LoanappError) when it cannot."""
        ...


class Shipper:
    """Uploads the spool's finished files to `store` on a thread of its own, retrying."""

    def __init__(
        self,
        spool: Path,
        store: Uploads,
        *,
        first_retry: float = FIRST_RETRY_SECONDS,
        last_retry: float = LAST_RETRY_SECONDS,
    ) -> None:
        self.spool = spool
        self.store = store
        self.first_retry = first_retry
        self.last_retry = last_retry
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0

    def file_finished(self, _path: Path) -> None:
        """Called by the writer: ship now rather than at the next scan."""
        self._wake.set()

    def start(self) -> None:
        """Start the shipping thread (in the worker)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="loanapp-prediction-log-shipping", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """One last pass over the spool (bounded), then end; what is left waits for a next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def ship_once(self) -> bool:
        """Upload every finished file in the spool, oldest first; False at the first failure."""
        for path in sorted(self.spool.glob(f"model=*/date=*/*{FINISHED_SUFFIX}")):
            key = path.relative_to(self.spool).as_posix()
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # another worker shipped it meanwhile
                continue
            try:
                self.store.put(key, data)
            except LoanappError as exc:
                PREDICTION_LOG_SHIPPED.labels("failure").inc()
                if self._failures == 0:
                    logger.warning("prediction log: upload of %s failed: %s", key, exc.message)
                self._failures += 1
                return False
            path.unlink(missing_ok=True)
            PREDICTION_LOG_SHIPPED.labels("success").inc()
            if self._failures:
                logger.info("prediction log: uploading again after %d failures", self._failures)
            self._failures = 0
        return True

    def _run(self) -> None:
        delay = self.first_retry
        while True:
            self._wake.clear()
            shipped = self.ship_once()
            if self._stopping.is_set():
                return
            if shipped:
                delay = self.first_retry
                self._wake.wait(SCAN_SECONDS)
            else:  # a file finished meanwhile does not cut the backoff short; a stop does
                self._stopping.wait(delay)
                delay = min(delay * 2, self.last_retry)
