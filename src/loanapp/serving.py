"""How the services run: the gunicorn command line of each, and local process management."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import urllib3

from loanapp.errors import UpstreamUnavailableError


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


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, sorted (the workers of a gunicorn master); [] if it is gone."""
    try:
        return sorted(
            int(part) for part in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        )
    except OSError:
        return []


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class ServiceProcess:
    """A service started as a child process (its own process group), stopped by its PID."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        url: str,
        env: Mapping[str, str] | None = None,
        log: IO[bytes] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.url = url
        self.env = dict(env or os.environ)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """PID of the running service, or None."""
        return self.process.pid if self.process else None

    def start(self) -> ServiceProcess:
        """Start the service; returns at once (see `wait_ready`)."""
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=self.log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self.log else None,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 60.0, path: str = "/readyz") -> None:
        """Block until GET `path` answers 200; UpstreamUnavailableError on exit or timeout."""
        deadline = time.monotonic() + timeout
        pool = urllib3.PoolManager(retries=False)
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise UpstreamUnavailableError(self.url, f"process exited with code {code}")
            try:
                if pool.request("GET", self.url + path, timeout=2.0).status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.1)
        raise UpstreamUnavailableError(self.url, f"not ready after {timeout:.0f}s")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL if it has not exited in `timeout`."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL the whole process group at once: the master and its workers."""
        return self._signal(signal.SIGKILL, 10.0)

    def _signal(self, signum: signal.Signals, timeout: float) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        try:
            os.killpg(self.process.pid, signum)  # the group id is the child's PID
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout)
        except ProcessLookupError:
            return self.process.wait(timeout)
