"""The containers' command lines, run here as local processes.

Each command is read from deploy/Dockerfile or deploy/docker-compose.yml and run as it is, with
only the listening host and port substituted and the container's folders mapped to temporary
ones: the one-shot publisher, the model server (registry and pinned mode), the predict API, and
the images' own HEALTHCHECK command against them, ready or not. Services are stopped by PID.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import pytest
import urllib3

from loanapp.dev.processes import ServiceProcess, free_port
from loanapp.dev.traffic import sample_rows
from loanapp.healthcheck import URL_VARIABLE
from loanapp.store.local import LocalFolderStore
from loanapp.store.registry import ModelRegistry
from tests.deploy.conftest import FOREIGN_PREFIXES, FOREIGN_VARIABLES
from tests.deploy.manifests import (
    Image,
    compose_argv,
    compose_environment,
    interpolate,
    parse_loanapp,
)
from tests.deploy.manifests import with_options as with_host_and_port

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
ADMIN_TOKEN = "process-test-admin-token-0123456789"
VENV_BIN = Path(sys.executable).parent
STORE_IN_CONTAINER = "/var/lib/loanapp/store"
CACHE_IN_CONTAINER = "/var/cache/loanapp"


@dataclass
class Published:
    """The store the one-shot publisher filled, and what it printed."""

    store: Path
    version: str
    pinned: dict[str, str]
    first_output: str
    second_output: str


def local_environment(
    image: Image, service: Mapping[str, Any], folders: Mapping[str, Path], **overrides: str
) -> dict[str, str]:
    """The container's environment (image ENV, then the compose service's) for a local process:
    container folders mapped to local ones, the virtualenv first on PATH, nothing leaked in."""
    variables = {"LOANAPP_ADMIN_TOKEN": ADMIN_TOKEN}
    container = dict(image.env)
    for name, value in compose_environment(service).items():
        if value is not None:
            container[name] = interpolate(value, variables)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LOANAPP_", *FOREIGN_PREFIXES)) and name not in FOREIGN_VARIABLES
    }
    for name, value in container.items():
        for inside, outside in folders.items():
            value = value.replace(inside, str(outside))
        environment[name] = value
    environment["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    environment["HOME"] = "/nonexistent"  # the image's user has no home folder either
    return environment | overrides


def run_one_shot(compose: dict[str, Any], image: Image, store: Path) -> str:
    service = compose["services"]["publish-default-model"]
    argv = compose_argv(service, image)
    if argv[0] == "loanapp":
        parse_loanapp(argv)  # a real command with valid options, before it runs
    result = subprocess.run(
        argv,
        env=local_environment(image, service, {STORE_IN_CONTAINER: store}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def published(
    tmp_path_factory: pytest.TempPathFactory, compose: dict[str, Any], images: dict[str, Image]
) -> Published:
    """An empty store after the compose one-shot ran on it twice."""
    store = tmp_path_factory.mktemp("published") / "store"
    first = run_one_shot(compose, images["model-server"], store)
    second = run_one_shot(compose, images["model-server"], store)
    pinned = dict(re.findall(r"^(MODEL_URI|MODEL_SHA256)=(\S+)$", first, flags=re.MULTILINE))
    version = pinned["MODEL_SHA256"]
    return Published(store, version, pinned, first, second)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """Start a service from its image's command line; every one started is stopped by PID."""
    started: list[tuple[ServiceProcess, IO[bytes]]] = []

    def start_service(image: Image, environment: dict[str, str]) -> ServiceProcess:
        port = free_port(HOST)
        argv = with_host_and_port(image.argv, host=HOST, port=str(port))
        log = (tmp_path / f"{image.target}-{port}.log").open("wb")
        service = ServiceProcess(argv, url=f"http://{HOST}:{port}", env=environment, log=log)
        started.append((service.start(), log))
        return service

    yield start_service
    for service, log in started:
        service.stop()
        log.close()


def log_of(tmp_path: Path) -> str:
    return "\n".join(path.read_text(errors="replace")[-3000:] for path in tmp_path.glob("*.log"))


