"""The model slot: one reference swapped; a young worker's requests wait for its first model."""

from __future__ import annotations

import threading
import time

import pytest

from loanapp.errors import ModelNotReadyError
from loanapp.predict_api.serving_model import ServingModel, load_serving_model
from loanapp.predict_api.slot import ModelSlot
from loanapp.training.train import TrainingResult


@pytest.fixture
def model(logreg: TrainingResult) -> ServingModel:
    return load_serving_model(logreg.artifact, logreg.version, "test")


def test_a_young_slot_holds_a_request_until_its_first_model(model: ServingModel) -> None:
    slot = ModelSlot(first_load_wait=60.0)
    answered: list[ServingModel | Exception] = []

    def request() -> None:
        try:
            answered.append(slot.require())
        except ModelNotReadyError as exc:
            answered.append(exc)

    waiting = threading.Thread(target=request)
    waiting.start()
    time.sleep(0.2)  # the request is waiting (if it were not, it would have failed by now)
    slot.swap(model)
    waiting.join(10)
    assert answered == [model]


def test_past_its_first_wait_a_slot_without_a_model_refuses_at_once() -> None:
    now = [0.0]
    slot = ModelSlot(first_load_wait=5.0, clock=lambda: now[0])
    slot.record_failure("model server at http://ms is unavailable: connection refused")
    now[0] = 5.0  # the wait is over: no model means a 503 now, not another wait
    with pytest.raises(ModelNotReadyError, match="connection refused"):
        slot.require()


def test_a_slot_with_a_model_answers_at_once(model: ServingModel) -> None:
    slot = ModelSlot()
    slot.swap(model)
    assert slot.require() is model
    with pytest.raises(ModelNotReadyError):
        ModelSlot().require()  # no wait by default
