"""Model-server fixtures: a real store with two published versions, and apps over it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from loanapp.model_server.app import create_app
from loanapp.model_server.catalog import ModelCatalog, RegistryCatalog
from loanapp.model_server.state import ModelServerState
from loanapp.settings import ModelServerSettings
from loanapp.store.registry import ModelRegistry
from loanapp.training.train import TrainingResult
from loanapp.web import get_state

TOKEN = "test-admin-token-0123456789"
JOIN_SECONDS = 30  # generous: only a broken server makes a wait last this long
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """The folder of the `registry` fixture's store."""
    return tmp_path / "store"


@pytest.fixture
def make_settings(store_path: Path) -> Callable[..., ModelServerSettings]:
    """Settings over the test store with a short poll; keyword arguments override fields."""

    def make(**overrides: Any) -> ModelServerSettings:
        fields: dict[str, Any] = {
            "store": str(store_path),
            "admin_token": TOKEN,
            "store_poll_seconds": 0.05,
            "max_wait_seconds": 10.0,
            "max_long_polls": 4,
        }
        return ModelServerSettings(**(fields | overrides))

    return make


@pytest.fixture
def versions(registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes) -> list[str]:
    """Two published versions of 'loan'; 'production' points at the first."""
    first = registry.publish(logreg.artifact, actor="alice").version
    second = registry.publish(second_logreg, actor="alice").version
    registry.promote("loan", first, actor="alice")
    return [first, second]


@pytest.fixture
def make_app(make_settings: Callable[..., ModelServerSettings]) -> Iterator[Callable[..., Flask]]:
    """Build apps (settings overrides as keywords); their catalogs are stopped at teardown."""
    apps: list[Flask] = []

    def make(catalog: ModelCatalog | None = None, **overrides: Any) -> Flask:
        app = create_app(make_settings(**overrides), catalog)
        apps.append(app)
        return app

    yield make
    for app in apps:
        get_state(app, ModelServerState).catalog.stop()


@pytest.fixture
def app(make_app: Callable[..., Flask], versions: list[str]) -> Flask:
    """A registry-mode model server over the two published versions."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of `app`."""
    return app.test_client()


def json_of(response: TestResponse) -> Any:
    """The JSON body of a response; fails the test if there is none."""
    body = response.get_json(silent=True)
    assert body is not None, f"{response.status} has no JSON body: {response.data[:200]!r}"
    return body


class _AnnouncingCondition(threading.Condition):
    """A condition that sets an event each time a thread starts to wait on it."""

    def __init__(self, lock: threading.Lock, waiting: threading.Event) -> None:
        super().__init__(lock)
        self._waiting = waiting

    def wait(self, timeout: float | None = None) -> bool:
        # Set while the lock is still held: whoever takes the lock after this event (to change a
        # version and notify) does so once this thread is waiting, so it cannot miss the notify.
        self._waiting.set()
        return super().wait(timeout)


class RecordingCatalog(RegistryCatalog):
    """A real RegistryCatalog that tells the test when a long-poll is held.

    `waits` counts the calls of wait_for_change; `held` is set once a caller really waits for a
    change, so that a change made after it can only reach the caller by waking it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waits = 0
        self.held = threading.Event()
        self._changed = _AnnouncingCondition(self._lock, self.held)

    def wait_for_change(self, name: str, known_version: str | None, timeout: float) -> str | None:
        self.waits += 1
        return super().wait_for_change(name, known_version, timeout)

    def wait_until_held(self) -> None:
        """Return once a caller waits for a change; fail the test if none does."""
        assert self.held.wait(JOIN_SECONDS), "no caller waited for a change"
        self.held.clear()
