"""Both images run as containers, as the compose file declares them, on a private network.

The one-shot publisher bootstraps a store on a volume; the model server and the predict API run
non-root on read-only root filesystems with the compose file's volumes, until their images'
health checks report healthy. Then, in order: what linters cannot see (PID 1, no compiler or pip,
where files land, memory at idle), a promotion and rollback through the containers, and the
original design's swap: the model-server container replaced by one pinned to another version
under steady traffic, then by one with a wrong hash.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import urllib3

from loanapp.dev.traffic import Reply, Traffic, sample_rows, summarize
from tests.containers.conftest import GRACE_SECONDS, STORE_IN_CONTAINER, Containers
from tests.factories import rebuild

# The first test's setup may build both images from scratch (about 5 minutes on 2 cores).
pytestmark = [pytest.mark.integration, pytest.mark.containers, pytest.mark.timeout(1800)]

SWAP_TIMEOUT_SECONDS = 90.0
# Idle memory each container may use at most (all its processes' RSS): a bound against a
# regression such as the predict API importing scikit-learn, not a benchmark.
IDLE_RSS_LIMIT_MB = {"model-server": 700, "predict-api": 400}
# Paths the engine itself writes into every container (name resolution), not the services.
ENGINE_FILES = {
    "/etc",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/run",
    "/run/.containerenv",
}
SUM_RSS = (
    "import os, pathlib\n"
    "total = 0\n"
    "for status in pathlib.Path('/proc').glob('[0-9]*/status'):\n"
    "    if status.parent.name != str(os.getpid()):\n"
    "        fields = dict(l.split(':', 1) for l in status.read_text().splitlines())\n"
    "        total += int(fields.get('VmRSS', '0 kB').split()[0])\n"
    "print(total)\n"
)


@dataclass
class Stack:
    """The running containers and what the one-shot published."""

    containers: Containers
    model_server: str
    predict_api: str
    api_url: str
    first: str


@pytest.fixture(scope="module")
def stack(containers: Containers, image_tags: dict[str, str]) -> Stack:
    """publish-default-model, then the model server and the predict API, both healthy."""
    output = containers.run(
        "publish-default-model", image_tags["model-server"], "bootstrap", detach=False
    )
    first = re.search(r"^MODEL_SHA256=(\w+)$", output, flags=re.MULTILINE)
    assert first, output
    model_server = containers.run("model-server", image_tags["model-server"])
    containers.wait_healthy(model_server)
    predict_api = containers.run("predict-api", image_tags["predict-api"], publish="8000")
    containers.wait_healthy(predict_api)
    return Stack(
        containers, model_server, predict_api, containers.url(predict_api, "8000"), first.group(1)
    )


def predicted_version(url: str) -> str | None:
    """The version that answers one prediction, or None when it is not answered 200."""
    pool = urllib3.PoolManager(retries=False)
    response = pool.request("POST", f"{url}/predict", json=sample_rows(1)[0], timeout=10.0)
    if response.status != 200:
        return None
    version: str = response.json()["model_version"]
    return version


def wait_for_version(url: str, version: str, in_a_row: int = 10) -> None:
    """Poll /predict until `version` answers `in_a_row` times running (bounded; no timing
    asserted): the API's workers swap independently, so one answer proves only one of them."""
    deadline = time.monotonic() + SWAP_TIMEOUT_SECONDS
    seen: list[str | None] = []
    while time.monotonic() < deadline:
        seen.append(predicted_version(url))
        if seen[-in_a_row:] == [version] * in_a_row:
            return
        time.sleep(0.1 if seen[-1] == version else 0.5)
    pytest.fail(f"{version} never answered {in_a_row} times running; last answers {seen[-5:]}")


@pytest.fixture
def traffic(stack: Stack) -> Iterator[Traffic]:
    """Steady prediction traffic to the predict-API container while the test runs."""
    running = Traffic(stack.api_url, rows=sample_rows(), concurrency=2, max_seconds=240).start()
    yield running
    running.stop()


def test_both_services_run_non_root_read_only_and_answer(stack: Stack) -> None:
    for container in (stack.model_server, stack.predict_api):
        assert stack.containers.exec(container, "id", "-u").strip() == "10001"
        assert stack.containers.inspect(container)["HostConfig"]["ReadonlyRootfs"] is True
    assert predicted_version(stack.api_url) == stack.first


@pytest.mark.parametrize("service", ["model_server", "predict_api"])
def test_granian_is_pid_1(stack: Stack, service: str) -> None:
    command = stack.containers.exec(getattr(stack, service), "cat", "/proc/1/cmdline")
    assert command.split("\0")[:3] == ["/opt/venv/bin/python", "-m", "granian"], command


def test_images_have_no_compiler_and_no_pip(stack: Stack) -> None:
    found = stack.containers.exec(
        stack.predict_api,
        "python",
        "-c",
        "import importlib.util, shutil\n"
        "print([n for n in ('gcc', 'cc', 'c++', 'clang', 'pip', 'pip3') if shutil.which(n)],"
        " importlib.util.find_spec('pip'))",
    )
    assert found.strip() == "[] None"


