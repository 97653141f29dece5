"""Long-polls on the current version: held until a change, released at the wait, and limited."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from loanapp.model_server.catalog import RegistryCatalog
from loanapp.model_server.state import ModelServerState
from loanapp.store.local import LocalFolderStore
from loanapp.store.registry import ModelRegistry
from loanapp.web import get_state
from tests.model_server.conftest import json_of

JOIN_SECONDS = 30  # generous: only a broken server makes a thread outlive it


class RecordingCatalog(RegistryCatalog):
    """A real RegistryCatalog that tells the test when a long-poll starts to wait."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waits = 0
        self.waiting = threading.Event()

    def wait_for_change(self, name: str, known_version: str | None, timeout: float) -> str | None:
        self.waits += 1
        self.waiting.set()
        return super().wait_for_change(name, known_version, timeout)


def _in_thread(
    client: FlaskClient, url: str, headers: dict[str, str]
) -> Callable[[], TestResponse]:
    """Send a GET in a thread; the returned function joins it and gives the response."""
    responses: list[TestResponse] = []
    thread = threading.Thread(target=lambda: responses.append(client.get(url, headers=headers)))
    thread.start()

    def result() -> TestResponse:
        thread.join(JOIN_SECONDS)
        assert not thread.is_alive(), "the long-poll was never answered"
        return responses[0]

    return result


def test_long_poll_answers_when_another_process_promotes(
    client: FlaskClient, versions: list[str], store_path: Path
) -> None:
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[0]
    pending = _in_thread(
        client, "/v1/models/loan/current?wait=10", {"If-None-Match": f'"{versions[0]}"'}
    )
    time.sleep(0.2)  # let the request start waiting (the test passes either way)
    # A registry of its own over the same folder: a write by another process, seen only by polling.
    ModelRegistry(LocalFolderStore(store_path)).promote("loan", versions[1], actor="bob")
    response = pending()
    assert response.status_code == 200
    assert json_of(response)["version"] == versions[1]
    assert response.headers["ETag"] == f'"{versions[1]}"'


def test_long_poll_answers_304_when_the_wait_ends(client: FlaskClient, versions: list[str]) -> None:
    response = client.get(
        "/v1/models/loan/current?wait=0.3", headers={"If-None-Match": f'"{versions[0]}"'}
    )
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == f'"{versions[0]}"'


def test_long_poll_is_capped_at_max_wait(
    make_app: Callable[..., Flask], versions: list[str]
) -> None:
    client = make_app(max_wait_seconds=0.2).test_client()
    pending = _in_thread(
        client, "/v1/models/loan/current?wait=3600", {"If-None-Match": f'"{versions[0]}"'}
    )
    assert pending().status_code == 304


def test_long_poll_with_a_stale_version_answers_at_once(
    client: FlaskClient, versions: list[str]
) -> None:
    pending = _in_thread(
        client, "/v1/models/loan/current?wait=3600", {"If-None-Match": f'"{versions[1]}"'}
    )
    response = pending()
    assert response.status_code == 200
    assert json_of(response)["version"] == versions[0]


def test_long_polls_over_the_limit_are_answered_at_once(
    make_app: Callable[..., Flask], versions: list[str], registry: ModelRegistry
) -> None:
    catalog = RecordingCatalog(registry, "production", 0.05)
    app = make_app(catalog, max_long_polls=1)
    known = {"If-None-Match": f'"{versions[0]}"'}
    held = _in_thread(app.test_client(), "/v1/models/loan/current?wait=20", known)
    assert catalog.waiting.wait(JOIN_SECONDS)
    client = app.test_client()

    second = client.get("/v1/models/loan/current?wait=20", headers=known)
    assert second.status_code == 304  # as if wait=0: the one slot is taken
    stale = client.get(
        "/v1/models/loan/current?wait=20", headers={"If-None-Match": f'"{versions[1]}"'}
    )
    assert json_of(stale)["version"] == versions[0]
    assert client.get("/healthz").status_code == 200
    artifact = client.get(f"/v1/models/loan/versions/{versions[0]}/artifact")
    assert artifact.status_code == 200
    assert catalog.waits == 1  # only the first request waited

    catalog.promote("loan", versions[1], actor="erin", alias="production")
    assert json_of(held())["version"] == versions[1]
    # The slot is free again: the next long-poll waits (and times out).
    after = client.get(
        "/v1/models/loan/current?wait=0.2", headers={"If-None-Match": f'"{versions[1]}"'}
    )
    assert after.status_code == 304
    assert catalog.waits == 2


def test_stopping_the_catalog_releases_held_long_polls(app: Flask, versions: list[str]) -> None:
    catalog = get_state(app, ModelServerState).catalog
    assert isinstance(catalog, RegistryCatalog)
    pending = _in_thread(
        app.test_client(), "/v1/models/loan/current?wait=600", {"If-None-Match": f'"{versions[0]}"'}
    )
    time.sleep(0.2)  # let the request start waiting (the test passes either way)
    catalog.stop()
    assert pending().status_code == 304