def healthcheck(
    image: Image, service: ServiceProcess, environment: dict[str, str]
) -> tuple[int, str]:
    """Run the image's HEALTHCHECK command as it is, in the container's environment, with the
    image's URL pointed at the port the local service listens on; its exit code and stderr."""
    port = service.url.rsplit(":", 1)[1]
    url = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", environment[URL_VARIABLE])
    assert url.startswith(service.url + "/"), url
    result = subprocess.run(
        image.healthcheck,
        env=environment | {URL_VARIABLE: url},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.returncode, result.stderr


def turns_healthy(
    image: Image, service: ServiceProcess, environment: dict[str, str], retries: int = 20
) -> tuple[int, str]:
    """The health check run as Docker runs it, again after a failure (a retry every half
    second, bounded): each worker reports its own readiness, and a worker still loading its
    first model answers 503 for a moment after another one is ready."""
    result = healthcheck(image, service, environment)
    for _ in range(retries):
        if result[0] == 0:
            break
        time.sleep(0.5)
        result = healthcheck(image, service, environment)
    return result


def get_json(url: str, method: str = "GET", body: object = None) -> tuple[int, Any]:
    pool = urllib3.PoolManager(retries=False)
    response = pool.request(
        method,
        url,
        body=None if body is None else orjson.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=10.0,
    )
    return response.status, orjson.loads(response.data)


def test_one_shot_publishes_the_default_model_once(published: Published) -> None:
    registry = ModelRegistry(LocalFolderStore(published.store))
    assert "training the default" in published.first_output
    assert registry.get_alias("loan").version == published.version
    assert [r.version for r in registry.list_versions("loan")] == [published.version]
    # The second start finds the model and changes nothing.
    assert "training" not in published.second_output
    assert f"production is {published.version}" in published.second_output
    # The lines it prints for pinned mode name the published file in the store.
    blob = published.store / "blobs" / "sha256" / published.version
    assert published.pinned["MODEL_URI"] == blob.as_uri()
    assert blob.is_file()


def test_services_start_with_the_image_commands_and_serve(
    published: Published,
    compose: dict[str, Any],
    images: dict[str, Image],
    start: Any,
    tmp_path: Path,
) -> None:
    services = compose["services"]
    model_environment = local_environment(
        images["model-server"], services["model-server"], {STORE_IN_CONTAINER: published.store}
    )
    model_server = start(images["model-server"], model_environment)
    model_server.wait_ready(timeout=90, path="/readyz")
    assert turns_healthy(images["model-server"], model_server, model_environment) == (0, "")
    assert get_json(model_server.url + "/healthz")[0] == 200
    status, ready = get_json(model_server.url + "/readyz")
    assert (status, ready["mode"], ready["version"]) == (200, "registry", published.version)

    api_environment = local_environment(
        images["predict-api"],
        services["predict-api"],
        {CACHE_IN_CONTAINER: tmp_path / "cache"},
        MODEL_SERVER_URL=model_server.url,  # the model server's host and port, here
    )
    predict_api = start(images["predict-api"], api_environment)
    try:
        predict_api.wait_ready(timeout=90, path="/readyz")
    except Exception as exc:
        raise AssertionError(log_of(tmp_path)) from exc
    assert turns_healthy(images["predict-api"], predict_api, api_environment) == (0, "")
    assert get_json(predict_api.url + "/healthz")[0] == 200
    status, answer = get_json(predict_api.url + "/predict", "POST", sample_rows(1)[0])
    assert status == 200, answer
    assert answer["model_version"] == published.version
    assert list((tmp_path / "cache").iterdir()), "the cache folder of LOANAPP_CACHE_DIR is used"


def test_pinned_model_server_serves_the_file_the_one_shot_printed(
    published: Published, compose: dict[str, Any], images: dict[str, Image], start: Any
) -> None:
    environment = local_environment(
        images["model-server"],
        compose["services"]["model-server"],
        {STORE_IN_CONTAINER: published.store},
        **published.pinned,
    )
    model_server = start(images["model-server"], environment)
    model_server.wait_ready(timeout=90, path="/readyz")
    assert turns_healthy(images["model-server"], model_server, environment) == (0, "")
    status, ready = get_json(model_server.url + "/readyz")
    assert (status, ready["mode"], ready["version"]) == (200, "pinned", published.version)


def test_pinned_model_server_refuses_a_wrong_hash(
    published: Published,
    compose: dict[str, Any],
    images: dict[str, Image],
    start: Any,
    tmp_path: Path,
) -> None:
    wrong = "0" * 64
    environment = local_environment(
        images["model-server"],
        compose["services"]["model-server"],
        {STORE_IN_CONTAINER: published.store},
        MODEL_URI=published.pinned["MODEL_URI"],
        MODEL_SHA256=wrong,
    )
    model_server = start(images["model-server"], environment)
    assert model_server.process is not None
    assert model_server.process.wait(timeout=60) == 1
    expected = f"artifact integrity check failed: expected sha256 {wrong}, got sha256 "
    assert expected + published.version in log_of(tmp_path)
    code, reason = healthcheck(images["model-server"], model_server, environment)
    assert code == 1
    assert re.fullmatch(
        r"unhealthy: GET http://127\.0\.0\.1:\d+/readyz failed: .*Connection refused\n", reason
    ), reason


def test_healthcheck_fails_while_the_predict_api_has_no_model(
    compose: dict[str, Any], images: dict[str, Image], start: Any, tmp_path: Path
) -> None:
    environment = local_environment(
        images["predict-api"],
        compose["services"]["predict-api"],
        {CACHE_IN_CONTAINER: tmp_path / "cache"},
        MODEL_SERVER_URL=f"http://{HOST}:{free_port(HOST)}",  # no model server there
    )
    predict_api = start(images["predict-api"], environment)
    predict_api.wait_ready(timeout=90, path="/healthz")  # up, but it has no model to serve
    code, reason = healthcheck(images["predict-api"], predict_api, environment)
    assert code == 1
    assert re.fullmatch(
        r"unhealthy: http://127\.0\.0\.1:\d+/readyz answered 503: \{.*\"not ready\".*\n", reason
    ), reason
