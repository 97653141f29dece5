"""The model server's endpoints in registry mode, over a real store."""

from __future__ import annotations

import importlib
import io
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from loanapp.artifacts import compute_version
from loanapp.model_server.app import create_app
from loanapp.model_server.catalog import RegistryCatalog
from loanapp.model_server.state import ModelServerState
from loanapp.signing import generate_key_pair, load_private_key, sign_version
from loanapp.store.registry import ModelRegistry
from loanapp.training.train import TrainingResult
from loanapp.web import get_state
from tests.factories import MALFORMED, UNLOADABLE, rebuild
from tests.model_server.conftest import AUTH, TOKEN, json_of


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert json_of(response) == {"status": "ok"}


def test_readyz_ready_with_catalog_detail(client: FlaskClient, versions: list[str]) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = json_of(response)
    assert body["status"] == "ready"
    assert body["mode"] == "registry"
    assert body["version"] == versions[0]
    assert body["current"] == {"loan": versions[0]}
    assert body["store_ok"] is True


def test_readyz_not_ready_without_a_current_version(
    make_app: Callable[..., Flask], registry: ModelRegistry, logreg: TrainingResult
) -> None:
    registry.publish(logreg.artifact, actor="alice")  # published, never promoted
    response = make_app().test_client().get("/readyz")
    assert response.status_code == 503
    assert json_of(response)["status"] == "not ready"
    assert "has no alias 'production'" in json_of(response)["detail"]


def test_list_models(client: FlaskClient) -> None:
    assert json_of(client.get("/v1/models")) == {"models": ["loan"]}


def test_current_version_with_etag(client: FlaskClient, versions: list[str]) -> None:
    response = client.get("/v1/models/loan/current")
    assert response.status_code == 200
    assert json_of(response) == {"name": "loan", "alias": "production", "version": versions[0]}
    assert response.headers["ETag"] == f'"{versions[0]}"'
    assert response.headers["Cache-Control"] == "no-cache"


def test_current_answers_304_when_the_client_knows_it(
    client: FlaskClient, versions: list[str]
) -> None:
    same = client.get("/v1/models/loan/current", headers={"If-None-Match": f'"{versions[0]}"'})
    assert same.status_code == 304
    assert same.data == b""
    assert same.headers["ETag"] == f'"{versions[0]}"'
    other = client.get("/v1/models/loan/current", headers={"If-None-Match": f'"{versions[1]}"'})
    assert other.status_code == 200
    assert json_of(other)["version"] == versions[0]


