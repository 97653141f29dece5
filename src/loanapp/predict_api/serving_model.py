"""A model ready to serve: verified, loaded as a compiled predictor (else scikit-learn)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from loanapp.artifacts import (
    ArtifactMetadata,
    LoadedModel,
    check_reference_rows,
    load_model,
    read_compiled,
    read_metadata,
)
from loanapp.errors import ArtifactBehaviourError
from loanapp.schema import FeatureValue

logger = logging.getLogger(__name__)

Columns = dict[str, list[FeatureValue]]


class Predictor(Protocol):
    """Class probabilities for validated columns, in one call for all rows."""

    def predict_proba(self, columns: Columns, rows: int) -> npt.NDArray[np.float64]:
        """Probabilities, one row per input row, columns in the model's class order."""
        ...


class ScikitLearnPredictor:
    """The fallback: the deserialised pipeline, fed a pandas DataFrame."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model

    def predict_proba(self, columns: Columns, rows: int) -> npt.NDArray[np.float64]:
        """Probabilities from the scikit-learn pipeline."""
        import pandas as pd

        return self.model.predict_proba(pd.DataFrame(columns))


@dataclass(frozen=True)
class ServingModel:
    """A verified model ready to answer, and where and when it was loaded."""

    version: str
    metadata: ArtifactMetadata
    predictor: Predictor
    predictor_kind: str
    source: str
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def predict_proba(self, columns: Columns, rows: int) -> npt.NDArray[np.float64]:
        """Class probabilities for validated columns."""
        return self.predictor.predict_proba(columns, rows)

    @cached_property
    def answer_header(self) -> dict[str, Any]:
        """What every prediction answer starts with: the version, the classes, the threshold."""
        target = self.metadata.target
        return {
            "model_version": self.version,
            "classes": list(target.classes),
            "positive_class": target.positive_class,
            "threshold": self.metadata.decision.threshold,
        }

    def label(self, probabilities: list[float]) -> int:
        """Class index of one row, as `labels` computes it, without numpy's per-call cost."""
        positive = self.metadata.target.positive_index
        return (
            positive
            if probabilities[positive] >= self.metadata.decision.threshold
            else 1 - positive
        )

    def labels(self, probabilities: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Class index per row: the positive class where its probability reaches the threshold."""
        positive = self.metadata.target.positive_index
        is_positive = probabilities[:, positive] >= self.metadata.decision.threshold
        return np.where(is_positive, positive, 1 - positive).astype(np.int64)


def load_serving_model(data: bytes, version: str, source: str) -> ServingModel:
    """Verify artifact bytes and make them servable: compiled if it passes its checks, else sklearn.

    Either way the hash is checked before anything is parsed, the scikit-learn version must match,
    and the model must reproduce the reference rows recorded at training time.
    """
    metadata = read_metadata(data, version)
    compiled = read_compiled(data, metadata)
    if compiled is not None:
        try:
            check_reference_rows(
                metadata, lambda rows: compiled.predict_proba(_columns(rows), len(rows))
            )
        except ArtifactBehaviourError as exc:
            logger.warning("compiled form of %s not used: %s", version, exc.message)
        else:
            kind = f"compiled {compiled.kind}"
            return ServingModel(version, metadata, compiled, kind, source)
    model = load_model(data, version)
    return ServingModel(version, metadata, ScikitLearnPredictor(model), "scikit-learn", source)


def _columns(rows: list[dict[str, FeatureValue]]) -> Columns:
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}
