"""In-process floor: what a predict-API worker does per request, minus HTTP, timed with timeit."""

from __future__ import annotations

import timeit
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from threadpoolctl import threadpool_limits

from loanapp.predict_api.serving_model import ServingModel
from loanapp.reasons import principal_reasons, principal_reasons_of_rows
from loanapp.settings import PredictApiSettings, load_settings
from loanapp.validation import validate_request

REPEATS = 20
BATCH_ROWS = 100
REASONS_STEP = "reasons of a decline"
"""What naming a declined row's reasons adds to its answer: the explainer's contributions from
what scoring computed, then the ranking, as the predict API's answers compute them."""


@dataclass(frozen=True)
class Timing:
    """Best time per call of one step, for one model and one request size."""

    model: str
    predictor: str
    rows: int
    step: str
    seconds_per_call: float

    @property
    def calls_per_second(self) -> float:
        """Calls per second on one core."""
        return 1.0 / self.seconds_per_call

    @property
    def rows_per_second(self) -> float:
        """Rows per second on one core."""
        return self.rows / self.seconds_per_call

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived rates."""
        return asdict(self) | {
            "calls_per_second": self.calls_per_second,
            "rows_per_second": self.rows_per_second,
        }


def best_seconds_per_call(call: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best of `repeats` timeit runs of about 50 ms each.

    Many short runs rather than a few long ones: on a shared machine, the best of many is likelier
    to fall in a quiet moment, which is what the code itself costs.
    """
    timer = timeit.Timer(call)
    number, _ = timer.autorange()  # calls that take at least 0.2 s
    number = max(1, number // 4)
    return min(timer.repeat(repeat=repeats, number=number)) / number


def measure_model(
    model: str, serving: ServingModel, rows: Sequence[dict[str, Any]]
) -> list[Timing]:
    """Validation, predict_proba and both together, for 1 row (/predict) and 100 (/predict/batch),
    called as the predict API's views call them; and the reasons of the same rows, all declined.

    Math-library threads are limited as the predict API limits them in each worker.
    """
    settings = load_settings(PredictApiSettings)
    with threadpool_limits(limits=settings.model_threads):
        return [
            *_time_request(model, serving, rows[0], single=True, max_rows=1),
            *_time_request(
                model,
                serving,
                list(rows[:BATCH_ROWS]),
                single=False,
                max_rows=settings.max_batch_rows,
            ),
        ]


def _time_request(
    model: str, serving: ServingModel, body: object, *, single: bool, max_rows: int
) -> list[Timing]:
    schema = serving.metadata.input_schema
    checked = validate_request(schema, body, single=single, max_rows=max_rows)

    def validate() -> object:
        return validate_request(schema, body, single=single, max_rows=max_rows)

    def predict() -> object:
        return serving.predict_proba(checked.columns, checked.row_count)

    def both() -> object:
        rows = validate_request(schema, body, single=single, max_rows=max_rows)
        return serving.predict_proba(rows.columns, rows.row_count)

    steps = {
        "validate_request": validate,
        "predict_proba": predict,
        "validate_request + predict_proba": both,
    }
    explainer = serving.explainer
    if explainer is not None:
        columns, count = checked.columns, checked.row_count
        scored = serving.score(columns, count)

        def reasons() -> object:
            contributions = explainer.contributions(columns, count, scored)
            if count == 1:
                return principal_reasons(explainer.features, contributions[0].tolist(), columns, 0)
            return principal_reasons_of_rows(
                explainer.features, contributions, columns, range(count)
            )

        steps[REASONS_STEP] = reasons
    return [
        Timing(model, serving.predictor_kind, checked.row_count, step, best_seconds_per_call(call))
        for step, call in steps.items()
    ]