@pytest.mark.parametrize(
    ("path", "status", "error_type", "message"),
    [
        ("/v1/models/nope/current", 404, "ModelNotFoundError", "no model named 'nope'"),
        (
            "/v1/models/Bad%20Name/current",
            400,
            "InvalidInputError",
            "invalid model name 'Bad Name'",
        ),
        (
            "/v1/models/loan/current?wait=soon",
            400,
            "InvalidInputError",
            "wait must be a number of seconds >= 0",
        ),
        ("/v1/models/loan/current?wait=-1", 400, "InvalidInputError", "got '-1'"),
        ("/v1/models/loan/current?wait=nan", 400, "InvalidInputError", "got 'nan'"),
    ],
)
def test_current_errors(
    client: FlaskClient, path: str, status: int, error_type: str, message: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert json_of(response)["type"] == error_type
    assert message in json_of(response)["error"]


def test_current_404_when_alias_never_set(
    make_app: Callable[..., Flask], registry: ModelRegistry, logreg: TrainingResult
) -> None:
    registry.publish(logreg.artifact, actor="alice")
    response = make_app().test_client().get("/v1/models/loan/current")
    assert response.status_code == 404
    assert json_of(response)["type"] == "AliasNotFoundError"


def test_alias_record(client: FlaskClient, versions: list[str]) -> None:
    body = json_of(client.get("/v1/models/loan/aliases/production"))
    assert body["version"] == versions[0]
    assert [(c["action"], c["version"], c["by"]) for c in body["history"]] == [
        ("promote", versions[0], "alice")
    ]
    missing = client.get("/v1/models/loan/aliases/staging")
    assert missing.status_code == 404
    assert json_of(missing) == {
        "error": "model 'loan' has no alias 'staging'; promote a version first",
        "type": "AliasNotFoundError",
    }


def test_list_versions_summaries(
    client: FlaskClient, versions: list[str], logreg: TrainingResult
) -> None:
    summaries = json_of(client.get("/v1/models/loan/versions"))["versions"]
    assert [s["version"] for s in summaries] == versions
    assert summaries[1]["model_type"] == "logreg-copy"
    assert summaries[0]["published_by"] == "alice"
    assert summaries[0]["holdout_roc_auc"] == logreg.metadata.metrics.holdout["roc_auc"]
    assert summaries[0]["aliases"] == ["production"]
    assert summaries[1]["aliases"] == []
    assert set(summaries[0]) == {
        "version",
        "name",
        "size",
        "published_at",
        "published_by",
        "model_type",
        "created_at",
        "cv_roc_auc",
        "holdout_roc_auc",
        "threshold",
        "aliases",
        "signed_by",
    }


def test_get_version_by_prefix(client: FlaskClient, versions: list[str]) -> None:
    body = json_of(client.get(f"/v1/models/loan/versions/{versions[1][:8]}"))
    assert body["version"] == versions[1]
    assert body["metadata"]["model_type"] == "logreg-copy"
    too_short = client.get(f"/v1/models/loan/versions/{versions[1][:5]}")
    assert too_short.status_code == 400
    assert json_of(too_short)["type"] == "InvalidInputError"
    assert "at least 6 of its leading hex digits" in json_of(too_short)["error"]
    unknown = "0" * 64
    missing = client.get(f"/v1/models/loan/versions/{unknown}")
    assert missing.status_code == 404
    assert json_of(missing) == {
        "error": f"model 'loan' has no version '{unknown}'",
        "type": "VersionNotFoundError",
    }


def test_artifact_download_and_304(
    client: FlaskClient, versions: list[str], logreg: TrainingResult
) -> None:
    url = f"/v1/models/loan/versions/{versions[0]}/artifact"
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == logreg.artifact
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Length"] == str(len(logreg.artifact))
    assert response.headers["ETag"] == f'"{versions[0]}"'
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    cached = client.get(url, headers={"If-None-Match": f'"{versions[0]}"'})
    assert cached.status_code == 304
    assert cached.data == b""
    assert cached.headers["ETag"] == f'"{versions[0]}"'


def test_artifact_needs_a_full_version_of_this_model(
    client: FlaskClient, versions: list[str], registry: ModelRegistry, logreg: TrainingResult
) -> None:
    other = registry.publish(rebuild(logreg.artifact, name="other"), actor="a").version
    prefix = client.get(f"/v1/models/loan/versions/{versions[0][:10]}/artifact")
    assert prefix.status_code == 400
    assert "64 lowercase hex digits" in json_of(prefix)["error"]
    assert json_of(prefix)["type"] == "InvalidInputError"
    foreign = client.get(f"/v1/models/loan/versions/{other}/artifact")
    assert foreign.status_code == 404
    assert json_of(foreign) == {
        "error": f"model 'loan' has no version '{other}'",
        "type": "VersionNotFoundError",
    }
    assert client.get(f"/v1/models/other/versions/{other}/artifact").status_code == 200


def test_artifact_with_changed_bytes_in_store_is_refused(
    client: FlaskClient, versions: list[str], store_path: Path
) -> None:
    blob = store_path / "blobs" / "sha256" / versions[1]
    tampered = bytearray(blob.read_bytes())
    tampered[-1] ^= 0xFF
    blob.write_bytes(bytes(tampered))
    response = client.get(f"/v1/models/loan/versions/{versions[1]}/artifact")
    assert response.status_code == 422
    assert json_of(response)["type"] == "ArtifactIntegrityError"
    assert f"expected sha256 {versions[1]}" in json_of(response)["error"]
    assert compute_version(bytes(tampered)) in json_of(response)["error"]


WRITES = [
    (
        "post",
        "/v1/models/loan/versions",
        {"data": b"x", "content_type": "application/octet-stream"},
    ),
    ("put", "/v1/models/loan/aliases/production", {"json": {"version": "abcdef"}}),
    ("post", "/v1/models/loan/aliases/production/rollback", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), WRITES)
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("", id="empty-header"),
        pytest.param("Bearer wrong-token", id="wrong-token"),
        pytest.param(f"Basic {TOKEN}", id="basic-scheme"),
        pytest.param(f"Bearer {TOKEN}x", id="token-and-more"),
        # An empty token never matches, whatever the configured one.
        pytest.param("Bearer ", id="bearer-empty-token"),
        pytest.param("Bearer", id="bearer-no-token"),
        pytest.param("Bearer    ", id="bearer-blank-token"),
        pytest.param(TOKEN, id="token-without-scheme"),
    ],
)
def test_writes_need_the_admin_token(
    client: FlaskClient,
    store_path: Path,
    method: str,
    path: str,
    kwargs: dict[str, object],
    authorization: str | None,
) -> None:
    before = _files(store_path)
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = getattr(client, method)(path, headers=headers, **kwargs)
    assert response.status_code == 401
    assert json_of(response) == {
        "error": "this endpoint needs 'Authorization: Bearer <LOANAPP_ADMIN_TOKEN>'",
        "type": "AuthenticationError",
    }
    assert _files(store_path) == before


