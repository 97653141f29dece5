"""The stored metrics: calibration (ECE, slope, intercept), the holdout AUC's bootstrap interval."""

from __future__ import annotations

import numpy as np
import pytest

from loanapp.training.evaluation import (
    METRICS,
    bootstrap_roc_auc_interval,
    calibration_slope_intercept,
    expected_calibration_error,
    rank_roc_auc,
)
from loanapp.training.train import TrainingResult

GENERATOR = np.random.default_rng(0)
LOGITS = GENERATOR.normal(-3.0, 1.0, 20_000)
PROBABILITY = 1 / (1 + np.exp(-LOGITS))
TARGET = (GENERATOR.random(len(LOGITS)) < PROBABILITY).astype(np.int64)


def test_a_calibrated_model_has_slope_one_and_intercept_zero() -> None:
    slope, intercept = calibration_slope_intercept(TARGET, PROBABILITY)
    assert slope == pytest.approx(1.0, abs=0.06)
    assert intercept == pytest.approx(0.0, abs=0.2)
    assert expected_calibration_error(TARGET, PROBABILITY) < 0.005


def test_an_overconfident_model_has_a_slope_below_one() -> None:
    overconfident = 1 / (1 + np.exp(-(2 * LOGITS + 3.0)))  # logits stretched around the mean
    slope, _intercept = calibration_slope_intercept(TARGET, overconfident)
    assert slope == pytest.approx(0.5, abs=0.05)
    assert expected_calibration_error(TARGET, overconfident) > 0.01


def test_the_bootstrap_interval_holds_the_auc_and_narrows_with_more_rows() -> None:
    low, high = bootstrap_roc_auc_interval(TARGET[:2000], PROBABILITY[:2000], seed=1)
    wide = high - low
    low_all, high_all = bootstrap_roc_auc_interval(TARGET, PROBABILITY, seed=1)
    assert low < METRICS["roc_auc"](TARGET[:2000], PROBABILITY[:2000]) < high
    assert high_all - low_all < wide


def test_every_artifact_stores_cv_and_holdout_calibration(logreg: TrainingResult) -> None:
    metrics = logreg.metadata.metrics
    for name in ("roc_auc", "brier", "ece", "calibration_slope", "calibration_intercept"):
        assert name in metrics.cross_validation
        assert name in metrics.holdout
    assert metrics.cross_validation_folds == "3 x 1 repeated stratified"
    assert metrics.holdout_roc_auc_interval is not None
    low, high = metrics.holdout_roc_auc_interval
    assert low < metrics.holdout["roc_auc"] < high


def test_the_rank_auc_is_scikit_learns_with_ties_too() -> None:
    from sklearn.metrics import roc_auc_score

    tied = np.round(PROBABILITY, 2)  # many equal scores
    for probability in (PROBABILITY, tied):
        assert rank_roc_auc(TARGET, probability) == pytest.approx(
            roc_auc_score(TARGET, probability), abs=1e-12
        )
