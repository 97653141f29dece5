"""Tiny real models for tests: fitted on a few hundred rows of the shipped data, in seconds."""

from __future__ import annotations

from typing import Any

import numpy as np

from loanapp.artifacts import (
    ArtifactMetadata,
    build_artifact,
    compute_version,
    load_model,
    read_compiled,
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