@pytest.mark.parametrize(("method", "path", "kwargs"), WRITES)
def test_writes_are_off_without_a_configured_token(
    make_app: Callable[..., Flask],
    versions: list[str],
    method: str,
    path: str,
    kwargs: dict[str, object],
) -> None:
    client = make_app(admin_token=None).test_client()
    response = getattr(client, method)(path, headers=AUTH, **kwargs)
    assert response.status_code == 403
    assert json_of(response)["type"] == "AdminDisabledError"
    assert "LOANAPP_ADMIN_TOKEN" in json_of(response)["error"]


@pytest.mark.parametrize("corrupt", [b"not an artifact", b""], ids=["junk", "empty"])
def test_upload_of_a_bad_artifact_is_refused_and_stores_nothing(
    client: FlaskClient, versions: list[str], store_path: Path, corrupt: bytes
) -> None:
    before = _files(store_path)
    response = client.post(
        "/v1/models/loan/versions",
        data=corrupt,
        content_type="application/octet-stream",
        headers=AUTH,
    )
    assert response.status_code == 422
    assert json_of(response)["type"] == "ArtifactFormatError"
    assert _files(store_path) == before


def test_upload_of_a_truncated_artifact_is_refused(
    client: FlaskClient, versions: list[str], logreg: TrainingResult, store_path: Path
) -> None:
    before = _files(store_path)
    truncated = logreg.artifact[: len(logreg.artifact) // 2]
    response = client.post(
        "/v1/models/loan/versions",
        data=truncated,
        content_type="application/octet-stream",
        headers=AUTH,
    )
    assert response.status_code == 422
    assert json_of(response)["type"] == "ArtifactFormatError"
    assert json_of(response)["error"].startswith("not a valid loanapp artifact: ")
    assert _files(store_path) == before


@pytest.mark.parametrize("problem", UNLOADABLE)
def test_upload_of_a_well_formed_artifact_whose_model_does_not_load_is_refused(
    client: FlaskClient,
    versions: list[str],
    logreg: TrainingResult,
    store_path: Path,
    problem: str,
) -> None:
    make, error, message = UNLOADABLE[problem]
    artifact = make(logreg.artifact)
    before = _files(store_path)
    response = client.post(
        "/v1/models/loan/versions?alias=production",
        data=artifact,
        content_type="application/octet-stream",
        headers=AUTH,
    )
    assert response.status_code == 422
    assert json_of(response)["type"] == error.__name__
    assert json_of(response)["error"].startswith(message)
    assert _files(store_path) == before  # no blob, no version record, no alias change
    version = compute_version(artifact)
    assert json_of(client.get(f"/v1/models/loan/versions/{version}"))["type"] == (
        "VersionNotFoundError"
    )
    assert [s["version"] for s in json_of(client.get("/v1/models/loan/versions"))["versions"]] == (
        versions
    )
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[0]


@pytest.mark.parametrize("case", MALFORMED)
def test_upload_of_a_malformed_artifact_is_422_and_stores_nothing(
    client: FlaskClient,
    versions: list[str],
    logreg: TrainingResult,
    store_path: Path,
    case: str,
) -> None:
    make, message = MALFORMED[case]
    before = _files(store_path)
    response = client.post(
        "/v1/models/loan/versions?alias=production",
        data=make(logreg.artifact),
        content_type="application/octet-stream",
        headers=AUTH,
    )
    assert response.status_code == 422
    assert json_of(response)["type"] == "ArtifactFormatError"
    assert json_of(response)["error"].startswith(message)
    assert _files(store_path) == before
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[0]


def _damage(store_path: Path, version: str) -> str:
    """Change one byte of a stored blob behind the server's back; the hash of the new bytes."""
    blob = store_path / "blobs" / "sha256" / version
    tampered = bytearray(blob.read_bytes())
    tampered[len(tampered) // 2] ^= 0x01
    blob.write_bytes(bytes(tampered))
    return compute_version(bytes(tampered))


def test_promote_to_a_version_with_damaged_bytes_is_422(
    client: FlaskClient, versions: list[str], store_path: Path
) -> None:
    actual = _damage(store_path, versions[1])
    response = client.put(
        "/v1/models/loan/aliases/production", json={"version": versions[1]}, headers=AUTH
    )
    assert response.status_code == 422
    assert json_of(response) == {
        "error": f"cannot promote {versions[1]} to 'production': its stored bytes hash to {actual}",
        "type": "DamagedVersionError",
    }
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[0]


def test_promote_to_a_version_whose_bytes_are_gone_is_422(
    client: FlaskClient, versions: list[str], store_path: Path
) -> None:
    (store_path / "blobs" / "sha256" / versions[1]).unlink()
    response = client.put(
        "/v1/models/loan/aliases/production", json={"version": versions[1][:8]}, headers=AUTH
    )
    assert response.status_code == 422
    assert json_of(response) == {
        "error": f"cannot promote {versions[1]} to 'production': its stored bytes are missing "
        "from the store",
        "type": "DamagedVersionError",
    }
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[0]


def test_rollback_to_a_version_with_damaged_bytes_is_422_and_names_the_intact_ones(
    client: FlaskClient, versions: list[str], store_path: Path
) -> None:
    promoted = client.put(
        "/v1/models/loan/aliases/production", json={"version": versions[1]}, headers=AUTH
    )
    assert promoted.status_code == 200
    actual = _damage(store_path, versions[0])
    response = client.post("/v1/models/loan/aliases/production/rollback", headers=AUTH)
    assert response.status_code == 422
    assert json_of(response) == {
        "error": f"cannot roll back 'production' to {versions[0]}: its stored bytes hash to "
        f"{actual}; versions still intact: {versions[1]}",
        "type": "DamagedVersionError",
    }
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[1]


def test_upload_publishes_and_optionally_promotes(
    client: FlaskClient, versions: list[str], logreg: TrainingResult
) -> None:
    third = rebuild(logreg.artifact, model_type="logreg-third")
    response = client.post(
        "/v1/models/loan/versions?alias=production",
        data=third,
        content_type="application/octet-stream",
        headers=AUTH | {"X-Loanapp-Actor": "carol"},
    )
    assert response.status_code == 201
    version = compute_version(third)
    assert json_of(response)["version"] == version
    assert json_of(response)["published_by"] == "carol"
    assert response.headers["Location"] == f"/v1/models/loan/versions/{version}"
    listed = json_of(client.get("/v1/models/loan/versions"))["versions"]
    assert [s["version"] for s in listed] == [*versions, version]
    assert json_of(client.get("/v1/models/loan/current"))["version"] == version
    history = json_of(client.get("/v1/models/loan/aliases/production"))["history"]
    assert history[-1]["by"] == "carol"
    assert client.get(f"/v1/models/loan/versions/{version}/artifact").data == third


def test_upload_without_alias_does_not_promote(
    client: FlaskClient, versions: list[str], logreg: TrainingResult
) -> None:
    third = rebuild(logreg.artifact, model_type="logreg-third")
    response = client.post(
        "/v1/models/loan/versions",
        data=third,
        content_type="application/octet-stream",
        headers=AUTH,
    )
    assert response.status_code == 201
    assert json_of(response)["published_by"] == "api@127.0.0.1"
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[0]


@pytest.mark.parametrize(
    ("content_type", "query", "error_type", "message"),
    [
        (
            "application/json",
            "",
            "MalformedRequestError",
            "Content-Type must be application/octet-stream",
        ),
        (
            "application/octet-stream",
            "?alias=Bad%20Alias",
            "InvalidInputError",
            "invalid alias 'Bad Alias'",
        ),
    ],
)
def test_upload_request_errors(
    client: FlaskClient,
    versions: list[str],
    logreg: TrainingResult,
    store_path: Path,
    content_type: str,
    query: str,
    error_type: str,
    message: str,
) -> None:
    before = _files(store_path)
    third = rebuild(logreg.artifact, model_type="logreg-third")
    response = client.post(
        f"/v1/models/loan/versions{query}", data=third, content_type=content_type, headers=AUTH
    )
    assert response.status_code == 400
    assert json_of(response)["type"] == error_type
    assert message in json_of(response)["error"]
    assert _files(store_path) == before


def test_upload_over_the_size_limit_is_413(
    make_app: Callable[..., Flask], versions: list[str], logreg: TrainingResult
) -> None:
    client = make_app(max_upload_bytes=1000).test_client()
    response = client.post(
        "/v1/models/loan/versions",
        data=logreg.artifact,
        content_type="application/octet-stream",
        headers=AUTH,
    )
    assert response.status_code == 413
    assert json_of(response) == {
        "error": f"request body in bytes is {len(logreg.artifact)}, more than the limit of 1000",
        "type": "PayloadTooLargeError",
    }


def test_promote_and_rollback_record_the_actor(
    client: FlaskClient, versions: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="loanapp.model_server.views")
    promoted = client.put(
        "/v1/models/loan/aliases/production",
        json={"version": versions[1][:8]},
        headers=AUTH | {"X-Loanapp-Actor": "dave"},
    )
    assert promoted.status_code == 200
    assert json_of(promoted)["version"] == versions[1]
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[1]
    rolled_back = client.post("/v1/models/loan/aliases/production/rollback", headers=AUTH)
    assert rolled_back.status_code == 200
    assert json_of(rolled_back)["version"] == versions[0]
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[0]
    history = json_of(client.get("/v1/models/loan/aliases/production"))["history"]
    assert [(c["action"], c["version"], c["by"]) for c in history] == [
        ("promote", versions[0], "alice"),
        ("promote", versions[1], "dave"),
        ("rollback", versions[0], "api@127.0.0.1"),
    ]
    writes = [r.getMessage() for r in caplog.records if r.name == "loanapp.model_server.views"]
    assert writes[0].endswith(f"dave promoted loan alias production to version {versions[1]}")
    assert writes[1].endswith(
        f"api@127.0.0.1 rolled back loan alias production to version {versions[0]}"
    )


def test_rollback_with_nothing_before_is_409(client: FlaskClient, versions: list[str]) -> None:
    response = client.post("/v1/models/loan/aliases/production/rollback", headers=AUTH)
    assert response.status_code == 409
    assert json_of(response)["type"] == "NothingToRollBackError"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, 'body must be {"version"'),
        ({"version": 7}, 'body must be {"version"'),
        (["abc"], 'body must be {"version"'),
    ],
)
def test_promote_body_errors(client: FlaskClient, body: object, message: str) -> None:
    response = client.put("/v1/models/loan/aliases/production", json=body, headers=AUTH)
    assert response.status_code == 400
    assert json_of(response)["type"] == "MalformedRequestError"
    assert message in json_of(response)["error"]


