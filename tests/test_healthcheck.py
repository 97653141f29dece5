"""The containers' health check, against a small real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loanapp import healthcheck
from loanapp.dev.processes import free_port

HOST = "127.0.0.1"
SLOW_SECONDS = 1.0
NOT_READY = {"status": "not ready", "detail": "no model yet:\nthe store is empty"}
# (status, body) answered on each path; /slow answers 200, but only after SLOW_SECONDS.
ANSWERS = {
    "/readyz": (200, b'{"status": "ready"}'),
    "/not-ready": (503, json.dumps(NOT_READY, indent=1).encode()),
    "/no-content": (204, b""),
    "/long": (503, b"x" * 1000),
    "/slow": (200, b""),
}


class Handler(BaseHTTPRequestHandler):
    """Answers GET with the status and body that ANSWERS gives its path, 404 elsewhere."""

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
        status, body = ANSWERS.get(self.path, (404, b"no such path"))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # /slow: client gone
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read the answers, not the server's log."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The base URL of a server answering ANSWERS, stopped at the end of the module."""
    httpd = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/readyz", None),
        ("/not-ready", "{url} answered 503: " + json.dumps(NOT_READY, indent=1)),
        ("/no-content", "{url} answered 204"),
        ("/long", "{url} answered 503: " + "x" * healthcheck.QUOTED_BODY_CHARACTERS),
        ("/missing", "{url} answered 404: no such path"),
        ("/slow", "{url} did not answer within 0.2s"),
    ],
)
def test_check_is_healthy_on_200_only(server: str, path: str, expected: str | None) -> None:
    url = server + path
    reason = healthcheck.check(url, timeout=0.2)
    assert reason == (None if expected is None else expected.replace("{url}", url))


def test_check_reports_a_closed_port() -> None:
    url = f"http://{HOST}:{free_port(HOST)}/readyz"
    assert healthcheck.check(url) == f"GET {url} failed: [Errno 111] Connection refused"


def test_check_ignores_proxy_settings(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """It asks its own container: a proxy named in the environment is not used."""
    closed = f"http://{HOST}:{free_port(HOST)}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, closed)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert healthcheck.check(server + "/readyz") is None


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["http://a/readyz"], {}, "http://a/readyz"),
        ([], {healthcheck.URL_VARIABLE: "http://b/readyz"}, "http://b/readyz"),
        (["https://a/readyz"], {healthcheck.URL_VARIABLE: "http://b/"}, "https://a/readyz"),
    ],
    ids=["argument", "variable", "argument-first"],
)
def test_url_from_the_argument_else_the_variable(
    argv: list[str], environ: dict[str, str], expected: str
) -> None:
    assert healthcheck.get_url(argv, environ) == expected


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([], {}, "no URL to check: pass one or set LOANAPP_HEALTHCHECK_URL"),
        ([], {healthcheck.URL_VARIABLE: ""}, "no URL to check: pass one or set"),
        (["127.0.0.1:8000/readyz"], {}, "not an http(s) URL: '127.0.0.1:8000/readyz'"),
        (["http://a/", "http://b/"], {}, "usage: python -m loanapp.healthcheck [URL], got 2"),
    ],
    ids=["none", "empty-variable", "no-scheme", "two-arguments"],
)
def test_main_says_why_it_has_no_url(
    argv: list[str], environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert healthcheck.main(argv, environ) == healthcheck.UNHEALTHY
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"unhealthy: {message}")
    assert captured.err.count("\n") == 1


def test_main_is_silent_when_healthy(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main([], {healthcheck.URL_VARIABLE: server + "/readyz"}) == 0
    assert capsys.readouterr() == ("", "")


def test_main_puts_the_reason_on_one_line(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main([server + "/not-ready"]) == 1
    captured = capsys.readouterr()
    body = " ".join(json.dumps(NOT_READY, indent=1).split())
    expected = f"{server}/not-ready answered 503: {body}"
    assert (captured.out, captured.err) == ("", f"unhealthy: {expected}\n")


@pytest.mark.parametrize(("path", "code"), [("/readyz", 0), ("/not-ready", 1)])
def test_runs_as_a_module(server: str, path: str, code: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loanapp.healthcheck", server + path],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == code
    assert result.stdout == ""
    if code == 0:
        assert result.stderr == ""
    else:
        assert result.stderr.startswith(f"unhealthy: {server}{path} answered 503: {{")
        assert result.stderr.count("\n") == 1


# Runs the module as `python -m` does, in a fresh interpreter, and prints its exit code and every
# module it imported that the interpreter had not already imported at startup.
IMPORTS_OF_A_RUN = """
import runpy, sys
url = sys.argv[1]
before = set(sys.modules)
sys.argv = ["loanapp.healthcheck", url]
try:
    runpy.run_module("loanapp.healthcheck", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
print(code, *sorted(set(sys.modules) - before))
"""


def test_imports_only_the_standard_library(server: str) -> None:
    """Docker runs it every 10 s in every container: no pandas, Flask or numpy at each run."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF_A_RUN, server + "/readyz"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    code, *imported = result.stdout.split()
    assert code == "0", result.stderr
    # runpy runs the module as __main__, as `python -m` does: only its package is imported.
    ours = {name for name in imported if name.partition(".")[0] == "loanapp"}
    assert ours == {"loanapp"}
    others = {name.partition(".")[0] for name in imported} - {"loanapp"}
    assert others - sys.stdlib_module_names == set()
    assert not others & {"flask", "numpy", "pandas", "sklearn", "urllib3", "pydantic"}
