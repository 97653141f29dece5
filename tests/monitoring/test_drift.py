"""PSI, statuses and the training profile's bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loanapp.monitoring.drift import feature_drift, population_stability, status_of
from loanapp.monitoring.profile import binned, build_profile


def test_the_same_distribution_is_stable_and_a_shifted_one_is_not() -> None:
    rng = np.random.default_rng(1)
    training = rng.normal(10, 2, 5000)
    profile = binned(training)
    assert len(profile.edges) == 9
    assert profile.shares == pytest.approx([0.1] * 10, abs=0.002)
    same = population_stability(profile.shares, profile.counts(rng.normal(10, 2, 5000)))
    moved = population_stability(profile.shares, profile.counts(rng.normal(12, 2, 5000)))
    assert same < 0.02
    assert moved > 0.25


def test_ties_merge_bins_at_values_seen_in_training() -> None:
    profile = binned(np.array([0.0] * 90 + [1.0] * 10))
    assert profile.edges == (0.0,)
    assert profile.shares == (0.9, 0.1)


@pytest.mark.parametrize(
    ("psi", "status"),
    [(0.0, "stable"), (0.0999, "stable"), (0.1, "watch"), (0.25, "watch"), (0.2501, "act")],
)
def test_status_thresholds(psi: float, status: str) -> None:
    assert status_of(psi) == status


def test_categories_training_never_saw_fill_the_unseen_bin() -> None:
    frame = pd.DataFrame({"term": ["term_36"] * 70 + ["term_60"] * 30})
    profile = build_profile(frame, np.linspace(0, 1, 100), threshold=0.5)
    term = profile.features["term"]
    assert term.kind == "category"
    assert term.shares == (0.7, 0.3, 0.0)
    assert term.counts(["term_36", "term_84", "term_84"]).tolist() == [1, 0, 2]
    unseen = pd.DataFrame({"input.term": ["term_84"] * 50 + ["term_36"] * 50})
    assert feature_drift(profile, unseen)["term"]["status"] == "act"
    usual = pd.DataFrame({"input.term": ["term_36"] * 69 + ["term_60"] * 31})
    assert feature_drift(profile, usual)["term"]["status"] == "stable"
    assert profile.score.approval_rate == 0.5
