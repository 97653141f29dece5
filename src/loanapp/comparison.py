"""Paired comparison of two model versions on the cross-validation folds recorded at training.

Every artifact records its fold plan (training-data hash and rows, holdout fraction, seed, folds x
repeats) and, per fold, the ROC-AUC and the cost per applicant (`FoldScores`). Two versions with
the same plan were scored on the same rows in every fold, so their differences are paired. The
folds' training sets overlap, which makes the plain t interval far too narrow; the corrected
resampled t-test (Nadeau & Bengio, 2003) widens the variance of the mean difference from
var/J to (1/J + n_test/n_train) x var, on J - 1 degrees of freedom.

No scipy: the registry commands and the model server promote through here, and they stay light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from loanapp.artifacts import ArtifactMetadata

GATE_THRESHOLD = -0.005
"""A candidate is refused when the 95 % lower bound of its ΔAUC falls below this."""
CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedDelta:
    """Candidate minus current over paired folds: the mean, its corrected 95 % interval, and in
    how many folds the candidate was ahead."""

    mean: float
    low: float
    high: float
    ahead: int
    """Folds where the candidate did better (higher AUC, lower cost)."""
    folds: int


@dataclass(frozen=True)
class Comparison:
    """Two versions compared on their recorded folds; deltas are None when not comparable."""

    candidate: str
    current: str
    candidate_auc: float
    current_auc: float
    not_comparable: str | None
    """Why the fold scores cannot be paired; None when they can."""
    delta_auc: PairedDelta | None
    delta_cost: PairedDelta | None
    """Cost per applicant, candidate minus current (negative saves money); None also when the
    two were trained with different costs."""

    @property
    def verdict(self) -> Literal["better", "worse", "equivalent", "not_comparable"]:
        """Which is better by ROC-AUC: a verdict only when the interval excludes zero."""
        if self.delta_auc is None:
            return "not_comparable"
        if self.delta_auc.low > 0:
            return "better"
        if self.delta_auc.high < 0:
            return "worse"
        return "equivalent"

    def gate_refuses(self) -> Literal["worse", "not_comparable"] | None:
        """Why the promotion gate refuses the candidate, or None if it passes."""
        if self.delta_auc is None:
            return "not_comparable"
        return "worse" if self.delta_auc.low < GATE_THRESHOLD else None


def compare(
    candidate: str,
    candidate_metadata: ArtifactMetadata,
    current: str,
    current_metadata: ArtifactMetadata,
) -> Comparison:
    """Compare `candidate` with `current` by their recorded fold scores."""
    new, old = candidate_metadata.metrics.folds, current_metadata.metrics.folds
    problem = _not_comparable(candidate_metadata, current_metadata)
    delta_auc = delta_cost = None
    if problem is None and new is not None and old is not None:
        ratio = 1 / (new.plan.folds - 1)  # n_test / n_train of every fold
        delta_auc = paired_delta(new.roc_auc, old.roc_auc, ratio)
        if _costs(candidate_metadata) == _costs(current_metadata):
            delta_cost = paired_delta(
                new.cost_per_applicant, old.cost_per_applicant, ratio, higher_is_better=False
            )
    return Comparison(
        candidate=candidate,
        current=current,
        candidate_auc=candidate_metadata.metrics.cross_validation["roc_auc"].mean,
        current_auc=current_metadata.metrics.cross_validation["roc_auc"].mean,
        not_comparable=problem,
        delta_auc=delta_auc,
        delta_cost=delta_cost,
    )


def paired_delta(
    candidate: Sequence[float],
    current: Sequence[float],
    test_train_ratio: float,
    *,
    higher_is_better: bool = True,
) -> PairedDelta:
    """Mean of the paired differences with the corrected resampled t interval; `ahead` counts
    the folds where the candidate did better."""
    differences = [a - b for a, b in zip(candidate, current, strict=True)]
    count = len(differences)
    mean = sum(differences) / count
    variance = sum((d - mean) ** 2 for d in differences) / (count - 1)
    half = student_t_quantile(0.5 + CONFIDENCE / 2, count - 1) * math.sqrt(
        (1 / count + test_train_ratio) * variance
    )
    ahead = sum((d > 0) if higher_is_better else (d < 0) for d in differences)
    return PairedDelta(mean=mean, low=mean - half, high=mean + half, ahead=ahead, folds=count)


def _not_comparable(candidate: ArtifactMetadata, current: ArtifactMetadata) -> str | None:
    new, old = candidate.metrics.folds, current.metrics.folds
    if new is None or old is None:
        which = "the candidate" if new is None else "the current version"
        return f"{which} records no per-fold scores (trained before they were kept)"
    if new.plan.data_sha256 != old.plan.data_sha256 or new.plan.data_rows != old.plan.data_rows:
        return "they were trained on different data"
    if candidate.input_schema != current.input_schema:
        return "their input schemas differ"
    if new.plan != old.plan:
        return "their cross-validation folds differ (seed, folds, repeats or holdout)"
    if len(new.roc_auc) < 2:
        return "one fold gives no interval"
    return None


def _costs(metadata: ArtifactMetadata) -> tuple[float, float]:
    return metadata.decision.cost_of_default, metadata.decision.cost_of_rejected_good


def student_t_quantile(probability: float, degrees: int) -> float:
    """The `probability` quantile (above one half) of Student's t, by bisection on its CDF."""
    low, high = 0.0, 1.0
    while student_t_cdf(high, degrees) < probability:
        high *= 2
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (
            (middle, high) if student_t_cdf(middle, degrees) < probability else (low, middle)
        )
    return (low + high) / 2


def student_t_cdf(value: float, degrees: int) -> float:
    """P(T <= value) for Student's t, through the regularised incomplete beta function."""
    tail = 0.5 * _incomplete_beta(degrees / (degrees + value * value), degrees / 2, 0.5)
    return 1 - tail if value > 0 else tail


def _incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) by its continued fraction (modified Lentz), using the symmetry when it
    converges faster."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1 - _incomplete_beta(1 - x, b, a)
    front = (
        math.exp(
            math.lgamma(a + b)
            - math.lgamma(a)
            - math.lgamma(b)
            + a * math.log(x)
            + b * math.log1p(-x)
        )
        / a
    )
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return front * result
