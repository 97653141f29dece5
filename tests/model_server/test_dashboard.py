"""The dashboard's pages, its writes and the fleet view, through the model server's app."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from loanapp.model_server.csrf import CSRF_COOKIE, CSRF_HEADER
from loanapp.store.registry import ModelRegistry
from loanapp.training.train import TrainingResult
from loanapp.worker_identity import WorkerReport
from tests.model_server.conftest import AUTH, json_of

READ_TOKEN = "read-token-0123456789abcdef"


def csrf_token(client: FlaskClient, page: str = "/ui") -> str:
    """Open a page, as a browser does, and read the CSRF token it carries."""
    html = client.get(page).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match is not None
    cookie = client.get_cookie(CSRF_COOKIE, path="/ui")
    assert cookie is not None
    assert cookie.value == match[1]
    return match[1]


def test_the_fleet_lists_the_workers_that_asked(client: FlaskClient, versions: list[str]) -> None:
    report = WorkerReport("api-1", 77, versions[0], None, "linear")
    assert client.get("/v1/models/loan/current", headers=report.to_headers()).status_code == 200
    client.get("/v1/models/loan/current", headers={"X-Loanapp-Worker": "not a name"})
    body = json_of(client.get("/v1/fleet"))
    assert body["answered_by"].endswith(f"/{os.getpid()}")
    assert body["partial"] is True
    [worker] = body["workers"]
    assert (worker["worker"], worker["version"], worker["status"]) == (
        "api-1/77",
        versions[0],
        "current",
    )


def test_a_worker_asking_for_an_unknown_model_is_not_listed(client: FlaskClient) -> None:
    headers = WorkerReport("api-1", 77).to_headers()
    assert client.get("/v1/models/nope/current", headers=headers).status_code == 404
    assert json_of(client.get("/v1/fleet"))["workers"] == []


def test_the_pages_show_the_registry(client: FlaskClient, versions: list[str]) -> None:
    index = client.get("/ui").get_data(as_text=True)
    assert "production" in index
    assert versions[0][:12] in index
    listing = client.get("/ui/models/loan").get_data(as_text=True)
    assert all(version[:12] in listing for version in versions)
    page = client.get(f"/ui/models/loan/versions/{versions[0]}").get_data(as_text=True)
    assert versions[0] in page
    assert "true positives" in page
    alias = client.get("/ui/models/loan/aliases/production").get_data(as_text=True)
    assert 'id="promote-form"' in alias
    assert "promote</strong> (revision 1)" in alias


def test_the_pages_are_locked_down(client: FlaskClient) -> None:
    response = client.get("/ui")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    script = client.get("/ui/static/dashboard.js")
    script.close()  # a file response: its file stays open until closed
    assert script.status_code == 200


def test_the_versions_sort_by_a_column(client: FlaskClient, versions: list[str]) -> None:
    def order(query: str) -> list[str]:
        html = client.get(f"/ui/models/loan?{query}").get_data(as_text=True)
        return re.findall(r'<tr data-version="([0-9a-f]{64})">', html)

    newest_first = order("")
    assert sorted(newest_first) == sorted(versions)
    assert order("sort=published_at&order=asc") == newest_first[::-1]
    assert order("sort=version&order=asc") == sorted(versions)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort=size", "sort must be one of published_at"),
        ("order=up", "order must be asc or desc, got 'up'"),
    ],
)
def test_a_bad_sort_is_a_clear_400(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/ui/models/loan?{query}")
    assert response.status_code == 400
    assert message in json_of(response)["error"]


def test_history_text_is_escaped(
    client: FlaskClient, registry: ModelRegistry, versions: list[str]
) -> None:
    registry.promote("loan", versions[1], actor="<script>alert(1)</script>")
    html = client.get("/ui/models/loan/aliases/production").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_write_needs_the_pages_csrf_token(
    client: FlaskClient, registry: ModelRegistry, versions: list[str]
) -> None:
    token = csrf_token(client)
    url = "/ui/models/loan/aliases/production/promote"
    body = {"version": versions[1]}
    for headers in ({}, {CSRF_HEADER: "x" * 43}):
        response = client.post(url, json=body, headers=AUTH | headers)
        assert response.status_code == 403
        assert "X-CSRF-Token" in json_of(response)["error"]
    assert registry.get_alias("loan").version == versions[0]
    response = client.post(url, json=body, headers=AUTH | {CSRF_HEADER: token})
    assert response.status_code == 200
    assert registry.get_alias("loan").version == versions[1]
    rollback = "/ui/models/loan/aliases/production/rollback"
    assert client.post(rollback, headers=AUTH | {CSRF_HEADER: token}).status_code == 200
    assert registry.get_alias("loan").version == versions[0]


def test_a_write_with_a_wrong_admin_token_changes_nothing(
    client: FlaskClient, registry: ModelRegistry, versions: list[str]
) -> None:
    token = csrf_token(client)
    response = client.post(
        "/ui/models/loan/aliases/production/promote",
        json={"version": versions[1]},
        headers={"Authorization": "Bearer wrong", CSRF_HEADER: token},
    )
    assert response.status_code == 401
    assert registry.get_alias("loan").version == versions[0]


def test_a_read_token_guards_the_pages_and_the_fleet(
    make_app: Callable[..., Flask], versions: list[str]
) -> None:
    client = make_app(ui_read_token=READ_TOKEN).test_client()
    for path in ("/ui", "/ui/models/loan", "/v1/fleet"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert "LOANAPP_UI_READ_TOKEN" in json_of(response)["error"]
    basic = base64.b64encode(f"anyone:{READ_TOKEN}".encode()).decode()
    assert client.get("/ui", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    bearer = {"Authorization": f"Bearer {READ_TOKEN}"}
    assert client.get("/v1/fleet", headers=bearer).status_code == 200
    wrong = base64.b64encode(b"anyone:wrong").decode()
    assert client.get("/ui", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    assert client.get("/ui", headers={"Authorization": "Basic %%%"}).status_code == 401
    # The JSON reads other than the fleet stay open, as before.
    assert client.get("/v1/models").status_code == 200


def test_the_page_shows_the_gates_refusal_and_a_forced_promotion(
    client: FlaskClient, registry: ModelRegistry, versions: list[str], baseline: TrainingResult
) -> None:
    worse = registry.publish(baseline.artifact, actor="alice").version
    token = csrf_token(client, "/ui/models/loan/aliases/production")
    url = "/ui/models/loan/aliases/production/promote"
    headers = AUTH | {CSRF_HEADER: token}

    refused = client.post(url, json={"version": worse}, headers=headers)
    assert refused.status_code == 409
    body = json_of(refused)
    assert body["error"].startswith(f"promotion refused: candidate {worse[:12]} ")
    assert "ΔAUC" in body["error"]
    assert (body["gate"]["why"], body["gate"]["candidate"]) == ("worse", worse)
    assert registry.get_alias("loan").version == versions[0]

    forced = client.post(
        url, json={"version": worse, "force": True, "reason": "compare live"}, headers=headers
    )
    assert forced.status_code == 200, forced.data
    assert registry.get_alias("loan").version == worse
    page = client.get("/ui/models/loan/aliases/production").get_data(as_text=True)
    newest = page.split('<li class="event', 2)[1]  # the timeline's first entry is the newest
    assert "<strong>forced promote</strong> (revision 2)" in newest
    assert "Reason: compare live" in newest
