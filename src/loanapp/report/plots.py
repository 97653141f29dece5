"""The report's plots as PNG files, drawn with matplotlib (the `report` extra) off-screen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

from loanapp.report.figures import Holdout, cost_curve

PLOTS: dict[str, str] = {
    "roc.png": "ROC curve",
    "precision_recall.png": "Precision-recall curve",
    "calibration.png": "Calibration curve (ten equal-count bins)",
    "score_distribution.png": "Score distribution by outcome",
    "cost_by_threshold.png": "Cost per applicant by threshold, the chosen one marked",
}
"""Every plot a report draws: file name and title."""


def draw_plots(holdout: Holdout, folder: Path) -> list[Path]:
    """Draw every plot of PLOTS into `folder`; the files written, in PLOTS order."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, whatever the machine has
    from matplotlib import pyplot

    drawers: dict[str, Callable[[Any, Holdout], None]] = {
        "roc.png": _roc,
        "precision_recall.png": _precision_recall,
        "calibration.png": _calibration,
        "score_distribution.png": _scores,
        "cost_by_threshold.png": _cost,
    }
    written = []
    for name, title in PLOTS.items():
        figure, axes = pyplot.subplots(figsize=(5, 4), dpi=100)
        drawers[name](axes, holdout)
        axes.set_title(title, fontsize=10)
        figure.tight_layout()
        figure.savefig(folder / name)
        pyplot.close(figure)
        written.append(folder / name)
    return written


def _roc(axes: Any, holdout: Holdout) -> None:
    false_positive, true_positive, _ = roc_curve(holdout.target, holdout.probability)
    axes.plot(false_positive, true_positive, label="model")
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axes.set_xlabel("good loans declined (false-positive rate)")
    axes.set_ylabel("defaults caught (true-positive rate)")
    axes.legend(loc="lower right")


def _precision_recall(axes: Any, holdout: Holdout) -> None:
    precision, recall, _ = precision_recall_curve(holdout.target, holdout.probability)
    axes.plot(recall, precision)
    axes.axhline(holdout.target.mean(), linestyle=":", color="grey", label="base rate")
    axes.set_xlabel("recall (defaults caught)")
    axes.set_ylabel("precision (declines that default)")
    axes.legend(loc="upper right")


def _calibration(axes: Any, holdout: Holdout) -> None:
    observed, predicted = calibration_curve(
        holdout.target, holdout.probability, n_bins=10, strategy="quantile"
    )
    axes.plot(predicted, observed, marker="o", label="model")
    top = max(float(np.max(predicted)), float(np.max(observed)), 0.05)
    axes.plot([0, top], [0, top], linestyle=":", color="grey", label="perfect")
    axes.set_xlabel("mean predicted p(bad)")
    axes.set_ylabel("observed default rate")
    axes.legend(loc="upper left")


def _scores(axes: Any, holdout: Holdout) -> None:
    bins = np.linspace(0, max(float(holdout.probability.max()), 0.01), 40)
    for label, value in (("repaid", 0), ("defaulted", 1)):
        scores = holdout.probability[holdout.target == value]
        axes.hist(scores, bins=bins, density=True, alpha=0.5, label=label)
    axes.axvline(holdout.metadata.decision.threshold, color="black", label="threshold")
    axes.set_xlabel("p(bad)")
    axes.set_ylabel("density")
    axes.legend(loc="upper right")


def _cost(axes: Any, holdout: Holdout) -> None:
    thresholds, cost = cost_curve(holdout)
    chosen = holdout.metadata.decision.threshold
    axes.plot(thresholds, cost)
    axes.axvline(chosen, color="black", linestyle="--", label=f"chosen {chosen:g}")
    axes.set_xscale("log")
    axes.set_xlabel("threshold on p(bad) (declined from it up)")
    axes.set_ylabel("cost per applicant (loan units)")
    axes.legend(loc="upper right")
