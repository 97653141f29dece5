"""A model ready to serve: verified, loaded as a compiled predictor (else scikit-learn)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from loanapp.artifacts import ArtifactMetadata, LoadedModel, load_servable
from loanapp.compiled import Scored
from loanapp.explain import Explainer, load_explainer
from loanapp.schema import FeatureValue

logger = logging.getLogger(__name__)

Columns = dict[str, list[FeatureValue]]
SCIKIT_LEARN_UNEXPLAINED = (
    "it is served by scikit-learn (its compiled form is missing or did not reproduce its "
    "reference rows), which gives no explanations"
)


class Predictor(Protocol):
    """Class probabilities for validated columns, in one call for all rows."""

    def predict_proba(self, columns: Columns, rows: int) -> npt.NDArray[np.float64]:
        """Probabilities, one row per input row, columns in the model's class order."""
        ...

    def score(self, columns: Columns, rows: int) -> Scored:
        """The probabilities, with what explaining the same rows can reuse."""
        ...


class ScikitLearnPredictor:
    """The fallback: the deserialised pipeline, fed a pandas DataFrame."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model

    def predict_proba(self, columns: Columns, rows: int) -> npt.NDArray[np.float64]:
        """Probabilities from the scikit-learn pipeline."""
        import pandas as pd

        return self.model.predict_proba(pd.DataFrame(columns))

    def score(self, columns: Columns, rows: int) -> Scored:
        """The probabilities alone: nothing here explains them."""
        return Scored(self.predict_proba(columns, rows))


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
    explainer: Explainer | None = None
    """What explains its scores (reasons on declines); None if it cannot."""
    unexplained: str | None = None
    """Why it gives no explanations, when `explainer` is None."""

    def predict_proba(self, columns: Columns, rows: int) -> npt.NDArray[np.float64]:
        """Class probabilities for validated columns."""
        return self.predictor.predict_proba(columns, rows)

    def score(self, columns: Columns, rows: int) -> Scored:
        """Class probabilities, with what explaining the same rows can reuse."""
        return self.predictor.score(columns, rows)

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
        """Class index of the positive class: the decision that is a decline."""
        return self.metadata.target.positive_index

    @property
    def explanations(self) -> dict[str, Any]:
        """How this model explains its scores, for /model."""
        if self.explainer is None:
            return {"available": False, "reason": self.unexplained}
        return {"available": True, "method": self.explainer.method}

    @cached_property
    def threshold(self) -> float:
        """The decision threshold on p(positive class)."""
        return self.metadata.decision.threshold

    def label(self, probabilities: list[float]) -> int:
        """Class index of one row, as `labels` computes it, without numpy's per-call cost."""
        positive = self.positive_index
        return positive if probabilities[positive] >= self.threshold else 1 - positive

    def labels(self, probabilities: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Class index per row: the positive class where its probability reaches the threshold."""
        positive = self.metadata.target.positive_index
        is_positive = probabilities[:, positive] >= self.metadata.decision.threshold
        return np.where(is_positive, positive, 1 - positive).astype(np.int64)


def load_serving_model(data: bytes, version: str, source: str) -> ServingModel:
    """Verify artifact bytes and make them servable: compiled if it passes its checks, else sklearn.

    Either way the hash is checked before anything is parsed, the scikit-learn version must match,
    and the model must reproduce the reference rows recorded at training time. The publish gate
    runs the same `load_servable`, so a published version is one this loads. A compiled form is
    also given its explainer, whose contributions must add up to its log-odds on the reference
    rows; a model without one is served all the same, its declines without reasons (logged).
    """
    servable = load_servable(data, version)
    form = servable.form
    if isinstance(form, LoadedModel):
        predictor: Predictor = ScikitLearnPredictor(form)
        explainer: Explainer | str = SCIKIT_LEARN_UNEXPLAINED
    else:
        predictor = form
        metadata = servable.metadata
        explainer = load_explainer(form, metadata.input_schema.names, metadata.reference.rows)
    if isinstance(explainer, str):
        logger.warning("version %s gives no reasons with its declines: %s", version, explainer)
        return ServingModel(
            version, servable.metadata, predictor, servable.kind, source, unexplained=explainer
        )
    return ServingModel(
        version, servable.metadata, predictor, servable.kind, source, explainer=explainer
    )
