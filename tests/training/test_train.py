"""Training: reproducible metrics, an explicit positive class and a cost-based threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loanapp.errors import InvalidInputError
from loanapp.training.data import load_dataset
from loanapp.training.evaluation import choose_threshold, confusion_matrix_at
from loanapp.training.train import TrainingResult
from tests.factories import train_small


def test_shipped_data_is_the_lending_club_sample() -> None:
    dataset = load_dataset()
    assert dataset.features.shape == (9857, 22)  # plus the target column Class
    assert int(dataset.target.sum()) == 517  # 'bad' loans, the positive class
    assert dataset.sha256 == "084b217448d7d85d911aeb027619810293a8edaa67a02e4c6b442a2090d2690d"


def test_same_data_and_options_give_the_same_metrics(logreg: TrainingResult) -> None:
    again = train_small("logreg")
    assert again.metadata.metrics == logreg.metadata.metrics
    assert again.metadata.decision == logreg.metadata.decision
    other_seed = train_small("logreg", seed=7)
    assert other_seed.metadata.metrics != logreg.metadata.metrics


@pytest.mark.parametrize("result_name", ["logreg", "gbm"])
def test_metadata_describes_the_model(result_name: str, request: pytest.FixtureRequest) -> None:
    metadata = request.getfixturevalue(result_name).metadata
    assert metadata.model_type == result_name
    assert metadata.target.positive_class == "bad"
    assert set(metadata.metrics.cross_validation) == {
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "ece",
        "calibration_slope",
        "calibration_intercept",
        "calibration_in_the_large",
    }
    assert 0.5 < metadata.metrics.holdout["roc_auc"] <= 1.0
    assert 0.0 < metadata.decision.threshold < 1.0
    matrix = metadata.metrics.holdout_confusion_matrix
    assert sum(matrix.model_dump().values()) == metadata.metrics.holdout_rows
    assert set(metadata.libraries) == {"python", "scikit-learn", "numpy", "skops"}
    features = {f.name: f for f in metadata.input_schema.features}
    assert features["term"].kind == "category"
    assert features["term"].categories == ("term_36", "term_60")
    assert features["funded_amnt"].kind == "integer"
    assert features["int_rate"].kind == "number"
    assert features["int_rate"].minimum is not None


def test_threshold_minimises_expected_cost() -> None:
    target = np.array([0, 0, 0, 0, 1, 1])
    probability = np.array([0.05, 0.1, 0.2, 0.3, 0.25, 0.6])
    # A missed default costs 10, a rejected good loan 1. Rejecting from just above 0.2 costs 1 (the
    # good loan at 0.3); lower also rejects the good one at 0.2; above 0.25 misses a default.
    assert (
        choose_threshold(target, probability, cost_of_default=10, cost_of_rejected_good=1) == 0.205
    )
    # When rejecting a good loan costs more than missing a default, only the one at 0.6 is rejected.
    assert (
        choose_threshold(target, probability, cost_of_default=1, cost_of_rejected_good=5) == 0.305
    )


def test_confusion_matrix_counts_at_the_threshold() -> None:
    matrix = confusion_matrix_at(np.array([0, 0, 1, 1]), np.array([0.1, 0.5, 0.4, 0.9]), 0.45)
    assert matrix.model_dump() == {
        "true_negative": 1,
        "false_positive": 1,
        "false_negative": 1,
        "true_positive": 1,
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n", "has no 'Class' column"),
        ("a,Class\n1,good\n2,maybe\n", r"holds \['maybe'\]"),
        ("a,Class\n1,good\n,bad\n", r"missing values in \['a'\]"),
    ],
)
def test_bad_training_data_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "loans.csv"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        load_dataset(path)


def test_unreadable_training_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read training data"):
        load_dataset(tmp_path / "absent.csv")
