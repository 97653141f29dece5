"""Tiny real models for tests: fitted on a few hundred rows of the shipped data, in seconds."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.preprocessing import FunctionTransformer

from loanapp.artifacts import (
    ArtifactMetadata,
    build_artifact,
    compute_version,
    load_model,
    read_compiled,
)
from loanapp.errors import (
    ArtifactBehaviourError,
    ArtifactError,
    ArtifactFormatError,
    IncompatibleArtifactError,
    UntrustedArtifactError,
)
from loanapp.training.data import Dataset, load_dataset
from loanapp.training.options import TrainingOptions
from loanapp.training.train import TrainingResult, train_model

SMALL_ROWS = 600


def small_dataset(rows: int = SMALL_ROWS, seed: int = 0) -> Dataset:
    """A stratified sample of the shipped data with both classes present."""
    full = load_dataset()
    generator = np.random.default_rng(seed)
    positives = np.flatnonzero(full.target == 1)
    negatives = np.flatnonzero(full.target == 0)
    take = np.sort(
        np.concatenate(
            [
                generator.choice(positives, rows // 10, replace=False),
                generator.choice(negatives, rows - rows // 10, replace=False),
            ]
        )
    )
    return Dataset(
        features=full.features.iloc[take].reset_index(drop=True),
        target=full.target[take],
        source="test sample",
        sha256=full.sha256,
    )


def train_small(model_type: Any = "logreg", **options: Any) -> TrainingResult:
    """Train on the small sample with 3 folds."""
    return train_model(small_dataset(), TrainingOptions(model_type=model_type, folds=3, **options))


def rebuild(artifact: bytes, estimator: Any = None, **metadata_updates: Any) -> bytes:
    """Artifact bytes with some metadata fields (and optionally the estimator) replaced.

    The compiled form is kept with the original estimator and dropped with a replaced one.
    """
    model = load_model(artifact, compute_version(artifact))
    compiled = read_compiled(artifact, model.metadata) if estimator is None else None
    updates = {"compiled": compiled.kind if compiled else None} | metadata_updates
    metadata = ArtifactMetadata.model_validate(model.metadata.model_dump() | updates)
    return build_artifact(model.estimator if estimator is None else estimator, metadata, compiled)


def with_other_scikit_learn(artifact: bytes, version: str = "0.24.2") -> bytes:
    """A well-formed artifact whose metadata says it was trained with another scikit-learn."""
    metadata = load_model(artifact, compute_version(artifact)).metadata
    return rebuild(artifact, libraries=metadata.libraries | {"scikit-learn": version})


def with_drifted_reference_rows(artifact: bytes, shift: float = 0.01) -> bytes:
    """A well-formed artifact whose model no longer gives its recorded reference probabilities."""
    reference = load_model(artifact, compute_version(artifact)).metadata.reference
    shifted = tuple((p0 - shift, p1 + shift) for p0, p1 in reference.probabilities)
    return rebuild(artifact, reference=reference.model_dump() | {"probabilities": shifted})


def with_reference_rows_missing_a_feature(artifact: bytes) -> bytes:
    """A well-formed artifact whose reference rows lack one of the schema's features."""
    reference = load_model(artifact, compute_version(artifact)).metadata.reference
    rows = [dict(row) for row in reference.rows]
    dropped = next(iter(rows[0]))
    for row in rows:
        del row[dropped]
    return rebuild(artifact, reference=reference.model_dump() | {"rows": rows})


def with_untrusted_type(artifact: bytes) -> bytes:
    """A well-formed artifact whose skops model holds a type outside the allow-list (os.system)."""
    return rebuild(artifact, estimator=FunctionTransformer(func=os.system))


# Well-formed artifacts (hash, zip and metadata all fine) whose model must not load, by what is
# wrong with them: how to make one from a good artifact, the error, and the start of its message.
UNLOADABLE: dict[str, tuple[Callable[[bytes], bytes], type[ArtifactError], str]] = {
    "other-scikit-learn": (
        with_other_scikit_learn,
        IncompatibleArtifactError,
        "artifact was trained with scikit-learn 0.24.2 but scikit-learn",
    ),
    "drifted-reference-rows": (
        with_drifted_reference_rows,
        ArtifactBehaviourError,
        "loaded model does not reproduce its reference rows: largest probability difference 0.01",
    ),
    "untrusted-type": (
        with_untrusted_type,
        UntrustedArtifactError,
        "artifact contains types that loanapp does not load: posix.system",
    ),
    "reference-rows-missing-a-feature": (
        with_reference_rows_missing_a_feature,
        ArtifactFormatError,
        "not a valid loanapp artifact: reference rows do not fit the input schema:",
    ),
}
