"""The predict API's local cache keeps only verified bytes and survives a damaged file."""

from __future__ import annotations

from pathlib import Path

import pytest

from loanapp.artifacts import compute_version
from loanapp.errors import ArtifactIntegrityError
from loanapp.predict_api.cache import ArtifactCache
from loanapp.training.train import TrainingResult


def test_saves_and_loads_the_last_version(tmp_path: Path, logreg: TrainingResult) -> None:
    cache = ArtifactCache(tmp_path)
    assert cache.load_last("loan") is None
    cache.save("loan", logreg.version, logreg.artifact)
    assert cache.load_last("loan") == (logreg.version, logreg.artifact)


def test_refuses_to_save_unverified_bytes(tmp_path: Path, logreg: TrainingResult) -> None:
    with pytest.raises(ArtifactIntegrityError):
        ArtifactCache(tmp_path).save("loan", logreg.version, logreg.artifact + b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_cached_file_is_ignored(tmp_path: Path, logreg: TrainingResult) -> None:
    cache = ArtifactCache(tmp_path)
    cache.save("loan", logreg.version, logreg.artifact)
    (tmp_path / logreg.version).write_bytes(b"damaged")
    assert cache.load_last("loan") is None


def test_keeps_a_bounded_number_of_versions(
    tmp_path: Path, logreg: TrainingResult, second_logreg: bytes, gbm: TrainingResult
) -> None:
    cache = ArtifactCache(tmp_path, keep_versions=2)
    for data in (logreg.artifact, second_logreg, gbm.artifact):
        cache.save("loan", compute_version(data), data)
    kept = {p.name for p in tmp_path.iterdir() if len(p.name) == 64}
    assert len(kept) == 2
    assert gbm.version in kept
    assert cache.load_last("loan") == (gbm.version, gbm.artifact)
