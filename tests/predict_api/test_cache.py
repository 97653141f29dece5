"""The predict API's local cache keeps only verified bytes, survives a damaged file, and keeps the
last version served apart for each model server followed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from loanapp.artifacts import compute_version
from loanapp.errors import ArtifactIntegrityError
from loanapp.predict_api.cache import ArtifactCache, normalise_model_server_url
from loanapp.training.train import TrainingResult

SERVER_URL = "http://model-server.test:8001"
OTHER_SERVER_URL = "http://other-model-server.test:8001"


def test_saves_and_loads_the_last_version(tmp_path: Path, logreg: TrainingResult) -> None:
    cache = ArtifactCache(tmp_path, SERVER_URL)
    assert cache.load_last("loan") is None
    cache.save("loan", logreg.version, logreg.artifact)
    assert cache.load_last("loan") == (logreg.version, logreg.artifact)


def test_refuses_to_save_unverified_bytes(tmp_path: Path, logreg: TrainingResult) -> None:
    with pytest.raises(ArtifactIntegrityError):
        ArtifactCache(tmp_path, SERVER_URL).save("loan", logreg.version, logreg.artifact + b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_cached_file_is_ignored(tmp_path: Path, logreg: TrainingResult) -> None:
    cache = ArtifactCache(tmp_path, SERVER_URL)
    cache.save("loan", logreg.version, logreg.artifact)
    (tmp_path / logreg.version).write_bytes(b"damaged")
    assert cache.load_last("loan") is None


def test_keeps_a_bounded_number_of_versions(
    tmp_path: Path, logreg: TrainingResult, second_logreg: bytes, gbm: TrainingResult
) -> None:
    cache = ArtifactCache(tmp_path, SERVER_URL, keep_versions=2)
    for data in (logreg.artifact, second_logreg, gbm.artifact):
        cache.save("loan", compute_version(data), data)
    kept = {p.name for p in tmp_path.iterdir() if len(p.name) == 64}
    assert len(kept) == 2
    assert gbm.version in kept
    assert cache.load_last("loan") == (gbm.version, gbm.artifact)


def test_two_model_servers_sharing_a_folder_keep_their_own_last_version(
    tmp_path: Path, logreg: TrainingResult, gbm: TrainingResult
) -> None:
    ours, theirs = ArtifactCache(tmp_path, SERVER_URL), ArtifactCache(tmp_path, OTHER_SERVER_URL)
    ours.save("loan", logreg.version, logreg.artifact)
    assert theirs.load_last("loan") is None  # never another deployment's model
    theirs.save("loan", gbm.version, gbm.artifact)
    assert ours.load_last("loan") == (logreg.version, logreg.artifact)
    assert theirs.load_last("loan") == (gbm.version, gbm.artifact)
    # The bytes are content-addressed: one file per version, whoever saved it.
    assert {p.name for p in tmp_path.iterdir() if p.is_file()} == {logreg.version, gbm.version}


def test_eviction_keeps_the_version_each_model_server_last_served(
    tmp_path: Path, logreg: TrainingResult, second_logreg: bytes, gbm: TrainingResult
) -> None:
    theirs = ArtifactCache(tmp_path, OTHER_SERVER_URL, keep_versions=1)
    theirs.save("loan", logreg.version, logreg.artifact)
    ours = ArtifactCache(tmp_path, SERVER_URL, keep_versions=1)
    for data in (second_logreg, gbm.artifact):
        ours.save("loan", compute_version(data), data)
    assert theirs.load_last("loan") == (logreg.version, logreg.artifact)
    assert ours.load_last("loan") == (gbm.version, gbm.artifact)
    assert not (tmp_path / compute_version(second_logreg)).exists()


@pytest.mark.parametrize(
    "spelling",
    [
        "http://model-server.test:8001/",
        "HTTP://Model-Server.TEST:8001",
        " http://model-server.test:8001 ",
        "http://user:password@model-server.test:8001",
    ],
)
def test_one_model_server_written_differently_has_one_last_version(
    tmp_path: Path, logreg: TrainingResult, spelling: str
) -> None:
    ArtifactCache(tmp_path, SERVER_URL).save("loan", logreg.version, logreg.artifact)
    assert ArtifactCache(tmp_path, spelling).load_last("loan") == (logreg.version, logreg.artifact)


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("http://Model-Server:80/", "http://model-server"),
        ("https://model-server:443/api/", "https://model-server/api"),
        ("http://model-server:8443", "http://model-server:8443"),
        ("http://[::1]:8001", "http://[::1]:8001"),
        ("http://model-server/?wait=1#x", "http://model-server"),
        ("http://model-server:port", "http://model-server:port"),
    ],
)
def test_model_server_urls_are_normalised(url: str, normalised: str) -> None:
    assert normalise_model_server_url(url) == normalised


def test_a_pointer_of_the_old_layout_is_ignored(
    tmp_path: Path, logreg: TrainingResult, caplog: pytest.LogCaptureFixture
) -> None:
    # As earlier releases left it: the artifact and `<name>.current`, with no model server named.
    (tmp_path / logreg.version).write_bytes(logreg.artifact)
    (tmp_path / "loan.current").write_text(logreg.version)
    with caplog.at_level(logging.INFO, logger="loanapp.predict_api.cache"):
        assert ArtifactCache(tmp_path, SERVER_URL).load_last("loan") is None
    assert [r.getMessage() for r in caplog.records] == [
        f"ignoring {tmp_path / 'loan.current'}: written before the cache was kept per model server"
    ]
    assert (tmp_path / "loan.current").read_text() == logreg.version  # left for older releases
