"""A worker's prediction log: a bounded queue filled by requests, drained by one thread.

A request's cost is one append of a tuple of references to a deque (and a random draw when
sampling); the lines, gzip and the files are the writer thread's work, which takes what the queue
holds every TICK_SECONDS. (Not a `queue.Queue`: a thread waiting on one is woken by every put,
and switching to it and back for each request cost more than the request's own work.) When the
queue is full the request's rows are dropped and counted (`loanapp_prediction_log_dropped_total`):
logging never slows or fails a request. The thread is not a daemon, and stops by itself once the
main thread has ended, after writing what the queue holds: a worker that exits (granian's
workers do not run `atexit`, but do wait for such threads) finishes its last file.
"""

from __future__ import annotations

import functools
import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loanapp.logs import request_id_var
from loanapp.metrics.predictions import PREDICTION_LOG_DROPPED, PREDICTION_LOG_WRITTEN
from loanapp.predlog.files import RotatingFiles
from loanapp.predlog.records import Decisions, day_of, to_lines
from loanapp.predlog.shipping import Shipper
from loanapp.schema import FeatureValue

logger = logging.getLogger(__name__)

# How often the thread takes what the queue holds, finishes an old part, and looks for the main
# thread's end.
TICK_SECONDS = 0.25
# Requests written per write: their lines joined.
BATCH_REQUESTS = 256


class PredictionLog:
    """Records decisions of this worker into rotating files under `root` (started per worker)."""

    def __init__(
        self,
        root: Path,
        model: str,
        *,
        sample: float = 1.0,
        queue_size: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        max_seconds: float = 300.0,
        shipper: Shipper | None = None,
    ) -> None:
        self.root = root
        self.model = model
        self.sample = sample
        self.queue_size = queue_size
        """Rows waiting to be written past which requests are dropped (and counted)."""
        self._queue: deque[Decisions] = deque()
        self._queued_rows = 0
        self._queued_lock = threading.Lock()
        self.shipper = shipper
        self._files = RotatingFiles(
            root,
            max_bytes=max_bytes,
            max_seconds=max_seconds,
            on_finished=shipper.file_finished if shipper else lambda _path: None,
        )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def submit(
        self,
        version: str,
        positive_index: int,
        columns: dict[str, list[FeatureValue]],
        row_count: int,
        probabilities: Any,
        labels: Any,
        reasons: Any = None,
    ) -> None:
        """Queue one request's decisions (on the request's thread: references only, never waits)."""
        if self.sample < 1.0 and random.random() >= self.sample:
            return
        decisions = Decisions(
            time.time(),
            request_id_var.get(),
            self.model,
            version,
            positive_index,
            columns,
            row_count,
            probabilities,
            labels,
            reasons,
        )
        # Bounded by rows, not requests: a worker answering batches faster than its thread can
        # write them would otherwise hold millions of rows. A request is queued whole while the
        # rows waiting are below the bound.
        with self._queued_lock:
            queued = self._queued_rows < self.queue_size
            if queued:
                self._queue.append(decisions)
                self._queued_rows += row_count
        if not queued:
            PREDICTION_LOG_DROPPED.inc(row_count)

    def start(self) -> None:
        """Start the writer thread, and the shipper's (in the worker, after the fork)."""
        if self.shipper is not None:
            self.shipper.start()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="loanapp-prediction-log", daemon=False
            )
            self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Write what is queued, finish the open file, ship what is left, end the threads.

        A served worker needs no call: the thread does the same once the main thread has ended,
        that is after the server has finished the requests in flight, whose rows are queued by
        then. Stopping earlier, on SIGTERM, would lose them.
        """
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        elif self.shipper is not None:
            self.shipper.stop()

    def _run(self) -> None:
        main = threading.main_thread()
        while True:
            # Looked at before taking the queue: what was queued before the end is written.
            ending = self._stopping.is_set() or not main.is_alive()
            pending = [self._queue.popleft() for _ in range(len(self._queue))]
            with self._queued_lock:
                self._queued_rows -= sum(decisions.row_count for decisions in pending)
            for first in range(0, len(pending), BATCH_REQUESTS):
                self._write(pending[first : first + BATCH_REQUESTS])
            if ending:
                self._guarded(self._files.finish)
                if self.shipper is not None:
                    self.shipper.stop()  # one last bounded pass: the worker waits for it
                return
            self._guarded(self._files.finish_if_old)
            self._stopping.wait(TICK_SECONDS)

    def _write(self, batch: list[Decisions]) -> None:
        """Write one batch, a partition at a time; rows that cannot be written are counted."""
        for day, group in itertools.groupby(batch, key=day_of):
            requests = list(group)
            rows = sum(decisions.row_count for decisions in requests)
            if self._guarded(functools.partial(self._write_day, day, requests)):
                PREDICTION_LOG_WRITTEN.inc(rows)
            else:
                PREDICTION_LOG_DROPPED.inc(rows)
        self._guarded(self._files.finish_if_old)

    def _write_day(self, day: str, requests: list[Decisions]) -> None:
        lines = b"".join(to_lines(decisions) for decisions in requests)
        self._files.write(self.model, day, lines)

    def _guarded(self, action: Callable[[], None]) -> bool:
        """Run a file action; a failure (disk full, read-only) is logged once until one succeeds."""
        try:
            action()
        except (OSError, ValueError) as exc:  # ValueError: a gzip stream closed by a failure
            self._files.abandon()
            if not self._failing:
                logger.error("prediction log: cannot write under %s: %s", self.root, exc)
            self._failing = True
            return False
        if self._failing:
            logger.info("prediction log: writing under %s again", self.root)
        self._failing = False
        return True
