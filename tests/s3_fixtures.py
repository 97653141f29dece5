"""Fixtures for the S3 backend: one real SeaweedFS server per test session, and the AWS variables.

Import `seaweedfs` into a conftest (or list this module in a top-level `pytest_plugins`) to use it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest

from tests.seaweedfs import SeaweedFS


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A running SeaweedFS S3 server on loopback with an empty bucket, stopped by PID at the end."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_environment(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The AWS variables of the test server, set for this test only (none of the machine's)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    environment = seaweedfs.environment()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def s3_uri(
    seaweedfs: SeaweedFS, s3_environment: dict[str, str], request: pytest.FixtureRequest
) -> str:
    """`s3://bucket/prefix`, the prefix this test's own: tests never see each other's keys."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"s3://{seaweedfs.bucket}/{name}-{uuid.uuid4().hex[:8]}"
