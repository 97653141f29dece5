"""The object-store fixtures: every contract and registry test runs against each backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from loanapp.store.local import LocalFolderStore
from loanapp.store.objects import ObjectStore
from loanapp.store.registry import ModelRegistry
from loanapp.store.uri import open_store

# The S3 backend's tests need the SeaweedFS server: integration tests.
BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.integration)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """An empty object store of each backend: a temporary folder, or a fresh prefix in a bucket."""
    if request.param == "local":
        return LocalFolderStore(tmp_path / "store")
    return open_store(request.getfixturevalue("s3_uri"))


@pytest.fixture
def registry(store: ObjectStore) -> ModelRegistry:
    """A registry over an empty store of each backend."""
    return ModelRegistry(store)
