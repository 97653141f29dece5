"""Paired comparisons on recorded folds: the corrected t interval and what can be compared."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from loanapp.artifacts import ArtifactMetadata, compute_version, load_model
from loanapp.comparison import (
    GATE_THRESHOLD,
    compare,
    paired_delta,
    student_t_cdf,
    student_t_quantile,
)
from loanapp.training.options import TrainingOptions
from loanapp.training.train import TrainingResult, train_model
from tests.factories import rebuild, small_dataset, train_small


def metadata_of(artifact: bytes) -> ArtifactMetadata:
    return load_model(artifact, compute_version(artifact)).metadata


@pytest.mark.parametrize("degrees", [1, 2, 4, 9, 24, 99])
def test_student_t_matches_scipy(degrees: int) -> None:
    assert student_t_quantile(0.975, degrees) == pytest.approx(stats.t.ppf(0.975, degrees), 1e-9)
    for value in (-3.0, -0.4, 0.0, 1.7):
        assert student_t_cdf(value, degrees) == pytest.approx(
            stats.t.cdf(value, degrees), abs=1e-12
        )


def test_paired_delta_is_the_corrected_resampled_t_interval() -> None:
    candidate = [0.75, 0.74, 0.76, 0.73, 0.75]
    current = [0.74, 0.74, 0.74, 0.74, 0.73]
    differences = np.subtract(candidate, current)
    # Nadeau & Bengio: var x (1/J + n_test/n_train), here 5 folds so n_test/n_train = 1/4.
    half = stats.t.ppf(0.975, 4) * math.sqrt((1 / 5 + 1 / 4) * differences.var(ddof=1))
    delta = paired_delta(candidate, current, 1 / 4)
    assert delta.mean == pytest.approx(differences.mean())
    assert (delta.low, delta.high) == pytest.approx(
        (differences.mean() - half, differences.mean() + half)
    )
    assert (delta.ahead, delta.folds) == (3, 5)
    # For a cost, lower is better: the candidate is ahead where it costs less.
    assert paired_delta(candidate, current, 1 / 4, higher_is_better=False).ahead == 1


@pytest.fixture(scope="module")
def fifteen_folds() -> dict[str, TrainingResult]:
    """logreg and the baseline on the small sample, 5 folds x 3 repeats: enough folds for the
    corrected interval to tell them apart (3 folds, as `train_small` runs, are not)."""
    options = TrainingOptions(folds=5, repeats=3)
    return {
        kind: train_model(small_dataset(), replace(options, model_type=kind))
        for kind in ("logreg", "baseline")
    }


def test_a_model_against_the_baseline(fifteen_folds: dict[str, TrainingResult]) -> None:
    logreg, baseline = fifteen_folds["logreg"], fifteen_folds["baseline"]
    better = compare(logreg.version, logreg.metadata, baseline.version, baseline.metadata)
    assert better.not_comparable is None
    assert better.delta_auc is not None
    assert better.delta_cost is not None
    assert better.delta_auc.mean == pytest.approx(
        logreg.metadata.metrics.cross_validation["roc_auc"].mean - 0.5
    )
    assert better.delta_auc.low > 0
    assert better.delta_auc.folds == 15
    assert better.verdict == "better"
    assert better.gate_refuses() is None
    assert better.delta_cost.mean < 0  # the model costs less per applicant than approving all

    worse = compare(baseline.version, baseline.metadata, logreg.version, logreg.metadata)
    assert worse.delta_auc is not None
    assert worse.delta_auc.high < GATE_THRESHOLD
    assert worse.verdict == "worse"
    assert worse.gate_refuses() == "worse"


def test_three_folds_cannot_show_that_a_model_is_not_worse(
    logreg: TrainingResult, baseline: TrainingResult
) -> None:
    """With 3 folds (2 degrees of freedom) the interval is so wide that the gate refuses even a
    candidate that is ahead in every fold: the gate asks for evidence, not a point estimate."""
    comparison = compare(logreg.version, logreg.metadata, baseline.version, baseline.metadata)
    assert comparison.delta_auc is not None
    assert comparison.delta_auc.ahead == comparison.delta_auc.folds == 3
    assert comparison.delta_auc.low < GATE_THRESHOLD
    assert comparison.verdict == "equivalent"
    assert comparison.gate_refuses() == "worse"


def test_the_same_model_is_equivalent(logreg: TrainingResult, second_logreg: bytes) -> None:
    comparison = compare("b", metadata_of(second_logreg), "a", logreg.metadata)
    assert comparison.delta_auc is not None
    assert (comparison.delta_auc.mean, comparison.delta_auc.low) == (0.0, 0.0)
    assert comparison.verdict == "equivalent"
    assert comparison.gate_refuses() is None


def test_what_cannot_be_compared(logreg: TrainingResult) -> None:
    metrics = logreg.metadata.metrics
    older = logreg.metadata.model_copy(
        update={"metrics": metrics.model_copy(update={"folds": None})}
    )
    other_seed = train_small("logreg", seed=7).metadata
    fewer_rows = train_model(small_dataset(rows=500), TrainingOptions(folds=3, repeats=1))
    cases = {
        "the candidate records no per-fold scores (trained before they were kept)": older,
        "their cross-validation folds differ (seed, folds, repeats or holdout)": other_seed,
        "they were trained on different data": fewer_rows.metadata,
    }
    for reason, candidate in cases.items():
        comparison = compare("new", candidate, "old", logreg.metadata)
        assert comparison.not_comparable == reason
        assert comparison.delta_auc is None
        assert comparison.verdict == "not_comparable"
        assert comparison.gate_refuses() == "not_comparable"
    older_current = compare("new", logreg.metadata, "old", older)
    assert older_current.not_comparable is not None
    assert older_current.not_comparable.startswith("the current version records no")


def test_other_costs_leave_the_auc_comparable_but_not_the_cost(logreg: TrainingResult) -> None:
    other_costs = rebuild(
        logreg.artifact,
        model_type="logreg-costly",
        decision=logreg.metadata.decision.model_copy(update={"cost_of_default": 0.9}),
    )
    comparison = compare("new", metadata_of(other_costs), "old", logreg.metadata)
    assert comparison.delta_auc is not None
    assert comparison.delta_cost is None
