"""Fixtures for the deployment files: parsed once per session, rendered overlays included."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from loanapp.model_server.app import create_app as create_model_server
from loanapp.model_server.state import ModelServerState
from loanapp.predict_api.app import create_app as create_predict_api
from loanapp.settings import ModelServerSettings, PredictApiSettings
from loanapp.web import get_state
from tests.deploy.manifests import (
    OVERLAYS,
    Image,
    Stage,
    image_of,
    load_compose,
    parse_dockerfile,
    render_overlay,
)

# Variables that configure a loanapp process besides LOANAPP_*; none may leak in from the machine.
FOREIGN_VARIABLES = ("MODEL_URI", "MODEL_SHA256", "MODEL_SERVER_URL")
# Prefixes of the same: the S3 client's variables, and granian's options (GRANIAN_WORKERS, ...).
FOREIGN_PREFIXES = ("AWS_", "GRANIAN_")


@pytest.fixture(autouse=True)
def _no_foreign_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The root conftest drops LOANAPP_*; these tests drop the other names settings read too."""
    for name in list(os.environ):
        if name in FOREIGN_VARIABLES or name.startswith(FOREIGN_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def stages() -> dict[str, Stage]:
    """The stages of deploy/Dockerfile."""
    return parse_dockerfile()


@pytest.fixture(scope="session")
def images(stages: dict[str, Stage]) -> dict[str, Image]:
    """The two service images, by target name (= service name)."""
    return {target: image_of(stages, target) for target in ("model-server", "predict-api")}


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """deploy/docker-compose.yml, loaded."""
    return load_compose()


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay rendered by kustomize, by overlay name."""
    return {name: render_overlay(path) for name, path in OVERLAYS.items()}


@pytest.fixture(scope="session")
def routes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, set[str]]]:
    """The GET routes of each service's Flask app, built with settings in temporary folders."""
    folder = tmp_path_factory.mktemp("routes")
    model_server = create_model_server(ModelServerSettings(store=str(folder / "store")))
    predict_api = create_predict_api(
        PredictApiSettings(cache_dir=folder / "cache", model_server_url="http://127.0.0.1:9"),
        follow=False,
    )
    try:
        yield {
            "model-server": _get_routes(model_server),
            "predict-api": _get_routes(predict_api),
        }
    finally:
        get_state(model_server, ModelServerState).catalog.stop()


def _get_routes(app: Flask) -> set[str]:
    return {rule.rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())}


@pytest.fixture
def environment_of(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Make exactly these variables the process's loanapp environment, for a settings check."""

    def apply(variables: dict[str, str]) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return apply
