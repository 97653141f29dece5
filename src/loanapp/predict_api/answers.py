"""The bodies of prediction answers: label and probabilities, reasons with every decline, and on
request the full explanation of every row.

A decline is the positive class (`bad`). Its `reasons` are a list (empty if nothing nameable
raised the risk), or null if the model serving cannot explain (see `ServingModel.unexplained`).
Nothing is explained for an approved row unless `explain` is asked, so approving costs nothing more.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loanapp.explain import Explainer
from loanapp.predict_api.scoring import count_scored
from loanapp.predict_api.serving_model import ServingModel
from loanapp.reasons import principal_reasons, principal_reasons_of_rows
from loanapp.request_records import RECORDER
from loanapp.validation import ValidatedRows


def single_answer(serving: ServingModel, rows: ValidatedRows, explain: bool) -> dict[str, Any]:
    """The answer to /predict: one applicant."""
    scored = serving.score(rows.columns, rows.row_count)
    probabilities = scored.probabilities[0].tolist()
    label = serving.label(probabilities)
    answer = serving.answer_header | {"prediction": label, "predict_proba": probabilities}
    declined = label == serving.positive_index
    positive = probabilities[serving.positive_index]
    RECORDER.rows_scored(serving.version, int(declined), int(not declined), (positive,))
    if declined or explain:
        explainer = serving.explainer
        contributions = (
            None
            if explainer is None
            else explainer.contributions(rows.columns, 1, scored)[0].tolist()
        )
        if declined:
            answer["reasons"] = (
                None
                if explainer is None or contributions is None
                else principal_reasons(explainer.features, contributions, rows.columns, 0)
            )
        if explain:
            answer["explanation"] = _explanation(explainer, contributions)
    if rows.warnings:
        answer["warnings"] = rows.warnings
    return answer


def batch_answer(serving: ServingModel, rows: ValidatedRows, explain: bool) -> dict[str, Any]:
    """The answer to /predict/batch: `reasons` (and `explanations`) aligned with `predictions`."""
    scored = serving.score(rows.columns, rows.row_count)
    labels = serving.labels(scored.probabilities)
    count_scored(serving, scored.probabilities, labels)
    answer = serving.answer_header | {
        "predictions": labels.tolist(),
        "predict_proba": scored.probabilities.tolist(),
    }
    declined = np.flatnonzero(labels == serving.positive_index).tolist()
    explainer = serving.explainer
    reasons: list[list[dict[str, Any]] | None] = [[] for _ in range(rows.row_count)]
    explained = list(range(rows.row_count)) if explain else declined
    if explainer is None or not explained:
        for row in declined:
            reasons[row] = None
        if explain:
            answer["explanations"] = [None] * rows.row_count
    else:
        if len(explained) < rows.row_count:
            # The rows' design matrix (and trees' decisions) carry them: no columns are needed.
            scored = scored.take(explained)
        contributions = explainer.contributions(rows.columns, len(explained), scored)
        of_declined = contributions[declined] if explain else contributions
        for row, found in zip(
            declined,
            principal_reasons_of_rows(explainer.features, of_declined, rows.columns, declined),
            strict=True,
        ):
            reasons[row] = found
        if explain:
            answer["explanations"] = [
                _explanation(explainer, row) for row in contributions.tolist()
            ]
    answer["reasons"] = reasons
    if rows.warnings:
        answer["warnings"] = rows.warnings
    return answer


def _explanation(
    explainer: Explainer | None, contributions: list[float] | None
) -> dict[str, Any] | None:
    """One row's explanation from its contributions; None if it has none."""
    if explainer is None or contributions is None:
        return None
    return {
        "base_value": explainer.base_value,
        "contributions": dict(zip(explainer.features, contributions, strict=True)),
    }
