"""A model ready to serve: verified, loaded as a compiled predictor (else scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from loanapp.artifacts import ArtifactMetadata, LoadedModel, load_servable
from loanapp.schema import FeatureValue

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
    signed_by: str | None = None
    """Key id of the trusted key whose signature was checked; None when none is required."""

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

    @cached_property
    def positive_index(self) -> int:
        """Column of the positive class ("bad"): a row labelled with it is declined."""
        return self.metadata.target.positive_index

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
    and the model must reproduce the reference rows recorded at training time. The publish gate
    runs the same `load_servable`, so a published version is one this loads.
    """
    servable = load_servable(data, version)
    form = servable.form
    predictor = ScikitLearnPredictor(form) if isinstance(form, LoadedModel) else form
    return ServingModel(version, servable.metadata, predictor, servable.kind, source)
