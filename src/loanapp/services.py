"""The two services: their WSGI apps, default ports and sizing, and the command that runs each."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceSpec:
    """A service's WSGI app and its default gunicorn sizing."""

    app: str
    port: int
    workers: int
    threads: int
    connections_per_thread: int | None = None
    """Cap on a worker's open connections, per thread; None keeps gunicorn's 1,000 per worker."""


SERVICES: dict[str, ServiceSpec] = {
    # Threads, not processes, hold long-polls: many can wait cheaply, and the server caps how many
    # wait at once (LOANAPP_MAX_LONG_POLLS) below the thread count, so downloads always get one.
    "model-server": ServiceSpec("loanapp.model_server.wsgi:app", port=8001, workers=2, threads=32),
    # A gthread worker accepts connections while it has room, so a few long-lived (keep-alive)
    # connections can all land on one worker and leave the other cores idle. Capping each worker at
    # two connections per thread makes the others take the rest; more would only queue inside it.
    "predict-api": ServiceSpec(
        "loanapp.predict_api.wsgi:app", port=8000, workers=2, threads=4, connections_per_thread=2
    ),
}


def gunicorn_command(
    service: str, *, host: str, port: int, workers: int, threads: int
) -> list[str]:
    """The gunicorn command line that runs a service (extra options: GUNICORN_CMD_ARGS)."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--graceful-timeout",
        "10",
        "--keep-alive",
        "5",
        # One control socket path per user would be shared by every service on the host, and a
        # management interface is attack surface the services do not need.
        "--no-control-socket",
    ]
    spec = SERVICES[service]
    if spec.connections_per_thread is not None:
        command += ["--worker-connections", str(spec.connections_per_thread * threads)]
    if Path("/dev/shm").is_dir():  # heartbeat files off the (possibly read-only) image layer
        command += ["--worker-tmp-dir", "/dev/shm"]
    return [*command, spec.app]
