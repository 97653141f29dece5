"""HTTP views of the predict API: parse, validate against the served model's schema, predict."""

from __future__ import annotations

import os

from flask import Blueprint, Response, current_app, request
from threadpoolctl import threadpool_info

from loanapp.errors import InvalidInputError, quoted
from loanapp.openapi.predict_api import ServedModel, build_predict_api_document
from loanapp.predict_api.answers import batch_answer, single_answer
from loanapp.predict_api.scoring import log_decisions, take_serving_model, validated_rows
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.state import PredictApiState
from loanapp.web import get_state, json_response, read_json_body

blueprint = Blueprint("predict_api", __name__)


def _slot() -> ModelSlot:
    return get_state(current_app, PredictApiState).slot


@blueprint.post("/predict")
def predict() -> Response:
    """One applicant: label, class probabilities, model version; the reasons of a decline."""
    body = read_json_body(request)
    explain = _explain_requested()
    state = get_state(current_app, PredictApiState)
    serving = take_serving_model(state.slot)
    rows = validated_rows(serving, body, single=True, max_rows=1)
    answer = single_answer(serving, rows, explain)
    log_decisions(
        state.prediction_log,
        serving,
        rows,
        (answer["predict_proba"],),
        (answer["prediction"],),
        (answer.get("reasons"),),
    )
    return json_response(answer)


@blueprint.post("/predict/batch")
def predict_batch() -> Response:
    """Many applicants, answered in order, all by the same model version."""
    body = read_json_body(request)
    explain = _explain_requested()
    state = get_state(current_app, PredictApiState)
    serving = take_serving_model(state.slot)
    rows = validated_rows(serving, body, single=False, max_rows=state.settings.max_batch_rows)
    answer = batch_answer(serving, rows, explain)
    log_decisions(
        state.prediction_log,
        serving,
        rows,
        answer["predict_proba"],
        answer["predictions"],
        answer["reasons"],
    )
    return json_response(answer)


def _explain_requested() -> bool:
    """Whether `?explain=true` asks for every row's explanation; 400 for another value."""
    if not request.query_string:  # the usual request: no query to parse
        return False
    value = request.args.get("explain", "false")
    if value not in ("true", "false"):
        raise InvalidInputError(f"explain must be true or false, got {quoted(value)}")
    return value == "true"


@blueprint.get("/model")
def model() -> Response:
    """The model serving now: version, when it was loaded, schema, metrics, threshold."""
    serving = take_serving_model(_slot())
    metadata = serving.metadata
    return json_response(
        {
            "name": metadata.name,
            "model_version": serving.version,
            "loaded_at": serving.loaded_at.isoformat(),
            "source": serving.source,
            "predictor": serving.predictor_kind,
            "signed_by": serving.signed_by,
            "explanations": serving.explanations,
            "model_type": metadata.model_type,
            "created_at": metadata.created_at.isoformat(),
            "classes": list(metadata.target.classes),
            "positive_class": metadata.target.positive_class,
            "decision": metadata.decision.model_dump(),
            "schema": metadata.input_schema.model_dump(),
            "metrics": metadata.metrics.model_dump(),
        }
    )


@blueprint.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3.1 document for the model serving now; 503 before one is loaded."""
    state = get_state(current_app, PredictApiState)
    serving = take_serving_model(state.slot)
    served = ServedModel(
        serving.version,
        serving.metadata,
        state.settings.max_batch_rows,
        state.settings.max_body_bytes,
    )
    data = state.documents.get(serving.version, lambda: build_predict_api_document(served))
    return Response(data, mimetype="application/json")


@blueprint.get("/healthz")
def healthz() -> Response:
    """Alive: the process answers."""
    return json_response({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    """Ready when a verified model is loaded; the detail names it, this worker, the last failure."""
    detail = _slot().status() | {
        "worker_pid": os.getpid(),
        "math_threads": {pool["internal_api"]: pool["num_threads"] for pool in threadpool_info()},
    }
    ready = "version" in detail
    return json_response(
        {"status": "ready" if ready else "not ready", **detail}, 200 if ready else 503
    )
