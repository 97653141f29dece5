"""Services as local child processes: start, wait until ready, stop by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import urllib3

from loanapp.errors import UpstreamUnavailableError


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, sorted (a server's workers); [] if it is gone."""
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


def wait_until(
    check: Callable[[], bool],
    *,
    url: str,
    timeout: float,
    waiting_for: str,
    interval: float = 0.1,
) -> float:
    """Seconds until `check()` is true, asking every `interval`; an HTTP error counts as not yet.

    UpstreamUnavailableError(url, "not <waiting_for> after <timeout>s") when time runs out.
    """
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except (urllib3.exceptions.HTTPError, ValueError):  # no answer yet, or not JSON yet
            pass
        time.sleep(interval)
    raise UpstreamUnavailableError(url, f"not {waiting_for} after {timeout:.0f}s")


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
        pool = urllib3.PoolManager(retries=False)

        def ready() -> bool:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise UpstreamUnavailableError(self.url, f"process exited with code {code}")
            return pool.request("GET", self.url + path, timeout=2.0).status == 200

        wait_until(ready, url=self.url, timeout=timeout, waiting_for="ready")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (the server's graceful stop), then SIGKILL if it has not exited in `timeout`."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL the whole process group at once: the main process and its workers."""
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
