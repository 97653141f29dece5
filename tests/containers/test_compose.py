"""deploy/docker-compose.yml itself, run by podman-compose: up with three predict-API replicas, the
proxy answers /predict and spreads requests over all three, down.

Where no registry can be pulled from, the proxy runs on a stand-in nginx (Debian's, 1.22), so the
file is copied with two changes, each asserted to apply: the proxy's image, and nginx.conf's
re-resolution of the replicas (`resolve`, nginx 1.27.3+, through Docker's DNS at 127.0.0.11, which
podman's networks do not have) becomes one resolution at start, after the replicas exist.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from loanapp.dev.processes import free_port
from loanapp.dev.traffic import sample_rows
from scripts.images import Engine, build_stand_in
from tests.containers.conftest import ADMIN_TOKEN, read_logs, wait_healthy
from tests.deploy.manifests import COMPOSE_FILE, NGINX_CONF

# The first test's setup may build both images from scratch (about 5 minutes on 2 cores).
pytestmark = [pytest.mark.integration, pytest.mark.containers, pytest.mark.timeout(1800)]

REPLICAS = 3
BURST = 20
MAX_REQUESTS = 600
SPREAD_TIMEOUT_SECONDS = 60.0
LOG_LINES_TIMEOUT_SECONDS = 15.0
UP_TIMEOUT_SECONDS = 600
READY_TIMEOUT_SECONDS = 180.0
PROXY_IMAGE = "image: nginx:1.28.0-alpine"
RESOLVER_LINE = re.compile(r"^\s*resolver 127\.0\.0\.11 .*;\n", flags=re.MULTILINE)
# The predict API's one log line per request (request_records.py), as it starts for an answered
# prediction.
PREDICT_LOG = "POST /predict 200 "


def rewrite(text: str, old: str | re.Pattern[str], new: str) -> str:
    """Replace exactly one occurrence; fail when the file no longer has it."""
    count = len(old.findall(text)) if isinstance(old, re.Pattern) else text.count(old)
    assert count == 1, f"expected one {old!r} in the file, found {count}"
    return old.sub(new, text) if isinstance(old, re.Pattern) else text.replace(old, new)


class Project:
    """podman-compose over a copy of deploy/, as one project with its own name and host port."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self.engine = engine
        self.name = f"loanapp-compose-{os.getpid()}"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.command = [
            sys.executable, "-m", "podman_compose",
            "--in-pod=false",
            f"--podman-args={' '.join(engine.command[1:])}",
            f"--podman-run-args={' '.join(engine.limits)}",
            "--project-name", self.name,
            "--file", str(folder / "docker-compose.yml"),
        ]  # fmt: skip
        self.left_by_down: list[str] = []
        self.environment = os.environ | {
            "LOANAPP_ADMIN_TOKEN": ADMIN_TOKEN,
            "LOANAPP_HTTP_PORT": str(port),
        }

    def run(self, *arguments: str) -> str:
        """`podman-compose ARGUMENTS`; its output, or a failure quoting it."""
        result = subprocess.run(
            [*self.command, *arguments],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=UP_TIMEOUT_SECONDS,
            check=False,
        )
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        return result.stdout + result.stderr

    def down(self) -> None:
        """`down --volumes`, then whatever it left (it stops at a container that never started)."""
        subprocess.run(
            [*self.command, "down", "--volumes"],
            env=self.environment,
            capture_output=True,
            timeout=UP_TIMEOUT_SECONDS,
            check=False,
        )
        label = f"label=com.docker.compose.project={self.name}"
        self.left_by_down = self._list("container", label)
        # A container others were started after cannot go before them: a few passes, in order.
        for _ in range(3):
            for name in self._list("container", label):
                self.engine.succeeds("container", "rm", "--force", name)
        for kind in ("volume", "network"):
            for name in self._list(kind, label):
                self.engine.succeeds(kind, "rm", "--force", name)
        remaining = self._list("container", label)
        assert not remaining, f"containers left after down and removal: {remaining}"

    def _list(self, kind: str, label: str) -> list[str]:
        """Names of the project's containers, volumes or networks."""
        listing = (
            ("ps", "--all", "--format", "{{.Names}}")
            if kind == "container"
            else (kind, "ls", "--quiet")
        )
        return self.engine.run(*listing, "--filter", label).split()

    def containers(self, service: str) -> list[str]:
        """The names of the project's containers of one service."""
        output = self.engine.run(
            "ps", "--all", "--format", "{{.Names}}",
            "--filter", f"label=com.docker.compose.project={self.name}",
            "--filter", f"label=com.docker.compose.service={service}",
        )  # fmt: skip
        return output.split()


@pytest.fixture(scope="module")
def project(
    engine: Engine, image_tags: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    """The copied project, up with three predict-API replicas; down (volumes too) afterwards."""
    if engine.name != "podman":
        pytest.skip("this test drives podman-compose; with docker, `docker compose` is the tool")
    folder = tmp_path_factory.mktemp("compose")
    proxy = build_stand_in(engine, "nginx")
    compose = rewrite(COMPOSE_FILE.read_text(), PROXY_IMAGE, f"image: {proxy}")
    (folder / "docker-compose.yml").write_text(compose)
    conf = rewrite(NGINX_CONF.read_text(), RESOLVER_LINE, "")
    (folder / "nginx.conf").write_text(rewrite(conf, " resolve;", ";"))
    made = Project(engine, folder)
    try:
        made.run("up", "--detach", "--no-build", "--scale", f"predict-api={REPLICAS}")
        yield made
    finally:
        made.down()
        print(f"left by podman-compose down: {made.left_by_down}")


def post_predict(url: str) -> int:
    """One prediction through the proxy; its status (0 when nothing answered)."""
    pool = urllib3.PoolManager(retries=False)
    try:
        return pool.request("POST", f"{url}/predict", json=sample_rows(1)[0], timeout=10.0).status
    except urllib3.exceptions.HTTPError:
        return 0


def test_compose_up_proxy_spreads_over_three_replicas_then_down(project: Project) -> None:
    replicas = project.containers("predict-api")
    assert len(replicas) == REPLICAS, replicas
    for replica in replicas:
        wait_healthy(project.engine, replica)
    before = {name: read_logs(project.engine, name).count(PREDICT_LOG) for name in replicas}

    # nginx keeps a replica that answered 503 while loading out of rotation for 10 s
    # (fail_timeout), so requests go on until all three answered, bounded in time and count.
    def served_now() -> dict[str, int]:
        return {
            name: read_logs(project.engine, name).count(PREDICT_LOG) - before[name]
            for name in replicas
        }

    statuses: list[int] = []
    deadline = time.monotonic() + SPREAD_TIMEOUT_SECONDS
    served = dict.fromkeys(replicas, 0)
    while len(statuses) < MAX_REQUESTS and time.monotonic() < deadline:
        statuses += [post_predict(project.url) for _ in range(BURST)]
        served = served_now()
        if all(served.values()):
            break
        time.sleep(1.0)
    # Each worker writes its request lines a quarter second after the requests, in batches.
    deadline = time.monotonic() + LOG_LINES_TIMEOUT_SECONDS
    while sum(served.values()) < len(statuses) and time.monotonic() < deadline:
        time.sleep(0.5)
        served = served_now()
    print(f"{len(statuses)} requests through the proxy, per replica: {sorted(served.values())}")
    assert statuses == [200] * len(statuses)
    assert sum(served.values()) >= len(statuses), served
    assert all(served.values()), served
    assert project.containers("publish-default-model"), "the one-shot ran"
