"""Metrics of the predict API: rows scored, p(bad), validation problems, the model served."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from loanapp.metrics.histograms import observe_many
from loanapp.validation.findings import problem_kind

OTHER_FIELD: Final = "other"
"""The field label of a problem outside the schema's features (an unknown name, a whole row)."""
APPROVE: Final = "approve"
DECLINE: Final = "decline"
"""A row whose positive class ("bad") reaches the threshold is declined."""

PROBABILITY_BUCKETS: Final = (
    0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
)  # fmt: skip

PREDICTIONS: Final = Counter(
    "loanapp_predictions",
    "Rows scored, by model version and decision (decline: p(bad) reached the threshold).",
    ["version", "decision"],
)
PROBABILITY: Final = Histogram(
    "loanapp_prediction_probability",
    "Predicted probability of the positive class (p(bad)) of each row scored.",
    buckets=PROBABILITY_BUCKETS,
)
VALIDATION_ERRORS: Final = Counter(
    "loanapp_validation_errors",
    "Problems found in request rows (422), by schema feature and kind of problem.",
    ["field", "problem"],
)
MODEL_INFO: Final = Gauge(
    "loanapp_model_info",
    "1 for the version and predictor each live worker serves (pid label), 0 for earlier ones.",
    ["version", "predictor"],
    multiprocess_mode="liveall",
)
MODEL_UPDATES: Final = Counter(
    "loanapp_model_updates",
    "Model updates tried by the workers: success (a version swapped in) or failure (kept the old).",
    ["result"],
)

PREDICTION_LOG_WRITTEN: Final = Counter(
    "loanapp_prediction_log_written",
    "Rows written to the prediction log.",
)
PREDICTION_LOG_DROPPED: Final = Counter(
    "loanapp_prediction_log_dropped",
    "Rows not recorded in the prediction log: its queue was full, or writing failed.",
)
PREDICTION_LOG_SHIPPED: Final = Counter(
    "loanapp_prediction_log_shipped_files",
    "Finished prediction-log files uploaded to the object store, by result (success, retry).",
    ["result"],
)


def count_predictions(version: str, declined: int, approved: int) -> None:
    """Count rows scored by `version`, by decision."""
    for decision, rows in ((DECLINE, declined), (APPROVE, approved)):
        if rows:
            PREDICTIONS.labels(version, decision).inc(rows)


def observe_probabilities(probabilities: Sequence[float]) -> None:
    """Observe each scored row's p(bad)."""
    if probabilities:
        observe_many(PROBABILITY, probabilities)


def record_validation_problems(
    problems: Iterable[Mapping[str, object]], features: Collection[str]
) -> None:
    """Count each problem of a rejected request, by feature (bounded to the schema's) and kind."""
    for problem in problems:
        field = problem.get("field")
        label = field if isinstance(field, str) and field in features else OTHER_FIELD
        VALIDATION_ERRORS.labels(label, problem_kind(str(problem.get("problem", "")))).inc()


def record_model_served(version: str, predictor: str, previous: tuple[str, str] | None) -> None:
    """This worker now serves `version` by `predictor`; `previous` (version, predictor) no more."""
    if previous is not None and previous != (version, predictor):
        MODEL_INFO.labels(*previous).set(0)
    MODEL_INFO.labels(version, predictor).set(1)


def record_model_update(succeeded: bool) -> None:
    """Count one update attempt of the watcher."""
    MODEL_UPDATES.labels("success" if succeeded else "failure").inc()
