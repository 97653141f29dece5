"""Explanations in log-odds: how far each input feature moved an applicant's score.

For every row, `base_value + sum(contributions) == logit p(positive)` (to rounding; checked on a
model's reference rows before its explanations are served):

- logistic regression: each design column's coefficient times the row's distance from that
  column's mean over the training rows (0 for a standardised number; for a one-hot column, its
  category's training frequency). `base_value` is the score of that average training row.
- gradient-boosted trees: exact path-dependent TreeSHAP (loanapp.treeshap); `base_value` is the
  trees' expected score over their training samples.

A feature's contribution is the sum over the design columns made from it: the one-hot columns of
`sub_grade` make one `sub_grade` contribution. Compiled forms written before explanations existed
lack the training means or node covers; they are served without explanations, and so is a model
served by scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from loanapp.compiled import CompiledModel, Encoder, FloatArray, LinearScorer, Scored, TreeScorer
from loanapp.treeshap import PathDependentShap

ADDITIVITY_TOLERANCE = 1e-6
"""Largest |base_value + sum(contributions) - logit p| accepted on the reference rows."""
PREDATES_EXPLANATIONS = (
    "its compiled form was written before explanations (it has no training means or node "
    "covers); retrain it to get reasons"
)
Columns = Mapping[str, Sequence[Any]]


class Explainer(Protocol):
    """Per-feature contributions in log-odds for validated columns."""

    features: tuple[str, ...]
    base_value: float
    method: str

    def contributions(
        self, columns: Columns, rows: int, scored: Scored | None = None
    ) -> FloatArray:
        """Contributions per row and feature (rows x features, in `features` order).

        `scored` is what scoring these same rows gave, if they were scored: its arrays are
        reused instead of computed again.
        """
        ...


class LinearExplainer:
    """Exact contributions of a logistic regression against the training means."""

    method = "exact linear contributions against the training means"

    def __init__(self, model: CompiledModel, features: Sequence[str]) -> None:
        scorer = model.scorer
        if not isinstance(scorer, LinearScorer) or scorer.design_mean is None:
            raise TypeError("a LinearExplainer needs a linear model with its training means")
        self.features = tuple(features)
        self._encoder = model.encoder
        self._terms = model.linear_terms
        self._coef = scorer.coef
        self._mean = scorer.design_mean
        self._membership = _membership(model.encoder, self.features)
        self.base_value = float(scorer.intercept + scorer.coef @ scorer.design_mean)
        # Minus what each feature's term adds for the average training row: where the one-row
        # path starts its sums.
        offsets = (scorer.coef * scorer.design_mean) @ self._membership
        self._starts = dict(zip(self.features, (0.0 - offsets).tolist(), strict=True))  # no -0.0

    def contributions(
        self, columns: Columns, rows: int, scored: Scored | None = None
    ) -> FloatArray:
        """Coefficient x (value - training mean), summed per feature."""
        design = None if scored is None else scored.design
        if design is None:
            if rows == 1:
                return np.array([self._one_row(columns)])
            design = self._encoder.encode(columns, rows)
        return np.asarray(((design - self._mean) * self._coef) @ self._membership)

    def _one_row(self, columns: Columns) -> list[float]:
        """One row in plain Python, as CompiledModel scores one row: cheaper than numpy calls."""
        totals = self._starts.copy()
        for name, mean, scale, coef in self._terms.numeric:
            totals[name] += (columns[name][0] - mean) / scale * coef
        for name, weights in self._terms.categorical:
            totals[name] += weights.get(columns[name][0], 0.0)
        return list(totals.values())


class TreeExplainer:
    """Exact path-dependent TreeSHAP of gradient-boosted trees."""

    method = "exact path-dependent TreeSHAP"

    def __init__(self, model: CompiledModel, features: Sequence[str]) -> None:
        if not isinstance(model.scorer, TreeScorer):
            raise TypeError("a TreeExplainer needs a tree model")
        self.features = tuple(features)
        self._encoder = model.encoder
        self._scorer = model.scorer
        index = {name: position for position, name in enumerate(self.features)}
        column_feature = [index[name] for name in model.encoder.column_features]
        self.shap = PathDependentShap(model.scorer, column_feature, len(self.features))
        self.base_value = self.shap.base_value

    def contributions(
        self, columns: Columns, rows: int, scored: Scored | None = None
    ) -> FloatArray:
        """SHAP values of the design columns, summed per feature."""
        patterns = None if scored is None else scored.patterns
        if patterns is None:
            patterns = self._scorer.patterns(self._encoder.encode(columns, rows))
        return self.shap.contributions(patterns)


def load_explainer(
    model: CompiledModel, features: Sequence[str], reference_rows: Sequence[Mapping[str, Any]]
) -> Explainer | str:
    """The explainer of a compiled model, or the reason it has none.

    An explainer is returned only if its contributions add up to the model's log-odds on the
    reference rows, through the batch path and the one-row path alike.
    """
    missing = set(model.encoder.column_features) - set(features)
    if missing:
        return f"its compiled form uses features outside its schema: {sorted(missing)}"
    scorer = model.scorer
    explainer: Explainer
    try:
        if isinstance(scorer, LinearScorer) and scorer.design_mean is not None:
            explainer = LinearExplainer(model, features)
        elif isinstance(scorer, TreeScorer) and scorer.covers is not None:
            explainer = TreeExplainer(model, features)
        else:
            return PREDATES_EXPLANATIONS
    except ValueError as exc:
        return f"its compiled form's explanation data is unusable ({exc})"
    error = additivity_error(explainer, model, reference_rows)
    if not error <= ADDITIVITY_TOLERANCE:  # also catches NaN
        return (
            "its explanations do not add up to its log-odds on the reference rows "
            f"(off by {error:.3g})"
        )
    return explainer


def additivity_error(
    explainer: Explainer, model: CompiledModel, rows: Sequence[Mapping[str, Any]]
) -> float:
    """Largest |base_value + sum(contributions) - log-odds| over `rows`, alone and together."""
    if not rows:
        return 0.0
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    raw = model.scorer.raw(model.encoder.encode(columns, len(rows)))
    together = explainer.contributions(columns, len(rows))
    alone = np.concatenate(
        [explainer.contributions({n: [v] for n, v in row.items()}, 1) for row in rows]
    )
    return float(
        max(
            np.max(np.abs(explainer.base_value + together.sum(axis=1) - raw)),
            np.max(np.abs(explainer.base_value + alone.sum(axis=1) - raw)),
        )
    )


def _membership(encoder: Encoder, features: Sequence[str]) -> FloatArray:
    """Design columns x features: 1 where the column is made from the feature."""
    index = {name: position for position, name in enumerate(features)}
    membership = np.zeros((encoder.width, len(features)))
    for column, name in enumerate(encoder.column_features):
        membership[column, index[name]] = 1.0
    return membership
