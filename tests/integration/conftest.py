"""Both services as real granian processes on loopback, started with `loanapp serve`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loanapp.dev.processes import free_port
from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import Reply, summarize
from loanapp.store.registry import ModelRegistry
from loanapp.training.train import TrainingResult
from tests.factories import rebuild

# A plain import, not `pytest_plugins`: pytest accepts that only in the top-level conftest.

ADMIN_TOKEN = "integration-test-admin-token"


@dataclass
class Versions:
    """The versions published in the stack's store, and their artifact files."""

    first: str
    second: str
    gbm: str
    files: dict[str, Path]


@pytest.fixture
def versions(tmp_path: Path, logreg: TrainingResult, gbm: TrainingResult) -> Versions:
    """Three published versions; `first` is production."""
    return publish_versions(stack_for(tmp_path).registry(), tmp_path, logreg, gbm)


def publish_versions(
    registry: ModelRegistry, tmp_path: Path, logreg: TrainingResult, gbm: TrainingResult
) -> Versions:
    """Publish three versions into `registry` (files kept under tmp_path) and promote the first."""
    files: dict[str, Path] = {}
    artifacts = [logreg.artifact, rebuild(logreg.artifact, model_type="logreg-2"), gbm.artifact]
    for data in artifacts:
        path = tmp_path / "artifacts" / f"{len(files)}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        files[registry.publish(data, actor="test").version] = path
    first, second, gbm_version = files
    registry.promote("loan", first, actor="test")
    return Versions(first=first, second=second, gbm=gbm_version, files=files)


def stack_for(tmp_path: Path, store: str | None = None, **options: Any) -> LocalStack:
    """A stack (not started) on loopback ports over `store` (default: a folder under tmp_path)."""
    return LocalStack(
        store=store or str(tmp_path / "store"),
        work_dir=tmp_path / "run",
        model_server_port=free_port(),
        predict_api_port=free_port(),
        environment={
            "LOANAPP_ADMIN_TOKEN": ADMIN_TOKEN,
            "LOANAPP_STORE_POLL_SECONDS": "0.2",
            "LOANAPP_LOG_LEVEL": "INFO",
            "LOANAPP_RETRY_MAX_SECONDS": "1",
        }
        | options.pop("environment", {}),
        **options,
    )


@pytest.fixture
def stack_options() -> dict[str, Any]:
    """Extra LocalStack arguments; a test overrides this fixture to size the services."""
    return {}


@pytest.fixture
def stack(
    tmp_path: Path, versions: Versions, stack_options: dict[str, Any]
) -> Iterator[LocalStack]:
    """Model server and predict API running, the predict API serving `versions.first`."""
    with stack_for(tmp_path, **stack_options) as stack:
        yield stack


def wait_until_every_worker_serves(stack: LocalStack, version: str, timeout: float = 60.0) -> None:
    """Poll /readyz until each predict-API worker has reported `version` (no timing asserted)."""
    stack.wait_for_every_worker(serving=version, timeout=timeout)


def assert_no_failures(replies: list[Reply], allowed_versions: set[str]) -> None:
    """Every request was answered 200, by one of the versions that were promoted at some point."""
    summary = summarize(replies)
    failures = [reply for reply in replies if reply.status != 200][:5]
    assert summary.sent > 0
    assert summary.failed == 0, failures
    assert {reply.version for reply in replies} <= allowed_versions