def test_actor_header_is_limited(client: FlaskClient, versions: list[str]) -> None:
    response = client.put(
        "/v1/models/loan/aliases/production",
        json={"version": versions[1]},
        headers=AUTH | {"X-Loanapp-Actor": "x" * 101},
    )
    assert response.status_code == 400
    assert json_of(response)["type"] == "MalformedRequestError"
    assert "longer than 100 characters" in json_of(response)["error"]
    assert json_of(client.get("/v1/models/loan/current"))["version"] == versions[0]


def test_create_app_reads_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, store_path: Path, versions: list[str]
) -> None:
    monkeypatch.setenv("LOANAPP_STORE", str(store_path))
    monkeypatch.setenv("LOANAPP_STORE_POLL_SECONDS", "0.05")
    app = create_app()
    try:
        assert isinstance(get_state(app, ModelServerState).catalog, RegistryCatalog)
        assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024 * 1024
        current = app.test_client().get("/v1/models/loan/current")
        assert json_of(current)["version"] == versions[0]
        # No token in the environment: writes are off.
        refused = app.test_client().post("/v1/models/loan/aliases/production/rollback")
        assert refused.status_code == 403
        assert json_of(refused)["type"] == "AdminDisabledError"
    finally:
        get_state(app, ModelServerState).catalog.stop()


