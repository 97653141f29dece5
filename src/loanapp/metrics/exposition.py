"""The /metrics answer: every worker's metrics merged (multiprocess mode), else this process's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from loanapp.metrics.directory import MULTIPROCESS_VARIABLE, forget_dead_workers

# The classic text format, which every Prometheus reads (2.x included); our names need no escaping.
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4

# Read where prometheus_client reads it, when it is first imported: `loanapp serve` sets it for the
# workers. Without it (one process: tests, a debugger) each process reports its own metrics.
MULTIPROCESS_DIRECTORY: Final = os.environ.get(MULTIPROCESS_VARIABLE) or None


def render_metrics() -> bytes:
    """The Prometheus text exposition of this service (all its workers)."""
    if MULTIPROCESS_DIRECTORY is None:
        return generate_latest(REGISTRY)
    forget_dead_workers(Path(MULTIPROCESS_DIRECTORY))
    # A registry per scrape, as prometheus_client advises: the collector reads the files anew.
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=MULTIPROCESS_DIRECTORY)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def forget_dead_workers_at_start() -> None:
    """A worker that starts drops the live gauges of the worker it may replace."""
    if MULTIPROCESS_DIRECTORY is not None:
        forget_dead_workers(Path(MULTIPROCESS_DIRECTORY))
