"""The HTTP servers a bench-only app runs under: granian as the services run it, and gunicorn as
the services ran before granian (the old floor the targets compare with)."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.wrkrun import BenchError
from loanapp.services import SERVICES, server_command

GRANIAN, GUNICORN = "granian", "gunicorn"

# The predict API's gunicorn sizing before granian: 2 workers of 4 threads, 8 connections each.
GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_CONNECTIONS = 2, 4, 8


def bench_app_command(server: str, app: str, host: str, port: int) -> list[str]:
    """`app` under `server`, sized and set as the predict API is (or was, for gunicorn)."""
    if server == GUNICORN:
        return gunicorn_command(app, host, port)
    spec = SERVICES["predict-api"]
    command = server_command(
        "predict-api", host=host, port=port, workers=spec.workers, threads=spec.threads
    )
    if command[-1] != spec.app:
        raise BenchError(f"server_command no longer ends with the app path: {command}")
    return [*command[:-1], app]


def gunicorn_command(app: str, host: str, port: int) -> list[str]:
    """The predict API's gunicorn command line before granian, serving `app`."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-class",
        "gthread",
        "--threads",
        str(GUNICORN_THREADS),
        "--worker-connections",
        str(GUNICORN_CONNECTIONS),
        "--graceful-timeout",
        "10",
        "--keep-alive",
        "5",
        "--no-control-socket",
    ]
    if Path("/dev/shm").is_dir():  # heartbeat files in memory, as the services had them
        command += ["--worker-tmp-dir", "/dev/shm"]
    return [*command, app]
