"""Evaluating a pipeline and choosing its decision threshold."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from loanapp.artifacts import ConfusionMatrix, MetricSummary

Probabilities = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]

# Each metric takes (true 0/1 labels, probability of the positive class).
METRICS: dict[str, Callable[[Labels, Probabilities], float]] = {
    "roc_auc": lambda y, p: float(roc_auc_score(y, p)),
    "pr_auc": lambda y, p: float(average_precision_score(y, p)),
    "brier": lambda y, p: float(brier_score_loss(y, p)),
    "log_loss": lambda y, p: float(log_loss(y, p, labels=[0, 1])),
}
THRESHOLD_GRID = np.round(np.arange(0.005, 1.0, 0.005), 3)


def score(target: Labels, positive_probability: Probabilities) -> dict[str, float]:
    """Every metric in METRICS for one set of predictions."""
    return {name: metric(target, positive_probability) for name, metric in METRICS.items()}


def cross_validate(
    pipeline: Pipeline,
    features: pd.DataFrame,
    target: Labels,
    *,
    folds: int,
    seed: int,
    progress: Callable[[str], None],
) -> tuple[dict[str, MetricSummary], Probabilities]:
    """Stratified k-fold CV: per-metric mean and std over folds, and out-of-fold probabilities."""
    out_of_fold = np.zeros(len(target), dtype=np.float64)
    fold_scores: list[dict[str, float]] = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (fit_rows, test_rows) in enumerate(splitter.split(features, target), start=1):
        model = clone(pipeline).fit(features.iloc[fit_rows], target[fit_rows])
        out_of_fold[test_rows] = model.predict_proba(features.iloc[test_rows])[:, 1]
        fold_scores.append(score(target[test_rows], out_of_fold[test_rows]))
        progress(f"  fold {fold}/{folds}: roc_auc {fold_scores[-1]['roc_auc']:.4f}")
    summary = {
        name: MetricSummary(
            mean=float(np.mean([s[name] for s in fold_scores])),
            std=float(np.std([s[name] for s in fold_scores])),
        )
        for name in METRICS
    }
    return summary, out_of_fold


def choose_threshold(
    target: Labels,
    positive_probability: Probabilities,
    *,
    cost_of_default: float,
    cost_of_rejected_good: float,
) -> float:
    """The threshold on THRESHOLD_GRID with the least expected cost per applicant.

    An applicant is rejected when p(default) >= threshold. Approving one who defaults costs
    `cost_of_default`; rejecting one who would have repaid costs `cost_of_rejected_good` (the margin
    lost). Ties go to the lowest threshold. Fed out-of-fold probabilities, so the rule is chosen on
    predictions the model did not fit.
    """
    rejected = positive_probability[None, :] >= THRESHOLD_GRID[:, None]
    missed_defaults = ((~rejected) & (target == 1)).sum(axis=1)
    rejected_goods = (rejected & (target == 0)).sum(axis=1)
    cost = cost_of_default * missed_defaults + cost_of_rejected_good * rejected_goods
    return float(THRESHOLD_GRID[int(np.argmin(cost))])


def confusion_matrix_at(
    target: Labels, positive_probability: Probabilities, threshold: float
) -> ConfusionMatrix:
    """Counts of the four outcomes when p(positive) >= threshold means positive."""
    predicted = positive_probability >= threshold
    actual = target == 1
    return ConfusionMatrix(
        true_negative=int((~predicted & ~actual).sum()),
        false_positive=int((predicted & ~actual).sum()),
        false_negative=int((~predicted & actual).sum()),
        true_positive=int((predicted & actual).sum()),
    )
