"""The two services: their WSGI apps, default ports and sizing, and the granian command of each."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# How long a stopping worker may take to finish its requests in flight before it is killed.
GRACEFUL_TIMEOUT_SECONDS: Final = 10
# Largest request head (request line and headers) a connection may buffer; granian's default,
# 408 KiB, would let the connections a worker holds keep 200 MiB of slow headers in memory.
REQUEST_HEAD_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class ServiceSpec:
    """A service's WSGI app and its default sizing under granian."""

    app: str
    port: int
    workers: int
    threads: int
    """Blocking threads per worker: how many requests run the Flask app at once."""
    connections: int
    """Open connections per worker (granian's backpressure). granian reads requests on its own
    event loop, so an idle or slow-header client holds one of these (about 8 KB) and no thread;
    past the cap a worker stops accepting until one closes. 512 keeps a worker below the common
    limit of 1,024 open files, and granian closes a connection idle for 30 s."""


SERVICES: dict[str, ServiceSpec] = {
    # Threads hold long-polls: many can wait cheaply, and the server caps how many wait at once
    # (LOANAPP_MAX_LONG_POLLS, 16) below the thread count, so downloads and probes always get one.
    "model-server": ServiceSpec(
        "loanapp.model_server.wsgi:app", port=8001, workers=2, threads=32, connections=512
    ),
    # The work holds the GIL, so 1 thread per worker measured fastest (p50 at 1 client 0.42 ms
    # against 0.50 ms with 4). But granian hands a request to a thread before its body is in,
    # and a client that sends its body slowly holds that thread: with 1, a single such client
    # stalled a worker; with 4, up to 3 per worker changed nothing, as under gunicorn before.
    "predict-api": ServiceSpec(
        "loanapp.predict_api.wsgi:app", port=8000, workers=2, threads=4, connections=512
    ),
}


def server_command(
    service: str,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    log_config: Path | None = None,
) -> list[str]:
    """The granian command line that runs a service (other options: GRANIAN_* variables);
    `log_config`: a logging configuration for granian's own lines (JSON logs)."""
    spec = SERVICES[service]
    logging_options = ["--log-config", str(log_config)] if log_config else []
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        # HTTP/1.1 only: an HTTP/2 connection multiplexes requests past the connection cap.
        "--http",
        "1",
        "--no-ws",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--backpressure",
        str(spec.connections),
        "--http1-buffer-size",
        str(REQUEST_HEAD_BYTES),
        "--workers-kill-timeout",
        str(GRACEFUL_TIMEOUT_SECONDS),
        # A worker that dies is replaced; by default granian would stop the whole service.
        "--respawn-failed-workers",
        *logging_options,
        spec.app,
    ]
