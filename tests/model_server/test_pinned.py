"""Pinned mode: one artifact file, verified at start, served read-only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from loanapp.errors import ArtifactIntegrityError, InvalidInputError
from loanapp.model_server.pinned import PinnedCatalog
from loanapp.training.train import TrainingResult
from tests.model_server.conftest import AUTH, json_of


@pytest.fixture
def artifact_file(tmp_path: Path, logreg: TrainingResult) -> Path:
    """The logreg artifact as a file outside any store."""
    path = tmp_path / "pinned" / "loan.zip"
    path.parent.mkdir()
    path.write_bytes(logreg.artifact)
    return path


@pytest.fixture
def pinned_client(
    make_app: Callable[..., Flask], artifact_file: Path, logreg: TrainingResult
) -> FlaskClient:
    """A model server pinned to the artifact file (given as a file:// URI)."""
    app = make_app(model_uri=artifact_file.as_uri(), model_sha256=logreg.version)
    return app.test_client()


def test_pinned_serves_the_file(pinned_client: FlaskClient, logreg: TrainingResult) -> None:
    version = logreg.version
    current = pinned_client.get("/v1/models/loan/current")
    assert json_of(current) == {"name": "loan", "alias": "production", "version": version}
    assert current.headers["ETag"] == f'"{version}"'
    artifact = pinned_client.get(f"/v1/models/loan/versions/{version}/artifact")
    assert artifact.data == logreg.artifact
    assert json_of(pinned_client.get("/v1/models")) == {"models": ["loan"]}
    versions = json_of(pinned_client.get("/v1/models/loan/versions"))["versions"]
    assert [(v["version"], v["published_by"]) for v in versions] == [(version, "pinned")]
    assert json_of(pinned_client.get(f"/v1/models/loan/versions/{version[:8]}"))["size"] == len(
        logreg.artifact
    )
    alias = json_of(pinned_client.get("/v1/models/loan/aliases/production"))
    assert alias["version"] == version
    ready = pinned_client.get("/readyz")
    assert ready.status_code == 200
    assert json_of(ready)["mode"] == "pinned"
    assert json_of(ready)["version"] == version


@pytest.mark.parametrize(
    ("path", "status", "error_type", "message"),
    [
        ("/v1/models/other/current", 404, "ModelNotFoundError", "no model named 'other'"),
        (
            f"/v1/models/loan/versions/{'0' * 64}/artifact",
            404,
            "VersionNotFoundError",
            f"model 'loan' has no version '{'0' * 64}'",
        ),
        (
            f"/v1/models/loan/versions/{'0' * 64}",
            404,
            "VersionNotFoundError",
            f"model 'loan' has no version '{'0' * 64}'",
        ),
        ("/v1/models/loan/versions/abc", 400, "InvalidInputError", "'abc' is not a version"),
        (
            "/v1/models/loan/aliases/staging",
            404,
            "AliasNotFoundError",
            "model 'loan' has no alias 'staging'",
        ),
    ],
)
def test_pinned_answers_only_for_its_version(
    pinned_client: FlaskClient, path: str, status: int, error_type: str, message: str
) -> None:
    response = pinned_client.get(path)
    assert response.status_code == status
    assert json_of(response)["type"] == error_type
    assert json_of(response)["error"].startswith(message)


def test_pinned_long_poll_times_out(pinned_client: FlaskClient, logreg: TrainingResult) -> None:
    response = pinned_client.get(
        "/v1/models/loan/current?wait=0.2", headers={"If-None-Match": f'"{logreg.version}"'}
    )
    assert response.status_code == 304


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        (
            "post",
            "/v1/models/loan/versions",
            {"data": b"x", "content_type": "application/octet-stream"},
        ),
        ("put", "/v1/models/loan/aliases/production", {"json": {"version": "abcdef"}}),
        ("post", "/v1/models/loan/aliases/production/rollback", {}),
    ],
)
def test_pinned_refuses_writes(
    pinned_client: FlaskClient, method: str, path: str, kwargs: dict[str, object]
) -> None:
    response = getattr(pinned_client, method)(path, headers=AUTH, **kwargs)
    assert response.status_code == 409
    assert json_of(response)["type"] == "ConflictError"
    assert json_of(response)["error"].startswith("pinned mode: the model server serves MODEL_URI")
    assert "restart it with a new MODEL_URI and MODEL_SHA256" in json_of(response)["error"]


def test_wrong_hash_names_both(artifact_file: Path, logreg: TrainingResult) -> None:
    wrong = "0" * 64
    with pytest.raises(ArtifactIntegrityError) as caught:
        PinnedCatalog.from_uri(str(artifact_file), wrong)
    assert f"expected sha256 {wrong}, got sha256 {logreg.version}" in caught.value.message


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("{missing}", "no artifact file at {missing}"),
        ("file://{missing}", "no artifact file at {missing}"),
        ("{folder}", "cannot read {folder}"),
        ("s3://bucket/loan.zip", "unsupported MODEL_URI 's3://bucket/loan.zip'"),
    ],
)
def test_unreadable_model_uri(
    artifact_file: Path, logreg: TrainingResult, uri: str, message: str
) -> None:
    places = {"missing": artifact_file.with_name("gone.zip"), "folder": artifact_file.parent}
    with pytest.raises(InvalidInputError) as caught:
        PinnedCatalog.from_uri(uri.format(**places), logreg.version)
    assert message.format(**places) in caught.value.message


def test_malformed_expected_hash(artifact_file: Path) -> None:
    with pytest.raises(InvalidInputError, match="is not a SHA-256 version id"):
        PinnedCatalog.from_uri(str(artifact_file), "abc")
