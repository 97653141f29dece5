"""What every prediction route does with a parsed body: take the served model once, validate the
rows against its schema, score them, count what it found (the metrics) and log the decisions."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from loanapp.errors import RequestValidationError
from loanapp.logs import model_version_var
from loanapp.metrics.predictions import record_validation_problems
from loanapp.predict_api.serving_model import ServingModel
from loanapp.predict_api.slot import ModelSlot
from loanapp.predlog.log import PredictionLog
from loanapp.request_records import RECORDER
from loanapp.validation import ValidatedRows, validate_request


def take_serving_model(slot: ModelSlot) -> ServingModel:
    """The model this request finishes on (taken once), named in the request's log line."""
    serving = slot.require()
    model_version_var.set(serving.version)
    return serving


def validated_rows(
    serving: ServingModel, body: object, *, single: bool, max_rows: int
) -> ValidatedRows:
    """The body's rows checked against the serving model's schema; problems counted, then raised."""
    schema = serving.metadata.input_schema
    try:
        return validate_request(schema, body, single=single, max_rows=max_rows)
    except RequestValidationError as exc:
        record_validation_problems(exc.problems, {feature.name for feature in schema.features})
        raise


def log_decisions(
    log: PredictionLog | None,
    serving: ServingModel,
    rows: ValidatedRows,
    probabilities: Any,
    labels: Any,
    reasons: Any = None,
) -> None:
    """Hand a request's decisions to the worker's prediction log: references on a queue, no more.

    The one call per prediction request; everything it takes was built for the answer already.
    """
    if log is not None:
        log.submit(
            serving.version,
            serving.positive_index,
            rows.columns,
            rows.row_count,
            probabilities,
            labels,
            reasons,
        )


def score_rows(serving: ServingModel, rows: ValidatedRows) -> tuple[list[list[float]], list[int]]:
    """Class probabilities and labels of validated rows, counted by version and decision."""
    probabilities = serving.predict_proba(rows.columns, rows.row_count)
    if rows.row_count == 1:  # one applicant: plain Python is quicker than numpy's calls
        row = probabilities[0].tolist()
        label = serving.label(row)
        declined = int(label == serving.positive_index)
        RECORDER.rows_scored(
            serving.version, declined, 1 - declined, (row[serving.positive_index],)
        )
        return [row], [label]
    labels = serving.labels(probabilities)
    count_scored(serving, probabilities, labels)
    return probabilities.tolist(), labels.tolist()


def count_scored(
    serving: ServingModel, probabilities: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]
) -> None:
    """Count scored rows by version and decision, and observe each row's p(bad)."""
    declined = int((labels == serving.positive_index).sum())
    positives = probabilities[:, serving.positive_index].tolist()
    RECORDER.rows_scored(serving.version, declined, len(labels) - declined, positives)
