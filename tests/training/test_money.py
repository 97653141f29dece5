"""The money and the fold scores every artifact stores, and the prior-only baseline."""

from __future__ import annotations

import numpy as np
import pytest

from loanapp.artifacts import MoneyFigures
from loanapp.training.money import Costs, best_cutoff
from loanapp.training.train import TrainingResult


def check_money(money: MoneyFigures, rows: int, bad_rate: float) -> None:
    assert money.applicants == rows
    for name in (
        "model",
        "approve_everyone",
        "int_rate_rule",
        "saving_vs_approve_everyone",
        "saving_vs_int_rate_rule",
    ):
        figure = getattr(money, name)
        assert figure.low <= figure.value <= figure.high, name
    # Approving everyone costs the default cost on every bad loan, nothing else.
    assert money.approve_everyone.value == pytest.approx(0.6 * bad_rate)
    assert money.saving_vs_approve_everyone.value == pytest.approx(
        money.approve_everyone.value - money.model.value
    )
    assert money.saving_vs_int_rate_rule.value == pytest.approx(
        money.int_rate_rule.value - money.model.value
    )


@pytest.mark.parametrize("kind", ["logreg", "gbm", "baseline"])
def test_every_artifact_stores_money_and_fold_scores(
    kind: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(kind)
    metrics = result.metadata.metrics
    assert metrics.money is not None
    assert metrics.holdout_money is not None
    matrix = metrics.holdout_confusion_matrix
    holdout_bad = (matrix.true_positive + matrix.false_negative) / metrics.holdout_rows
    check_money(metrics.holdout_money, metrics.holdout_rows, holdout_bad)
    assert metrics.money.applicants == metrics.train_rows
    assert metrics.money.basis.startswith("out-of-fold")
    folds = metrics.folds
    assert folds is not None
    assert (folds.plan.folds, folds.plan.repeats, folds.plan.seed) == (3, 1, 42)
    assert folds.plan.train_rows == metrics.train_rows
    assert folds.plan.data_rows == metrics.train_rows + metrics.holdout_rows
    assert len(folds.roc_auc) == len(folds.cost_per_applicant) == 3
    assert np.mean(folds.roc_auc) == pytest.approx(metrics.cross_validation["roc_auc"].mean)


def test_models_save_money_and_the_baseline_saves_none(
    logreg: TrainingResult, baseline: TrainingResult
) -> None:
    model_money = logreg.metadata.metrics.money
    baseline_money = baseline.metadata.metrics.money
    assert model_money is not None
    assert baseline_money is not None
    assert model_money.saving_vs_approve_everyone.value > 0
    # The prior-only model gives everyone the base rate, under the threshold: it approves all.
    assert baseline_money.model == baseline_money.approve_everyone
    assert baseline_money.saving_vs_approve_everyone.value == 0
    assert baseline_money.int_rate_cutoff == model_money.int_rate_cutoff  # same rows, same rule


def test_the_baseline_gives_everyone_the_base_rate(baseline: TrainingResult) -> None:
    metadata = baseline.metadata
    cv = metadata.metrics.cross_validation
    assert metadata.model_type == "baseline"
    assert (cv["roc_auc"].mean, cv["roc_auc"].std) == (0.5, 0.0)
    assert cv["calibration_slope"].mean == 0.0  # a constant score ranks nobody
    assert len(set(metadata.reference.probabilities)) == 1
    assert metadata.compiled is None  # served by scikit-learn


def test_the_int_rate_rule_takes_the_cheapest_cutoff() -> None:
    rates = np.array([5.0, 8.0, 12.0, 20.0, 25.0])
    target = np.array([0, 0, 0, 1, 1])
    costs = Costs(of_default=0.6, of_rejected_good=0.1)
    assert best_cutoff(rates, target, costs) == 20.0
    # A default among the lowest rates: every cutoff that catches it declines too many good loans.
    target = np.array([0, 1, 0, 0, 0])
    assert best_cutoff(rates, target, Costs(of_default=0.6, of_rejected_good=0.3)) == np.inf
