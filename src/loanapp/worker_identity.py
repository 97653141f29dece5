"""How a predict-API worker names itself, and what it serves, on its questions to the model server.

Each worker sends these headers with the long-poll it makes anyway, so the model server can show
the fleet without a registration protocol. The model server parses them as untrusted input: every
field has a length bound and a pattern, and a worker name that fails them is no report at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from loanapp.errors import clip

WORKER_HEADER: Final = "X-Loanapp-Worker"
VERSION_HEADER: Final = "X-Loanapp-Worker-Version"
SINCE_HEADER: Final = "X-Loanapp-Worker-Since"
PREDICTOR_HEADER: Final = "X-Loanapp-Worker-Predictor"
ERROR_HEADER: Final = "X-Loanapp-Worker-Error"

MAX_ERROR_CHARS: Final = 300
"""Most characters of a worker's last update error kept (it is repeated on a page)."""

REPORT_HEADERS: Final = (
    WORKER_HEADER,
    VERSION_HEADER,
    SINCE_HEADER,
    PREDICTOR_HEADER,
    ERROR_HEADER,
)

_WORKER = re.compile(r"(?P<host>[A-Za-z0-9][A-Za-z0-9._-]{0,99})/(?P<pid>[0-9]{1,10})")
_VERSION = re.compile(r"[0-9a-f]{64}")
_PREDICTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}")
_MAX_SINCE_CHARS = 40


@dataclass(frozen=True)
class WorkerReport:
    """One predict-API worker as it describes itself."""

    host: str
    pid: int
    version: str | None = None
    since: datetime | None = None
    """When the version it serves was loaded (the worker's clock, with its time zone)."""
    predictor: str | None = None
    last_error: str | None = None

    @property
    def worker(self) -> str:
        """`host/pid`: unique across replicas (a pod's host name is its own)."""
        return f"{self.host}/{self.pid}"

    def to_headers(self) -> dict[str, str]:
        """The headers that carry this report (header values stay printable ASCII)."""
        headers = {WORKER_HEADER: self.worker}
        if self.version is not None:
            headers[VERSION_HEADER] = self.version
        if self.since is not None:
            headers[SINCE_HEADER] = self.since.isoformat()
        if self.predictor is not None:
            headers[PREDICTOR_HEADER] = self.predictor
        if self.last_error is not None:
            text = clip(self.last_error, MAX_ERROR_CHARS)
            headers[ERROR_HEADER] = text.encode("ascii", "backslashreplace").decode("ascii")
        return headers


def parse_worker_headers(headers: dict[str, str]) -> WorkerReport | None:
    """The report in `headers` (REPORT_HEADERS' names), or None without a valid worker name.

    A field that is too long or malformed is dropped alone: a worker still shows, without it.
    """
    match = _WORKER.fullmatch(headers.get(WORKER_HEADER, ""))
    if match is None:
        return None
    version = headers.get(VERSION_HEADER)
    predictor = headers.get(PREDICTOR_HEADER)
    error = headers.get(ERROR_HEADER)
    return WorkerReport(
        host=match["host"],
        pid=int(match["pid"]),
        version=version if version and _VERSION.fullmatch(version) else None,
        since=_parse_since(headers.get(SINCE_HEADER)),
        predictor=predictor if predictor and _PREDICTOR.fullmatch(predictor) else None,
        last_error=clip(error, MAX_ERROR_CHARS) if error else None,
    )


def _parse_since(raw: str | None) -> datetime | None:
    if not raw or len(raw) > _MAX_SINCE_CHARS:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
