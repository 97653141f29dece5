"""The drift report: logged rows of each version against its training profile, as data and text.

The report's top level is the worst over the versions in the log (a feature's highest PSI), so
one version that drifts is never hidden by another; `versions` holds each version's own figures.
A version whose artifact carries no training profile (trained before profiles were stored) or is
not in the store is listed under `skipped`, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loanapp.monitoring.drift import daily, feature_drift, score_drift, worst
from loanapp.monitoring.profile import TrainingProfile

if TYPE_CHECKING:
    import pandas as pd

ProfileSource = Callable[[str], TrainingProfile | str]
"""A version's training profile, or why there is none."""


def build_report(rows: pd.DataFrame, profile_of: ProfileSource) -> dict[str, Any]:
    """The report over every logged row: features, score, days, versions, skipped."""
    versions: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for version, of_version in rows.groupby("model_version", sort=True):
        profile = profile_of(str(version))
        if isinstance(profile, str):
            skipped[str(version)] = profile
            continue
        versions[str(version)] = {
            "rows": len(of_version),
            "features": feature_drift(profile, of_version),
            "score": score_drift(profile.score, of_version),
        }
    scores = [entry["score"] for entry in versions.values()]
    return {
        "rows": len(rows),
        "features": worst([entry["features"] for entry in versions.values()]),
        "score": max(scores, key=lambda score: score["psi"]) if scores else {},
        "days": daily(rows) if len(rows) else [],
        "versions": versions,
        "skipped": skipped,
    }


def report_table(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    lines = [f"{report['rows']} rows logged, {len(report['versions'])} version(s) compared"]
    lines += [f"skipped {v[:12]}: {reason}" for v, reason in report["skipped"].items()]
    if report["features"]:
        lines += ["", f"{'feature':<28} {'psi':>7}  status"]
        lines += [
            f"{name:<28} {entry['psi']:>7.3f}  {entry['status']}"
            for name, entry in sorted(report["features"].items(), key=lambda kv: -kv[1]["psi"])
        ]
    score = report["score"]
    if score:
        lines += [
            "",
            f"{'score p(bad)':<28} {score['psi']:>7.3f}  {score['status']}",
            f"  mean p(bad) {score['mean_p_bad']:.3f} (training {score['training_mean_p_bad']:.3f})"
            f", approved {score['approval_rate']:.1%} "
            f"(training {score['training_approval_rate']:.1%})",
        ]
    if report["days"]:
        lines += ["", f"{'date':<12} {'rows':>8} {'approved':>9} {'mean p(bad)':>12}"]
        lines += [
            f"{day['date']:<12} {day['rows']:>8} {day['approval_rate']:>9.1%} "
            f"{day['mean_p_bad']:>12.3f}"
            for day in report["days"]
        ]
    return "\n".join(lines)