def test_wsgi_module_builds_the_app_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, store_path: Path, versions: list[str]
) -> None:
    monkeypatch.setenv("LOANAPP_STORE", str(store_path))
    monkeypatch.delitem(sys.modules, "loanapp.model_server.wsgi", raising=False)
    wsgi = importlib.import_module("loanapp.model_server.wsgi")
    try:
        assert json_of(wsgi.app.test_client().get("/readyz"))["version"] == versions[0]
    finally:
        get_state(wsgi.app, ModelServerState).catalog.stop()
        del sys.modules["loanapp.model_server.wsgi"]


def test_a_chunked_upload_over_the_size_limit_is_413_not_cut(
    make_app: Callable[..., Flask], versions: list[str], logreg: TrainingResult
) -> None:
    client = make_app(max_upload_bytes=1000).test_client()
    response = client.post(
        "/v1/models/loan/versions",
        input_stream=io.BytesIO(logreg.artifact),  # no Content-Length: framed as a server would
        content_type="application/octet-stream",
        headers=AUTH | {"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert json_of(response) == {
        "error": "request body in bytes is more than the limit of 1000",
        "type": "PayloadTooLargeError",
    }


def test_signatures_of_a_version_are_served(
    client: FlaskClient, registry: ModelRegistry, versions: list[str], tmp_path: Path
) -> None:
    key = load_private_key(generate_key_pair(tmp_path / "keys")[0])
    signature = sign_version(versions[0], key)
    registry.signatures.add("loan", versions[0], signature)
    body = json_of(client.get(f"/v1/models/loan/versions/{versions[0]}/signatures"))
    assert body == {"name": "loan", "version": versions[0], "signatures": [signature.model_dump()]}
    unsigned = json_of(client.get(f"/v1/models/loan/versions/{versions[1]}/signatures"))
    assert unsigned["signatures"] == []
    missing = client.get(f"/v1/models/loan/versions/{'0' * 64}/signatures")
    assert missing.status_code == 404
    assert json_of(missing)["type"] == "VersionNotFoundError"
    short = client.get(f"/v1/models/loan/versions/{versions[0][:12]}/signatures")
    assert short.status_code == 400
    assert json_of(short)["type"] == "InvalidInputError"
