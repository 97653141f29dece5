"""The numbers of a report, recomputed from the artifact and its training data (no retraining).

The artifact stores its metrics and money with their intervals, but not its predictions. The
report rebuilds the holdout exactly (same data, holdout fraction and seed: the data's SHA-256 is
checked) and scores it with the model, so its curves, bands and reasons come from rows the model
was not fitted on. Out-of-fold predictions would need the cross-validation run again (minutes for
the trees); the stored CV figures stand in for them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loanapp.artifacts import ArtifactMetadata, load_model, read_compiled
from loanapp.errors import InvalidInputError
from loanapp.explain import load_explainer
from loanapp.reasons import principal_reasons_of_rows
from loanapp.training.data import Dataset
from loanapp.training.evaluation import THRESHOLD_GRID
from loanapp.training.money import Costs
from loanapp.training.train import split_holdout

FloatArray = npt.NDArray[np.float64]
BANDS = 10


@dataclass(frozen=True)
class Holdout:
    """A version's holdout: outcomes, p(bad), and the reasons its declines would be given."""

    version: str
    metadata: ArtifactMetadata
    target: npt.NDArray[np.int64]
    probability: FloatArray
    reasons: Counter[str]
    """How often each feature is among a declined applicant's principal reasons."""
    declines: int


def score_holdout(data: bytes, version: str, dataset: Dataset) -> Holdout:
    """Rebuild the version's holdout from `dataset` and score it; refuse other data."""
    model = load_model(data, version)
    metadata = model.metadata
    trained_on = metadata.training_data
    if (dataset.sha256, len(dataset.target)) != (trained_on.sha256, trained_on.rows):
        raise InvalidInputError(
            f"version {version[:12]} was trained on {trained_on.source} (SHA-256 "
            f"{trained_on.sha256[:12]}, {trained_on.rows} rows), not on {dataset.source} "
            f"({dataset.sha256[:12]}, {len(dataset.target)} rows): give that data with --data"
        )
    options = metadata.training_options
    _, holdout_x, _, holdout_y = split_holdout(
        dataset, float(options["holdout_fraction"]), int(options["seed"])
    )
    probability = model.predict_proba(holdout_x)[:, metadata.target.positive_index]
    declined = np.flatnonzero(probability >= metadata.decision.threshold)
    reasons: Counter[str] = Counter()
    compiled = read_compiled(data, metadata)
    explainer = (
        None
        if compiled is None
        else load_explainer(compiled, metadata.input_schema.names, metadata.reference.rows)
    )
    if explainer is not None and not isinstance(explainer, str) and len(declined):
        rows = holdout_x.iloc[declined]
        columns = {name: rows[name].tolist() for name in rows.columns}
        contributions = explainer.contributions(columns, len(rows))
        for given in principal_reasons_of_rows(
            explainer.features, contributions, columns, range(len(rows))
        ):
            reasons.update(reason["feature"] for reason in given)
    return Holdout(version, metadata, holdout_y, probability, reasons, len(declined))


def score_bands(holdout: Holdout) -> list[dict[str, float]]:
    """Ten equal-count bands by score, riskiest first: applicants, defaults, bad rate, the share
    of all defaults caught down to this band, and the share the threshold approves."""
    order = np.argsort(-holdout.probability, kind="stable")
    total_defaults = max(int(holdout.target.sum()), 1)
    caught = 0
    bands = []
    for rows in np.array_split(order, BANDS):
        defaults = int(holdout.target[rows].sum())
        caught += defaults
        approved = holdout.probability[rows] < holdout.metadata.decision.threshold
        bands.append(
            {
                "applicants": len(rows),
                "defaults": defaults,
                "bad_rate": defaults / max(len(rows), 1),
                "cumulative_defaults_caught": caught / total_defaults,
                "approval_rate": float(approved.mean()) if len(rows) else 0.0,
                "lowest_score": float(holdout.probability[rows].min()) if len(rows) else 0.0,
            }
        )
    return bands


def cost_curve(holdout: Holdout) -> tuple[FloatArray, FloatArray]:
    """Cost per applicant on the holdout at every threshold of the grid training searched."""
    decision = holdout.metadata.decision
    costs = Costs(decision.cost_of_default, decision.cost_of_rejected_good)
    curve = [
        costs.per_applicant(holdout.target, holdout.probability >= threshold).mean()
        for threshold in THRESHOLD_GRID
    ]
    return THRESHOLD_GRID, np.asarray(curve, dtype=np.float64)
