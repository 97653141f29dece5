"""The bodies of prediction answers: label and probabilities, reasons with every decline, and on
request the full explanation of every row.

A decline is the positive class (`bad`). Its `reasons` are a list (empty if nothing nameable
raised the risk), or null if the model serving cannot explain (see `ServingModel.unexplained`).
Nothing is explained for an approved row unless `explain` is asked, so approving costs nothing more.
"""

from __future__ import annotations

from typing import Any

from loanapp.compiled import Scored
from loanapp.predict_api.serving_model import ServingModel
from loanapp.reasons import principal_reasons
from loanapp.schema import FeatureValue
from loanapp.validation import ValidatedRows


def single_answer(serving: ServingModel, rows: ValidatedRows, explain: bool) -> dict[str, Any]:
    """The answer to /predict: one applicant."""
    scored = serving.score(rows.columns, rows.row_count)
    probabilities = scored.probabilities[0].tolist()
    label = serving.label(probabilities)
    answer = serving.answer_header | {"prediction": label, "predict_proba": probabilities}
    declined = label == serving.positive_index
    if declined or explain:
        contributions = _contributions(serving, rows, scored, [0]).get(0)
        if declined:
            answer["reasons"] = _reasons(serving, contributions, rows.columns, 0)
        if explain:
            answer["explanation"] = _explanation(serving, contributions)
    if rows.warnings:
        answer["warnings"] = rows.warnings
    return answer


def batch_answer(serving: ServingModel, rows: ValidatedRows, explain: bool) -> dict[str, Any]:
    """The answer to /predict/batch: `reasons` (and `explanations`) aligned with `predictions`."""
    scored = serving.score(rows.columns, rows.row_count)
    labels = serving.labels(scored.probabilities)
    answer = serving.answer_header | {
        "predictions": labels.tolist(),
        "predict_proba": scored.probabilities.tolist(),
    }
    declined = (labels == serving.positive_index).tolist()
    explained = [row for row in range(rows.row_count) if explain or declined[row]]
    by_row = _contributions(serving, rows, scored, explained)
    answer["reasons"] = [
        _reasons(serving, by_row.get(row), rows.columns, row) if is_declined else []
        for row, is_declined in enumerate(declined)
    ]
    if explain:
        answer["explanations"] = [
            _explanation(serving, by_row.get(row)) for row in range(rows.row_count)
        ]
    if rows.warnings:
        answer["warnings"] = rows.warnings
    return answer


def _contributions(
    serving: ServingModel, rows: ValidatedRows, scored: Scored, explained: list[int]
) -> dict[int, list[float]]:
    """Contributions of the rows `explained`, by row; none if the model cannot explain."""
    if serving.explainer is None or not explained:
        return {}
    columns = rows.columns
    if len(explained) < rows.row_count:
        columns = {name: [values[row] for row in explained] for name, values in columns.items()}
        scored = scored.take(explained)
    contributions = serving.explainer.contributions(columns, len(explained), scored)
    return dict(zip(explained, contributions.tolist(), strict=True))


def _reasons(
    serving: ServingModel,
    contributions: list[float] | None,
    columns: dict[str, list[FeatureValue]],
    row: int,
) -> list[dict[str, Any]] | None:
    """The reasons of declined row `row` from its contributions; None if it has none."""
    if contributions is None or serving.explainer is None:
        return None
    return principal_reasons(serving.explainer.features, contributions, columns, row)


def _explanation(serving: ServingModel, contributions: list[float] | None) -> dict[str, Any] | None:
    """One row's explanation from its contributions; None if it has none."""
    if contributions is None or serving.explainer is None:
        return None
    explainer = serving.explainer
    return {
        "base_value": explainer.base_value,
        "contributions": dict(zip(explainer.features, contributions, strict=True)),
    }
