"""Log set-up of the services: one line per event on stderr (granian writes its own to stdout).

Two formats, chosen by LOANAPP_LOG_FORMAT: `text` for a terminal, `json` (one object per line)
for a log collector. Every line carries the service and the request id of the request (or the
background task) it belongs to; the per-request line adds route, status, duration and version.
"""

from __future__ import annotations

import logging
import random
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final, Literal

import orjson

LogFormat = Literal["text", "json"]

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"

# Fields a record may carry in `extra=` that the JSON line repeats as they are.
REQUEST_FIELDS: Final = ("route", "method", "status", "duration_seconds", "model_version")

request_id_var: ContextVar[str | None] = ContextVar("loanapp_request_id", default=None)
"""The id of the request (or background task) this thread is working for, for every log line."""


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
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "pid": record.process,
            "request_id": request_id_var.get(),
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            if (value := record.__dict__.get(name)) is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        # default=str: a message argument orjson cannot encode never loses the line.
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str, log_format: LogFormat = "text", service: str = "loanapp") -> None:
    """Configure the root logger once per process, in the chosen format."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


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
