"""Request metrics of both services: count and duration by route (the URL rule, never the path)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

UNMATCHED_ROUTE: Final = "unmatched"
"""The route label of a request no URL rule matched: a scan of random paths adds no series."""
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

# The labelled children, looked up once per label set: a dict lookup is cheaper than `labels()`,
# and the sets are bounded (routes x methods x statuses).
_counts: dict[tuple[str, str, str, int], Counter] = {}
_durations: dict[tuple[str, str], Histogram] = {}


def method_label(method: str) -> str:
    """The method, or OTHER_METHOD for one outside the usual few (any token is a valid method)."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def record_request(service: str, route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request (`method` already a `method_label`) and observe its duration."""
    key = (service, route, method, status)
    counter = _counts.get(key)
    if counter is None:
        counter = _counts.setdefault(key, REQUESTS.labels(service, route, method, str(status)))
    counter.inc()
    duration = _durations.get((service, route))
    if duration is None:
        duration = _durations.setdefault((service, route), REQUEST_DURATION.labels(service, route))
    duration.observe(seconds)
