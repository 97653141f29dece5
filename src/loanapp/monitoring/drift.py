"""Drift of logged rows from a version's training profile: PSI per feature and of the score.

The population stability index of live shares a_i against training shares e_i over the same bins
is sum((a_i - e_i) * ln(a_i / e_i)); both shares are floored at `SHARE_FLOOR` so an empty bin
counts as rare, not as infinitely surprising. Below 0.1 a feature is stable, up to 0.25 worth
watching, above it worth acting on (the usual credit-scoring reading).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from loanapp.monitoring.profile import ScoreProfile, TrainingProfile

if TYPE_CHECKING:
    import pandas as pd

Status = Literal["stable", "watch", "act"]
WATCH_FROM = 0.1
ACT_ABOVE = 0.25
SHARE_FLOOR = 1e-4
INPUT_PREFIX = "input."
"""Columns of the logged frame that hold the request's features (see loanapp.predlog.reading)."""


def population_stability(expected: Sequence[float], counts: npt.NDArray[np.int64]) -> float:
    """PSI of observed bin `counts` against the `expected` shares of the same bins."""
    actual = np.maximum(counts / max(int(counts.sum()), 1), SHARE_FLOOR)
    reference = np.maximum(np.asarray(expected, dtype=np.float64), SHARE_FLOOR)
    return float(np.sum((actual - reference) * np.log(actual / reference)))


def status_of(psi: float) -> Status:
    """stable below 0.1, watch up to 0.25, act above."""
    if psi < WATCH_FROM:
        return "stable"
    return "watch" if psi <= ACT_ABOVE else "act"


def feature_drift(profile: TrainingProfile, rows: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """PSI and status of each profiled feature over the logged rows of one version."""
    drift: dict[str, dict[str, Any]] = {}
    for name, distribution in profile.features.items():
        column = rows.get(INPUT_PREFIX + name)
        if column is None:
            continue
        if distribution.kind == "number":
            values = column.to_numpy(dtype=np.float64)
            counts = distribution.counts(values[~np.isnan(values)])
        else:
            counts = distribution.counts(column.dropna().tolist())
        psi = population_stability(distribution.shares, counts)
        drift[name] = {"psi": round(psi, 4), "status": status_of(psi)}
    return drift


def score_drift(score: ScoreProfile, rows: pd.DataFrame) -> dict[str, Any]:
    """The shift of p(bad): its PSI, and mean and approval rate beside training's."""
    p_bad = rows["p_bad"].to_numpy(dtype=np.float64)
    psi = population_stability(score.distribution.shares, score.distribution.counts(p_bad))
    return {
        "psi": round(psi, 4),
        "status": status_of(psi),
        "mean_p_bad": round(float(p_bad.mean()), 4),
        "training_mean_p_bad": round(score.mean, 4),
        "approval_rate": round(float((rows["decision"] == "approve").mean()), 4),
        "training_approval_rate": round(score.approval_rate, 4),
    }


def daily(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows, approval rate and mean p(bad) per day (UTC)."""
    days = rows.assign(
        date=rows["time"].str.slice(0, 10), approved=rows["decision"] == "approve"
    ).groupby("date")
    summary = days.agg(rows=("p_bad", "size"), approved=("approved", "mean"), p=("p_bad", "mean"))
    return [
        {
            "date": str(date),
            "rows": int(day["rows"]),
            "approval_rate": round(float(day["approved"]), 4),
            "mean_p_bad": round(float(day["p"]), 4),
        }
        for date, day in summary.iterrows()
    ]


def worst(per_version: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per feature, the entry with the highest PSI over the versions."""
    merged: dict[str, dict[str, Any]] = {}
    for drift in per_version:
        for name, entry in drift.items():
            if name not in merged or entry["psi"] > merged[name]["psi"]:
                merged[name] = entry
    return merged
