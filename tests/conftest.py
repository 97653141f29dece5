"""Shared fixtures: a clean environment for every test and small real artifacts."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from loanapp.request_records import RECORDER
from loanapp.store.local import LocalFolderStore
from loanapp.store.registry import ModelRegistry
from loanapp.training.train import TrainingResult
from tests.factories import rebuild, train_small

# One SeaweedFS server for the whole session, for the S3 backend's tests.
pytest_plugins = ["tests.s3_fixtures"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LOANAPP_* setting and no GRANIAN_* server option leaks in from the machine."""
    for name in list(os.environ):
        if name.startswith(("LOANAPP_", "GRANIAN_")):
            monkeypatch.delenv(name)
    # An app built in a test records no decisions in the working folder; the tests of the
    # prediction log, and the services the tests start, name a folder of their own.
    monkeypatch.setenv("LOANAPP_PREDICTION_LOG", "off")


@pytest.fixture(autouse=True)
def _signal_handling_restored() -> Iterator[None]:
    """A test that imports a wsgi module (it sets a SIGTERM handler) leaves none behind."""
    set_handler, sigterm = signal.signal, signal.getsignal(signal.SIGTERM)
    yield
    signal.signal = set_handler
    signal.signal(signal.SIGTERM, sigterm)


@pytest.fixture(autouse=True)
def _requests_recorded_within_their_test() -> Iterator[None]:
    """The requests of an app built in a test are counted and logged before the test ends, not
    a quarter second later by the records thread, into whatever output the next test captures."""
    yield
    RECORDER.drain()


@pytest.fixture(scope="session")
def logreg() -> TrainingResult:
    """A logistic-regression artifact trained on a small sample."""
    return train_small("logreg")


@pytest.fixture(scope="session")
def gbm() -> TrainingResult:
    """A gradient-boosting artifact trained on a small sample."""
    return train_small("gbm")


@pytest.fixture(scope="session")
def baseline() -> TrainingResult:
    """The prior-only model trained on the same sample and folds as `logreg`."""
    return train_small("baseline")


@pytest.fixture(scope="session")
def second_logreg(logreg: TrainingResult) -> bytes:
    """Another version of the same model: same estimator, different metadata, so another hash."""
    return rebuild(logreg.artifact, name="loan", model_type="logreg-copy")


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    """A registry over an empty store in a temporary folder."""
    return ModelRegistry(LocalFolderStore(tmp_path / "store"))
