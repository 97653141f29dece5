"""Long-polls on the current version: held until a change, released at the wait, and limited."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from loanapp.model_server.state import ModelServerState
from loanapp.store.local import LocalFolderStore
from loanapp.store.registry import ModelRegistry
from loanapp.web import get_state
from tests.model_server.conftest import JOIN_SECONDS, RecordingCatalog, json_of

# Longer than any test waits for an answer: a long-poll of this length is answered in time only
# if something wakes it (or it is not held at all), never by reaching the end of its wait.
LONG_WAIT = 3600


@pytest.fixture
def app(make_app: Callable[..., Flask], versions: list[str]) -> Flask:
    """A registry-mode model server that lets long-polls wait LONG_WAIT seconds."""
    return make_app(max_wait_seconds=LONG_WAIT)


def _in_thread(
    client: FlaskClient, url: str, headers: dict[str, str]
) -> Callable[[], TestResponse]:
    """Send a GET in a thread; the returned function joins it and gives the response."""
    responses: list[TestResponse] = []
    thread = threading.Thread(
        target=lambda: responses.append(client.get(url, headers=headers)), daemon=True
    )
    thread.start()

    def result() -> TestResponse:
        thread.join(JOIN_SECONDS)
        assert not thread.is_alive(), "the long-poll was never answered"
        return responses[0]

    return result


def test_long_poll_answers_when_another_process_promotes(
    make_app: Callable[..., Flask],
    registry: ModelRegistry,
    versions: list[str],
    store_path: Path,
) -> None:
    catalog = RecordingCatalog(registry, "production", 0.05, watch=["loan"])
    client = make_app(catalog, max_wait_seconds=LONG_WAIT).test_client()
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[0]
    pending = _in_thread(
        client, f"/v1/models/loan/current?wait={LONG_WAIT}", {"If-None-Match": f'"{versions[0]}"'}
    )
    # Promote only once the request is held: then only the poll thread waking it answers it.
    catalog.wait_until_held()
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
        client, f"/v1/models/loan/current?wait={LONG_WAIT}", {"If-None-Match": f'"{versions[0]}"'}
    )
    response = pending()
    assert response.status_code == 304
    assert response.headers["ETag"] == f'"{versions[0]}"'


def test_long_poll_with_a_stale_version_answers_at_once(
    client: FlaskClient, versions: list[str]
) -> None:
    pending = _in_thread(
        client, f"/v1/models/loan/current?wait={LONG_WAIT}", {"If-None-Match": f'"{versions[1]}"'}
    )
    response = pending()
    assert response.status_code == 200
    assert json_of(response)["version"] == versions[0]


def test_long_polls_over_the_limit_are_answered_at_once(
    make_app: Callable[..., Flask], versions: list[str], registry: ModelRegistry
) -> None:
    catalog = RecordingCatalog(registry, "production", 0.05)
    app = make_app(catalog, max_long_polls=1, max_wait_seconds=LONG_WAIT)
    known = {"If-None-Match": f'"{versions[0]}"'}
    url = f"/v1/models/loan/current?wait={LONG_WAIT}"
    held = _in_thread(app.test_client(), url, known)
    catalog.wait_until_held()
    slots = get_state(app, ModelServerState).long_polls
    assert not slots.acquire(blocking=False)  # the held request has the one slot
    client = app.test_client()

    second = _in_thread(client, url, known)()
    assert second.status_code == 304  # as if wait=0: the one slot is taken
    assert second.headers["ETag"] == f'"{versions[0]}"'
    stale = _in_thread(client, url, {"If-None-Match": f'"{versions[1]}"'})()
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


def test_stopping_the_catalog_releases_held_long_polls(
    make_app: Callable[..., Flask], registry: ModelRegistry, versions: list[str]
) -> None:
    catalog = RecordingCatalog(registry, "production", 0.05, watch=["loan"])
    app = make_app(catalog, max_wait_seconds=LONG_WAIT)
    pending = _in_thread(
        app.test_client(),
        f"/v1/models/loan/current?wait={LONG_WAIT}",
        {"If-None-Match": f'"{versions[0]}"'},
    )
    catalog.wait_until_held()
    catalog.stop()
    response = pending()
    assert response.status_code == 304
    assert response.headers["ETag"] == f'"{versions[0]}"'
