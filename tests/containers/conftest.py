"""The real images, built once per session (cached by their inputs' hash), and containers that are
always removed afterwards.

When no container engine answers these tests fail, saying so: set LOANAPP_SKIP_CONTAINERS=1 to
skip them on purpose (a machine that cannot run containers at all).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
import pytest

from scripts.images import Engine, ImageError, build_images, choose_base, find_engine
from tests.deploy.manifests import compose_environment, interpolate, load_compose

SKIP_VARIABLE = "LOANAPP_SKIP_CONTAINERS"
ADMIN_TOKEN = "container-test-admin-token-0123456789abcdef"
STORE_IN_CONTAINER = "/var/lib/loanapp/store"
HEALTH_TIMEOUT_SECONDS = 120.0
# How often the wait below asks for the health status; with podman it also runs the check, which
# podman schedules with systemd timers and so never runs on a host without systemd.
HEALTH_POLL_SECONDS = 1.0
# The compose file's stop_grace_period of both services.
GRACE_SECONDS = 20


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The container engine: fail, naming what is missing, unless told to skip."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: container tests skipped on purpose")
    try:
        return find_engine()
    except ImageError as exc:
        pytest.fail(f"{exc} (or set {SKIP_VARIABLE}=1 to skip the container tests)")


@pytest.fixture(scope="session")
def image_tags(engine: Engine) -> dict[str, str]:
    """Both images built from the working tree (a no-op when their inputs did not change)."""
    try:
        return build_images(engine, choose_base(engine, "auto"))
    except ImageError as exc:
        pytest.fail(str(exc))


def read_logs(engine: Engine, container: str) -> str:
    """A container's whole output, stdout and stderr (the services log to stderr)."""
    result = subprocess.run(
        [*engine.command, "logs", container],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout


def get_health(engine: Engine, container: str) -> str:
    """The container's health status, after running its check where the engine does not."""
    if engine.name == "podman":
        engine.succeeds("healthcheck", "run", container, timeout=30)
    documents = orjson.loads(engine.run("inspect", container))
    state = documents[0]["State"]
    health = state.get("Health") or state.get("Healthcheck") or {}
    return str(health.get("Status", "none"))


def wait_healthy(engine: Engine, container: str) -> None:
    """Poll until the image's health check reports healthy (bounded); fail with the logs."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if get_health(engine, container) == "healthy":
            return
        time.sleep(HEALTH_POLL_SECONDS)
    pytest.fail(f"{container} never turned healthy:\n{read_logs(engine, container)[-4000:]}")


class Containers:
    """Containers, networks and volumes under one name prefix; `remove_all` removes them."""

    def __init__(self, engine: Engine, prefix: str) -> None:
        self.engine = engine
        self.prefix = prefix
        self.compose = load_compose()
        self.network = f"{prefix}-net"
        self.engine.run("network", "create", self.network)
        self._containers: list[str] = []
        self._volumes: list[str] = []

    def volume(self, name: str) -> str:
        """The prefixed name of a compose volume, created on first use."""
        full = f"{self.prefix}-{name}"
        if full not in self._volumes:
            self.engine.run("volume", "create", full)
            self._volumes.append(full)
        return full

    def service_options(self, service: str) -> list[str]:
        """What the compose file declares for a service: read-only root, tmpfs, volumes, env."""
        declared: Mapping[str, Any] = self.compose["services"][service]
        options = ["--read-only"] if declared.get("read_only") else []
        options += [f"--tmpfs={path}" for path in declared.get("tmpfs", [])]
        for mount in declared.get("volumes", []):
            name, _, target = mount.partition(":")
            options += ["--volume", f"{self.volume(name)}:{target}"]
        variables = {"LOANAPP_ADMIN_TOKEN": ADMIN_TOKEN}
        for name, value in compose_environment(declared).items():
            if value is not None and value != "":
                options += ["--env", f"{name}={interpolate(value, variables)}"]
        return options

    def run(
        self,
        service: str,
        image: str,
        *arguments: str,
        name: str = "",
        detach: bool = True,
        env: Mapping[str, str] | None = None,
        publish: str = "",
    ) -> str:
        """Run a compose service's container on the private network, reachable by its service
        name; its name (detached) or its output (not detached)."""
        container = f"{self.prefix}-{name or service}"
        options = [*self.engine.limits, "--network", self.network]
        options += ["--network-alias", service] if detach else ["--rm"]
        options += [f"--env={key}={value}" for key, value in (env or {}).items()]
        options += ["--publish", f"127.0.0.1::{publish}"] if publish else []
        if detach:
            self._containers.append(container)
            options += ["--detach", "--name", container]
        output = self.engine.run(
            "run", *options, *self.service_options(service), image, *arguments, timeout=600
        )
        return container if detach else output

    def inspect(self, container: str) -> dict[str, Any]:
        """The engine's inspect document of a container."""
        documents = orjson.loads(self.engine.run("inspect", container))
        assert isinstance(documents, list)
        document: dict[str, Any] = documents[0]
        return document

    def url(self, container: str, port: str) -> str:
        """The loopback URL of a container's published port."""
        mapping = self.engine.run("port", container, f"{port}/tcp").strip().splitlines()[0]
        return f"http://127.0.0.1:{mapping.rsplit(':', 1)[1]}"

    def wait_healthy(self, container: str) -> None:
        """Poll until the image's health check reports healthy (bounded); fail with the logs."""
        wait_healthy(self.engine, container)

    def logs(self, container: str) -> str:
        """The last lines of a container's output."""
        return read_logs(self.engine, container)[-4000:]

    def exec(self, container: str, *command: str) -> str:
        """Run a command in a running container; its output."""
        return self.engine.run("exec", container, *command, timeout=300)

    def remove(self, container: str) -> bool:
        """Stop (within the grace period) and remove one container; whether that worked."""
        return self.engine.succeeds("rm", "--force", "--time", str(GRACE_SECONDS), container)

    def remove_all(self) -> None:
        """Every container, then the network and volumes; what fails is reported, not hidden."""
        failures = [c for c in reversed(self._containers) if not self.remove(c)]
        failures += [n for n in [self.network] if not self.engine.succeeds("network", "rm", n)]
        failures += [v for v in self._volumes if not self.engine.succeeds("volume", "rm", v)]
        assert not failures, f"could not remove {failures}"


@pytest.fixture(scope="module")
def containers(engine: Engine, image_tags: dict[str, str]) -> Iterator[Containers]:
    """A private network, volumes and containers for one test module, removed afterwards."""
    made = Containers(engine, f"loanapp-test-{os.getpid()}-{int(time.time()) % 100000}")
    try:
        yield made
    finally:
        made.remove_all()
