"""Predict-API fixtures: the app with a real small model in its slot (no model server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from loanapp.predict_api.app import create_app
from loanapp.predict_api.serving_model import load_serving_model
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.state import PredictApiState
from loanapp.settings import PredictApiSettings
from loanapp.training.train import TrainingResult
from loanapp.web import get_state


@pytest.fixture
def settings(tmp_path: Path) -> PredictApiSettings:
    """Settings with a small batch limit and body limit, and a cache in tmp_path."""
    return PredictApiSettings(
        cache_dir=tmp_path / "cache", max_batch_rows=50, max_body_bytes=64 * 1024
    )


@pytest.fixture
def empty_app(settings: PredictApiSettings) -> Flask:
    """The app before any model is loaded."""
    return create_app(settings, follow=False)


@pytest.fixture
def app(empty_app: Flask, logreg: TrainingResult) -> Flask:
    """The app serving the small logistic-regression model."""
    slot: ModelSlot = get_state(empty_app, PredictApiState).slot
    slot.swap(load_serving_model(logreg.artifact, logreg.version, "test"))
    return empty_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the serving app."""
    return app.test_client()
