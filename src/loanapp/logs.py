"""Log set-up of the services: one line per event on stderr (granian writes its own to stdout).

Two formats, chosen by LOANAPP_LOG_FORMAT: `text` for a terminal, `json` (one object per line)
for a log collector. Every line carries the service and the request id of the request (or the
background task) it belongs to; the per-request line adds route, status, duration and version.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
import traceback
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Literal, TextIO

import orjson

if TYPE_CHECKING:
    from loanapp.request_records import FinishedRequest

LogFormat = Literal["text", "json"]

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"

REQUEST_LOGGER: Final = logging.getLogger("loanapp.requests")
"""The logger whose level says whether request lines are written (INFO: one per request)."""

request_id_var: ContextVar[str | None] = ContextVar("loanapp_request_id", default=None)
"""The id of the request (or background task) this thread is working for, for every log line."""
model_version_var: ContextVar[str | None] = ContextVar("loanapp_model_version", default=None)
"""The model version that answers the request this thread is working for, for its request line."""


def new_request_id() -> str:
    """A fresh request id: for a request without a usable one, or a background task's round.

    128 random bits from the process's generator, not uuid4's os.urandom: an id needs to be
    unique, not secret, and a system call on every request lets the other threads take the GIL.
    """
    return f"{random.getrandbits(128):032x}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, request id, extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (a traceback, if any, inside it)."""
        line = _json_fields(
            record.created,
            record.levelname,
            self.service,
            record.name,
            record.process,
            request_id_var.get(),
            record.getMessage(),
        )
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        # default=str: a message argument orjson cannot encode never loses the line.
        return orjson.dumps(line, default=str).decode()


def _json_fields(
    created: float,
    level: str,
    service: str,
    logger: str | None,
    pid: int | None,
    request_id: str | None,
    message: str,
) -> dict[str, object]:
    return {
        "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "service": service,
        "logger": logger,
        "pid": pid,
        "request_id": request_id,
        "message": message,
    }


class RequestLines:
    """The request lines of a drain (see `loanapp.request_records`), written to the log stream
    with one call, in the format and with the fields a record of REQUEST_LOGGER would have.

    Written here rather than through `logging`: building, formatting and emitting a record per
    request cost about as much as scoring a row, on the request's own worker.
    """

    def __init__(self, service: str, log_format: LogFormat, stream: TextIO | None = None) -> None:
        self.service = service
        self.log_format = log_format
        self.stream = stream
        self.pid = os.getpid()

    def write(self, requests: Sequence[FinishedRequest]) -> None:
        """One line per request, in order."""
        self.pid = os.getpid()  # a worker forked after set-up writes its own
        render = self._json_line if self.log_format == "json" else self._text_line
        stream = self.stream or sys.stderr  # where a StreamHandler made now would write
        stream.write("".join(map(render, requests)))
        stream.flush()

    def _json_line(self, request: FinishedRequest) -> str:
        line = _json_fields(
            request.finished_at,
            "INFO",
            self.service,
            REQUEST_LOGGER.name,
            self.pid,
            request.request_id,
            _request_message(request),
        )
        line["route"] = request.route
        line["method"] = request.method
        line["status"] = request.status
        line["duration_seconds"] = round(request.seconds, 6)
        if request.model_version is not None:
            line["model_version"] = request.model_version
        return orjson.dumps(line).decode() + "\n"

    def _text_line(self, request: FinishedRequest) -> str:
        seconds = int(request.finished_at)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
        milliseconds = int((request.finished_at - seconds) * 1000)
        fields = {
            "asctime": f"{when},{milliseconds:03d}",  # as logging.Formatter writes it
            "levelname": "INFO",
            "process": self.pid,
            "name": REQUEST_LOGGER.name,
            "message": _request_message(request),
        }
        return TEXT_FORMAT % fields + "\n"


def _request_message(request: FinishedRequest) -> str:
    # The route, never the path or the body: no applicant value reaches the log at INFO.
    version = f" version {request.model_version}" if request.model_version else ""
    return (
        f"{request.method} {request.route} {request.status} {request.seconds * 1000:.1f} ms"
        f"{version}"
    )


_request_lines = RequestLines("loanapp", "text")


def request_lines() -> RequestLines:
    """Where this process writes its request lines (as `configure_logging` set it up)."""
    return _request_lines


def configure_logging(
    level: str,
    log_format: LogFormat = "text",
    service: str = "loanapp",
    stream: TextIO | None = None,
) -> None:
    """Configure the root logger and the request lines once per process, in the chosen format.

    Both write to `stream`, by default the standard error stream.
    """
    global _request_lines
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    _request_lines = RequestLines(service, log_format, stream)


def granian_logging_config(service: str) -> dict[str, object]:
    """granian's logging configuration (its `--log-config`) for JSON lines like the services'.

    granian's own lines (start, workers, its access log when enabled) go to stdout as before.
    """
    formatter = {"()": f"{__name__}.JsonFormatter", "service": service}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter},
        "handlers": {
            "console": {
                "formatter": "json",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