def test_files_land_only_on_the_declared_volumes(stack: Stack) -> None:
    containers = stack.containers
    for container in (stack.model_server, stack.predict_api):
        changed = {
            line.split()[-1]
            for line in containers.engine.run("diff", container).split("\n")
            if line
        }
        assert changed <= ENGINE_FILES, changed
        assert "Read-only file system" in containers.engine.run(
            "exec", container, "sh", "-c", "touch /var/lib/loanapp/x 2>&1 || true"
        )
    blobs = containers.exec(stack.model_server, "ls", f"{STORE_IN_CONTAINER}/blobs/sha256")
    assert stack.first in blobs.split()
    assert containers.exec(stack.predict_api, "find", "/var/cache/loanapp", "-type", "f").strip()


@pytest.mark.parametrize("service", ["model-server", "predict-api"])
def test_idle_memory(stack: Stack, service: str) -> None:
    container = stack.model_server if service == "model-server" else stack.predict_api
    rss_mb = int(stack.containers.exec(container, "python", "-c", SUM_RSS)) / 1024
    print(f"{service}: {rss_mb:.0f} MB RSS at idle")  # shown with -s: the README's figure
    assert 0 < rss_mb < IDLE_RSS_LIMIT_MB[service]


def exec_bytes(stack: Stack, *command: str, data: bytes = b"") -> bytes:
    """Run a command in the model-server container with `data` on its stdin; its stdout."""
    result = subprocess.run(
        [*stack.containers.engine.command, "exec", "-i", stack.model_server, *command],
        input=data,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def test_promote_and_roll_back_through_the_containers(stack: Stack) -> None:
    containers = stack.containers
    # A second version of the model the one-shot trained (same estimator and schema, other
    # metadata, so another hash), in through stdin: the root filesystem is read-only, /tmp not.
    first = exec_bytes(stack, "cat", f"{STORE_IN_CONTAINER}/blobs/sha256/{stack.first}")
    exec_bytes(stack, "sh", "-c", "cat > /tmp/second.bin", data=rebuild(first, model_type="copy"))
    pushed = containers.exec(stack.model_server, "loanapp", "push", "/tmp/second.bin")
    second = re.search(r"published \S+ (\w+)", pushed)
    assert second, pushed
    containers.engine.run(
        "exec", "--env", "LOANAPP_ACTOR=alice", stack.model_server, "loanapp", "promote",
        second.group(1),
    )  # fmt: skip
    wait_for_version(stack.api_url, second.group(1))
    containers.exec(stack.model_server, "loanapp", "rollback")
    wait_for_version(stack.api_url, stack.first)


def stop(containers: Containers, container: str) -> int:
    """SIGTERM and wait, as `docker stop` does; the exit code (137 if it had to be killed)."""
    containers.engine.run("stop", "--time", str(GRACE_SECONDS), container, timeout=120)
    code: int = containers.inspect(container)["State"]["ExitCode"]
    containers.remove(container)
    return code


def pinned(version: str) -> dict[str, str]:
    """MODEL_URI and MODEL_SHA256 for a version in the store volume."""
    return {
        "MODEL_URI": f"file://{STORE_IN_CONTAINER}/blobs/sha256/{version}",
        "MODEL_SHA256": version,
    }


def test_model_server_replaced_by_a_pinned_one_under_traffic(
    stack: Stack, image_tags: dict[str, str], traffic: Traffic
) -> None:
    containers = stack.containers
    versions = containers.exec(stack.model_server, "loanapp", "versions")
    other = next(v for v in re.findall(r"\b[0-9a-f]{64}\b", versions) if v != stack.first)
    # The image's PID 1 passes SIGTERM on and exits 0 within the grace period (137: killed).
    assert stop(containers, stack.model_server) == 0
    replacement = containers.run(
        "model-server", image_tags["model-server"], name="model-server-pinned", env=pinned(other)
    )
    containers.wait_healthy(replacement)
    wait_for_version(stack.api_url, other)
    replies = traffic.stop()
    assert_answered_by(replies, {stack.first, other}, last=other)


def test_a_wrong_hash_stops_the_new_model_server_and_the_api_keeps_answering(
    stack: Stack, image_tags: dict[str, str], traffic: Traffic
) -> None:
    containers = stack.containers
    serving = predicted_version(stack.api_url)
    assert serving is not None
    assert stop(containers, f"{containers.prefix}-model-server-pinned") == 0
    wrong = pinned(serving) | {"MODEL_SHA256": "0" * 64}
    refused = containers.run(
        "model-server", image_tags["model-server"], name="model-server-wrong", env=wrong
    )
    exit_code = int(containers.engine.run("wait", refused, timeout=300).strip())
    assert exit_code != 0
    replies = traffic.stop()
    assert_answered_by(replies, {serving}, last=serving)


def assert_answered_by(replies: list[Reply], versions: set[str], last: str) -> None:
    """Every request answered 200 by one of `versions`, and `last` answered last."""
    summary = summarize(replies)
    print(f"{summary.sent} requests, {summary.failed} failed")  # shown with -s: README's figure
    failures = [reply for reply in replies if reply.status != 200][:5]
    assert summary.sent > 0
    assert summary.failed == 0, failures
    assert {reply.version for reply in replies} <= versions
    assert summary.versions_in_order[-1] == last
    assert replies[-1].version == last
