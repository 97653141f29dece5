"""Request metrics of both services: count and duration by route (the URL rule, never the path)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from prometheus_client import Counter, Histogram

from loanapp.metrics.histograms import observe_many

OTHER_METHOD: Final = "other"
KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# From a fast prediction (well under a millisecond) to a held long-poll (up to 30 s).
DURATION_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

REQUESTS: Final = Counter(
    "loanapp_http_requests",
    "HTTP requests answered, by route (URL rule), method and status.",
    ["service", "route", "method", "status"],
)
REQUEST_DURATION: Final = Histogram(
    "loanapp_http_request_duration_seconds",
    "Time from the request reaching the application to its response, by route.",
    ["service", "route"],
    buckets=DURATION_BUCKETS,
)


def method_label(method: str) -> str:
    """The method, or OTHER_METHOD for one outside the usual few (any token is a valid method)."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def count_requests(service: str, route: str, method: str, status: int, count: int) -> None:
    """Count answered requests (`method` already a `method_label`)."""
    REQUESTS.labels(service, route, method, str(status)).inc(count)


def observe_durations(service: str, route: str, seconds: Sequence[float]) -> None:
    """Observe the durations of requests to one route."""
    observe_many(REQUEST_DURATION.labels(service, route), seconds)
