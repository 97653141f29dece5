"""The fleet: the predict-API workers this model-server worker has heard from, kept in memory.

Each worker names itself on its long-polls (`worker_identity`); this keeps the last report of each,
with when it was last seen. The map is bounded twice: workers not seen for `forget_after_seconds`
are dropped, and past `max_workers` the one seen longest ago makes room. A model-server worker
sees only the predict-API workers whose questions reached it, so with several workers or replicas
its view is partial, and says which worker it is.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loanapp.store.registry import AliasRecord
from loanapp.worker_identity import WorkerReport

DEFAULT_MAX_WORKERS = 256
DEFAULT_FORGET_AFTER_SECONDS = 120.0


@dataclass(frozen=True)
class FleetEntry:
    """A worker's last report, which model it follows, and when it was last heard from."""

    model: str
    report: WorkerReport
    last_seen: datetime


class Fleet:
    """The bounded, thread-safe map of worker name -> its last report."""

    def __init__(
        self,
        max_workers: int = DEFAULT_MAX_WORKERS,
        forget_after_seconds: float = DEFAULT_FORGET_AFTER_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.max_workers = max_workers
        self.forget_after_seconds = forget_after_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # Least recently seen first: eviction and forgetting both start at the front.
        self._entries: OrderedDict[str, FleetEntry] = OrderedDict()

    def observe(self, model: str, report: WorkerReport) -> None:
        """Remember `report` as what its worker says now."""
        entry = FleetEntry(model, report, self._clock())
        with self._lock:
            self._entries.pop(report.worker, None)
            self._entries[report.worker] = entry
            while len(self._entries) > self.max_workers:
                self._entries.popitem(last=False)

    def entries(self) -> list[FleetEntry]:
        """Workers seen recently enough, by name; older ones are forgotten now."""
        now = self._clock()
        with self._lock:
            while self._entries:
                oldest = next(iter(self._entries.values()))
                if (now - oldest.last_seen).total_seconds() <= self.forget_after_seconds:
                    break
                self._entries.popitem(last=False)
            kept = list(self._entries.values())
        return sorted(kept, key=lambda entry: entry.report.worker)


def this_worker() -> str:
    """`host/pid` of this model-server worker: which partial view an answer is."""
    return f"{socket.gethostname()}/{os.getpid()}"


def describe_fleet(
    entries: Iterable[FleetEntry], aliases: dict[str, AliasRecord], now: datetime
) -> list[dict[str, Any]]:
    """Each worker as GET /v1/fleet shows it, against the alias each model follows.

    `status` says in words whether the worker serves the alias's version; `took_seconds` is how
    long after the alias moved to that version the worker started serving it.
    """
    return [_describe(entry, aliases.get(entry.model), now) for entry in entries]


def _describe(entry: FleetEntry, alias: AliasRecord | None, now: datetime) -> dict[str, Any]:
    report = entry.report
    target = alias.version if alias is not None else None
    return {
        "worker": report.worker,
        "host": report.host,
        "pid": report.pid,
        "model": entry.model,
        "version": report.version,
        "serving_since": _iso(report.since),
        "predictor": report.predictor,
        "last_error": report.last_error,
        "last_seen": _iso(entry.last_seen),
        "seconds_since_seen": round((now - entry.last_seen).total_seconds(), 3),
        "status": _status(report, target),
        "took_seconds": _took_seconds(report, alias),
    }


def _status(report: WorkerReport, target: str | None) -> str:
    if report.version is None:
        return "no model"
    if report.last_error is not None:
        return "update failing"
    if target is None:
        return "serving"
    return "current" if report.version == target else "behind"


def _took_seconds(report: WorkerReport, alias: AliasRecord | None) -> float | None:
    """Seconds from the alias's last move to the worker's version until the worker served it."""
    if alias is None or report.since is None or report.version != alias.version:
        return None
    moved_at = next(
        (change.at for change in reversed(alias.history) if change.version == report.version),
        None,
    )
    if moved_at is None or report.since < moved_at:
        return None  # loaded before this move (the version came back to a worker that had it)
    return round((report.since - moved_at).total_seconds(), 3)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
