"""RegistryCatalog: following the alias, waking waiters, and answering from memory in an outage."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from loanapp.errors import ModelNotFoundError, StoreUnavailableError
from loanapp.model_server.catalog import RegistryCatalog
from loanapp.model_server.state import ModelServerState
from loanapp.store.registry import AliasRecord, ModelRegistry
from loanapp.training.train import TrainingResult
from loanapp.web import get_state
from tests.model_server.conftest import JOIN_SECONDS, RecordingCatalog, json_of


@contextmanager
def store_down(store_path: Path) -> Iterator[None]:
    """Make every read of the store fail for real: its folder becomes a symlink to itself."""
    # Replacing the folder by a file would read as 'not found', and tests run as root, whom
    # chmod does not stop; a symlink loop makes the backend raise StoreUnavailableError (ELOOP).
    backup = store_path.with_name(store_path.name + "-backup")
    store_path.rename(backup)
    store_path.symlink_to(store_path.name)
    try:
        yield
    finally:
        store_path.unlink()
        backup.rename(store_path)


@pytest.fixture
def catalog(registry: ModelRegistry, versions: list[str]) -> Iterator[RecordingCatalog]:
    """A catalog following 'production' of 'loan', without its poll thread."""
    catalog = RecordingCatalog(registry, "production", 0.05, watch=["loan"])
    yield catalog
    catalog.stop()


def _waiting(catalog: RegistryCatalog, known: str | None) -> Callable[[], str | None]:
    results: list[str | None] = []
    thread = threading.Thread(
        target=lambda: results.append(catalog.wait_for_change("loan", known, 600)), daemon=True
    )
    thread.start()

    def result() -> str | None:
        thread.join(JOIN_SECONDS)
        assert not thread.is_alive(), "wait_for_change never returned"
        return results[0]

    return result


def test_promote_through_the_catalog_wakes_waiters_at_once(
    catalog: RecordingCatalog, versions: list[str]
) -> None:
    assert catalog.current("loan") == versions[0]
    pending = _waiting(catalog, versions[0])  # no poll thread: only the promotion can wake it
    catalog.wait_until_held()  # promote once it waits, else it would see the new version anyway
    catalog.promote("loan", versions[1], actor="bob", alias="production")
    assert pending() == versions[1]
    assert catalog.current("loan") == versions[1]
    catalog.rollback("loan", actor="bob", alias="production")
    assert catalog.current("loan") == versions[0]


def test_wait_for_change_answers_at_once_for_a_stale_version(
    catalog: RegistryCatalog, versions: list[str]
) -> None:
    assert _waiting(catalog, versions[1])() == versions[0]
    assert _waiting(catalog, None)() == versions[0]
    with pytest.raises(ModelNotFoundError):
        catalog.wait_for_change("nope", None, 600)


def test_poll_thread_follows_promotions_by_others(
    catalog: RecordingCatalog,
    registry: ModelRegistry,
    versions: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert catalog.current("loan") == versions[0]
    catalog.start()
    pending = _waiting(catalog, versions[0])
    catalog.wait_until_held()
    with caplog.at_level(logging.INFO, logger="loanapp.model_server.catalog"):
        registry.promote("loan", versions[1], actor="bob")  # not through the catalog
        assert pending() == versions[1]
    assert catalog.status()["last_poll_at"] is not None
    changes = [r.getMessage() for r in caplog.records if "current version is now" in r.getMessage()]
    assert changes == [
        f"model loan alias production: current version is now {versions[1]} (was {versions[0]})"
    ]


class StaleReader(ModelRegistry):
    """A registry whose alias reads can be made to return a record read earlier."""

    stale: AliasRecord | None = None

    def get_alias(self, name: str, alias: str = "production") -> AliasRecord:
        return self.stale or super().get_alias(name, alias)


def test_a_poll_that_read_before_a_promotion_does_not_undo_it(
    registry: ModelRegistry, versions: list[str]
) -> None:
    reader = StaleReader(registry.store)
    catalog = RegistryCatalog(reader, "production", 0.05, watch=["loan"])
    before = reader.get_alias("loan")
    catalog.promote("loan", versions[1], actor="bob", alias="production")
    reader.stale = before  # as if the poll read the store just before the promotion
    catalog.refresh()
    assert catalog.current("loan") == versions[1]


def test_artifact_cache_keeps_the_last_few(
    registry: ModelRegistry, versions: list[str], logreg: TrainingResult
) -> None:
    catalog = RegistryCatalog(registry, "production", 0.05, cached_artifacts=1)
    assert catalog.artifact_bytes(versions[0]) == logreg.artifact
    catalog.artifact_bytes(versions[1])
    assert catalog.status()["cached_artifacts"] == [versions[1]]


def test_outage_is_answered_from_memory_and_shown_in_readyz(
    app: Flask,
    versions: list[str],
    store_path: Path,
    logreg: TrainingResult,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = app.test_client()
    catalog = get_state(app, ModelServerState).catalog
    assert isinstance(catalog, RegistryCatalog)
    catalog.stop()  # this test polls by hand, so that no poll in flight races the assertions
    assert client.get("/v1/models/loan/current").status_code == 200
    artifact_url = f"/v1/models/loan/versions/{versions[0]}/artifact"
    assert client.get(artifact_url).status_code == 200
    with store_down(store_path), caplog.at_level(logging.ERROR):
        for _ in range(3):
            catalog.refresh()
        current = client.get("/v1/models/loan/current")
        assert current.status_code == 200
        assert json_of(current)["version"] == versions[0]
        artifact = client.get(artifact_url)
        assert artifact.status_code == 200
        assert artifact.data == logreg.artifact
        with pytest.raises(StoreUnavailableError):
            catalog.artifact_bytes(versions[1])  # never fetched, so not in memory
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert json_of(ready)["store_ok"] is False
        assert "Too many levels of symbolic links" in json_of(ready)["store_error"]
        assert json_of(ready)["store_error_since"] is not None
    problems = [r for r in caplog.records if "model store problem" in r.getMessage()]
    assert len(problems) == 1  # once per outage, not once per poll
    catalog.refresh()
    assert json_of(client.get("/readyz"))["store_ok"] is True


def test_outage_before_anything_is_known_is_not_ready(
    make_app: Callable[..., Flask],
    registry: ModelRegistry,
    versions: list[str],
    store_path: Path,
) -> None:
    # Nothing watched yet, so the poll thread cannot learn the version before the store fails.
    client = make_app(RegistryCatalog(registry, "production", 0.05)).test_client()
    with store_down(store_path):
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert json_of(ready)["status"] == "not ready"
        assert json_of(ready)["detail"].startswith(
            f"model store {store_path.as_uri()} is unavailable: "
        )
        current = client.get("/v1/models/loan/current")
        assert current.status_code == 503
        assert json_of(current)["type"] == "StoreUnavailableError"
        assert json_of(current)["error"] == json_of(ready)["detail"]


def test_alias_missing_from_the_store_keeps_the_known_version(
    catalog: RegistryCatalog, versions: list[str], store_path: Path
) -> None:
    assert catalog.current("loan") == versions[0]
    store_path.rename(store_path.with_name("elsewhere"))
    store_path.mkdir()  # an empty folder, as when a volume is not mounted
    catalog.refresh()
    assert catalog.current("loan") == versions[0]
    status = catalog.status()
    assert status["store_ok"] is False
    assert f"still serving {versions[0]}" in str(status["store_error"])


def test_store_unavailable_error_reaches_uncached_reads(
    catalog: RegistryCatalog, versions: list[str], store_path: Path
) -> None:
    with store_down(store_path), pytest.raises(StoreUnavailableError):
        catalog.current("loan")
