"""wrk: installed when missing, run with `post.lua`, its JSON summary parsed into a `WrkResult`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LUA_SCRIPT = Path(__file__).resolve().with_name("post.lua")
MARKER = "BENCH_JSON "
# A request slower than this counts as a timeout error (wrk's own default is 2 s, too short to
# see how slow a collapsed service answers).
TIMEOUT_SECONDS = 10
# Beyond the run's duration: start-up, the last requests in flight, and the summary.
GRACE_SECONDS = 30


class BenchError(RuntimeError):
    """Something the benchmark needs is missing or misbehaved; the message says what."""


@dataclass(frozen=True)
class Load:
    """How hard wrk drives a target: threads, connections, seconds."""

    threads: int
    connections: int
    seconds: int

    @property
    def label(self) -> str:
        """`c1`, `c16`: the concurrency, as the tables name it."""
        return f"c{self.connections}"


@dataclass(frozen=True)
class WrkResult:
    """One wrk run as its `done()` function reported it."""

    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_us: dict[str, float]
    command: list[str]

    @property
    def requests_per_second(self) -> float:
        """Completed requests per second of the run."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def socket_errors(self) -> int:
        """Connect, read, write errors and timeouts."""
        return sum(v for k, v in self.errors.items() if k != "status")

    @property
    def status_errors(self) -> int:
        """Answers with a status of 400 or more (wrk's own count)."""
        return self.errors.get("status", 0)

    def as_dict(self) -> dict[str, Any]:
        """Everything, plus the derived numbers, JSON-ready."""
        return asdict(self) | {
            "requests_per_second": self.requests_per_second,
            "socket_errors": self.socket_errors,
            "status_errors": self.status_errors,
        }


def ensure_wrk() -> str:
    """The path of wrk; installs the Debian package `wrk` when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing the Debian package wrk", flush=True)
    if _apt_install() != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        if _apt_install() != 0:
            raise BenchError("could not install wrk: run `apt-get install -y wrk` as root")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed wrk, but it is not on PATH")
    return found


def _apt_install() -> int:
    try:
        completed = subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    except FileNotFoundError:
        raise BenchError("wrk is missing and apt-get is not available: install wrk") from None
    return completed.returncode


def wrk_version(wrk: str) -> str:
    """The first line wrk prints about itself."""
    completed = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    lines = (completed.stdout + completed.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def run_wrk(wrk: str, url: str, body_file: Path, load: Load) -> WrkResult:
    """Drive `url` with POSTs of `body_file` for `load.seconds`; the parsed summary."""
    command = [
        wrk,
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{load.seconds}s",
        f"--timeout={TIMEOUT_SECONDS}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    completed = subprocess.run(
        command,
        env=os.environ | {"BENCH_BODY_FILE": str(body_file)},
        capture_output=True,
        text=True,
        timeout=load.seconds + TIMEOUT_SECONDS + GRACE_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk_output(completed.stdout, command)


def parse_wrk_output(output: str, command: list[str]) -> WrkResult:
    """The result from the `BENCH_JSON` line that `post.lua` prints; BenchError without it."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            summary = json.loads(line[len(MARKER) :])
            return WrkResult(
                requests=int(summary["requests"]),
                duration_s=summary["duration_us"] / 1e6,
                errors={k: int(v) for k, v in summary["errors"].items()},
                latency_us={k: float(v) for k, v in summary["latency_us"].items()},
                command=command,
            )
    raise BenchError(f"no {MARKER.strip()} line in wrk's output:\n{output}")
