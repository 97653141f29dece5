"""The granian command line of each service, as `loanapp serve` execs it."""

from __future__ import annotations

import sys

import pytest
from granian.cli import cli as granian_cli

from loanapp.services import (
    GRACEFUL_TIMEOUT_SECONDS,
    REQUEST_HEAD_BYTES,
    SERVICES,
    server_command,
)


def option(command: list[str], name: str) -> str:
    """The value given to `name` on a command line."""
    return command[command.index(name) + 1]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_runs_its_wsgi_app_under_granian(service: str) -> None:
    spec = SERVICES[service]
    command = server_command(service, host="0.0.0.0", port=9000, workers=3, threads=5)
    assert command[:3] == [sys.executable, "-m", "granian"]
    assert command[-1] == spec.app
    expected = {
        "--interface": "wsgi",
        "--http": "1",
        "--host": "0.0.0.0",
        "--port": "9000",
        "--workers": "3",
        "--blocking-threads": "5",
        "--backpressure": str(spec.connections),
        "--workers-kill-timeout": str(GRACEFUL_TIMEOUT_SECONDS),
    }
    assert {name: option(command, name) for name in expected} == expected
    assert "--respawn-failed-workers" in command


def test_the_model_server_has_threads_beyond_its_held_long_polls() -> None:
    from loanapp.settings import ModelServerSettings

    held = ModelServerSettings.model_fields["max_long_polls"].default
    assert SERVICES["model-server"].threads >= 2 * held  # downloads and probes always get one


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_granian_parses_the_command_line_as_meant(service: str) -> None:
    """granian's own parser takes every option and value (a typo or a bad value raises here)."""
    command = server_command(service, host="127.0.0.1", port=9000, workers=2, threads=3)
    parsed = granian_cli.make_context("granian", command[3:]).params
    assert (parsed["interface"].value, parsed["http"].value) == ("wsgi", "1")
    assert (parsed["workers"], parsed["blocking_threads"]) == (2, 3)
    assert parsed["backpressure"] == SERVICES[service].connections
    assert parsed["http1_buffer_size"] == REQUEST_HEAD_BYTES
    assert parsed["workers_kill_timeout"] == GRACEFUL_TIMEOUT_SECONDS
    assert parsed["respawn_failed_workers"] is True
    assert parsed["websockets"] is False
    assert parsed["app"] == SERVICES[service].app
