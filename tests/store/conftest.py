"""The object-store fixture: every contract test runs against each backend."""

from __future__ import annotations

import pytest

from loanapp.store.local import LocalFolderStore
from loanapp.store.objects import ObjectStore


@pytest.fixture(params=["local"])
def store(request: pytest.FixtureRequest, tmp_path) -> ObjectStore:
    """An empty object store of each backend."""
    assert request.param == "local"
    return LocalFolderStore(tmp_path / "objects")
