"""`loanapp up`: trains a default model into an empty store, starts both services, stops both."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import urllib3

from loanapp.dev.processes import child_pids, free_port
from loanapp.dev.traffic import sample_rows

pytestmark = pytest.mark.integration


def test_up_serves_a_default_model_and_stops_its_services(tmp_path: Path) -> None:
    port, model_server_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "loanapp", "--store", str(tmp_path / "store"), "up",
        "--port", str(port), "--model-server-port", str(model_server_port),
        "--work-dir", str(tmp_path / "run"),
    ]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as up:
        _check_up(up, port)
        services = child_pids(up.pid)  # the two servers' main processes, stopped with `up`
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0
    assert len(services) == 2
    for pid in services:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def _check_up(up: subprocess.Popen[str], port: int) -> None:
    try:
        lines: list[str] = []
        assert up.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not any("Ctrl-C" in line for line in lines):
            lines.append(up.stdout.readline())
            assert lines[-1] or up.poll() is None, "".join(lines)  # exited before it was up
        assert any("store is empty: training the default logreg model" in line for line in lines)
        answer = urllib3.PoolManager().request(
            "POST", f"http://127.0.0.1:{port}/predict", body=orjson.dumps(sample_rows(1)[0]),
            headers={"Content-Type": "application/json"}, timeout=10.0,
        )  # fmt: skip
        assert answer.status == 200
        assert len(orjson.loads(answer.data)["model_version"]) == 64
    except BaseException:
        up.send_signal(signal.SIGTERM)  # stop the services even when a check failed
        raise


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
