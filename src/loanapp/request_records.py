"""Finished requests and scored rows, recorded off the request path.

For every request the services count it, time it and write one log line about it, and the
predict API counts the rows it scored. Done on the request's thread, that cost more than
validating and scoring a row: prometheus-client's multiprocess values take a lock and write a
memory-mapped file for each value (several per request), and a log record is built, formatted
and written for each line. Here the request's thread appends one tuple to a deque (no lock), and
a thread of the worker drains it every DRAIN_SECONDS: counts summed per label set (one write each
per drain), durations and p(bad) filed per bucket at once, and the drain's log lines written
with one call.

The price: metrics and request lines appear up to DRAIN_SECONDS late (a /metrics answer drains
its own worker first), and a worker killed without a graceful stop loses that much of both. A
worker that stops gracefully records everything: the thread drains once more when the worker's
main thread has ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from typing import Final, NamedTuple, TypeVar

from loanapp.logs import REQUEST_LOGGER, request_id_var, request_lines
from loanapp.metrics.http import count_requests, observe_durations
from loanapp.metrics.predictions import count_predictions, observe_probabilities

DRAIN_SECONDS: Final = 0.25
_T = TypeVar("_T")


class FinishedRequest(NamedTuple):
    """What is recorded of one answered request: never a path, a header value or the body."""

    finished_at: float  # time.time()
    service: str
    request_id: str | None
    route: str  # the URL rule
    method: str
    status: int
    seconds: float
    model_version: str | None


class ScoredRows(NamedTuple):
    """The rows one request scored: how many declined and approved, and each row's p(bad)."""

    version: str
    declined: int
    approved: int
    probabilities: Sequence[float]


class RequestRecorder:
    """One per process (RECORDER): the deques requests append to and the thread that drains them."""

    def __init__(self) -> None:
        self._requests: deque[FinishedRequest] = deque()
        self._scored: deque[ScoredRows] = deque()
        self._drain_lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def request_done(
        self,
        service: str,
        route: str,
        method: str,
        status: int,
        seconds: float,
        version: str | None,
    ) -> None:
        """Record an answered request (on the request's thread: one append)."""
        self._requests.append(
            FinishedRequest(
                time.time(), service, request_id_var.get(), route, method, status, seconds, version
            )
        )
        if self._thread is None:
            self._start()

    def rows_scored(
        self, version: str, declined: int, approved: int, probabilities: Sequence[float]
    ) -> None:
        """Record the rows a request scored (on the request's thread: one append)."""
        self._scored.append(ScoredRows(version, declined, approved, probabilities))

    def drain(self) -> None:
        """Record everything pending now: metrics first, then the log lines."""
        with self._drain_lock:
            requests = _take_all(self._requests)
            scored = _take_all(self._scored)
            if requests:
                _count_requests(requests)
            if scored:
                _count_scored(scored)
            if requests and REQUEST_LOGGER.isEnabledFor(logging.INFO):
                request_lines().write(requests)

    def stop(self) -> None:
        """Stop the draining thread (it drains what is left)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def _start(self) -> None:
        with self._drain_lock:
            if self._thread is not None:
                return
            # Not a daemon: a served worker's main thread ends after the requests in flight
            # have been answered, and this thread then records them before the process exits
            # (granian's workers run no `atexit` handlers).
            self._thread = threading.Thread(
                target=self._drain_until_stopped, name="request-records"
            )
            self._thread.start()

    def _drain_until_stopped(self) -> None:
        main = threading.main_thread()
        while not self._stopped.wait(DRAIN_SECONDS) and main.is_alive():
            self.drain()
        self.drain()


RECORDER: Final = RequestRecorder()


def _count_requests(requests: list[FinishedRequest]) -> None:
    counts = Counter(
        (request.service, request.route, request.method, request.status) for request in requests
    )
    for (service, route, method, status), count in counts.items():
        count_requests(service, route, method, status, count)
    durations: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
    for request in requests:
        durations[request.service, request.route].append(request.seconds)
    for (service, route), seconds in durations.items():
        observe_durations(service, route, seconds)


def _count_scored(scored: list[ScoredRows]) -> None:
    declined: Counter[str] = Counter()
    approved: Counter[str] = Counter()
    probabilities: list[float] = []
    for rows in scored:
        declined[rows.version] += rows.declined
        approved[rows.version] += rows.approved
        probabilities.extend(rows.probabilities)
    for version in declined.keys() | approved.keys():
        count_predictions(version, declined[version], approved[version])
    observe_probabilities(probabilities)


def _take_all(pending: deque[_T]) -> list[_T]:
    """What the deque holds now; appends made meanwhile stay for the next drain."""
    return [pending.popleft() for _ in range(len(pending))]
