"""The Open Inference Protocol (V2, REST) on the predict API, beside its own /predict.

KServe, Triton and MLServer clients speak it: health, server and model metadata, and inference
on one tensor per feature. The model is the one the predict API follows (its name, the version
it serves now); a path naming another version is answered 404, since this service swaps versions
and serves one at a time. Errors keep the services' JSON body, whose "error" is the protocol's,
and a request the validator refuses is a 400, as the protocol has it, with the same problems
/predict lists.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from loanapp import __version__
from loanapp.errors import (
    MalformedRequestError,
    ModelNotReadyError,
    NotServedError,
    RequestValidationError,
)
from loanapp.predict_api.answers import batch_answer
from loanapp.predict_api.scoring import (
    log_decisions,
    score_rows,
    take_serving_model,
    validated_rows,
)
from loanapp.predict_api.serving_model import ServingModel
from loanapp.predict_api.state import PredictApiState
from loanapp.predict_api.tensors import REASONS, input_columns, metadata_tensors, output_tensors
from loanapp.web import get_state, json_response, read_json_body

blueprint = Blueprint("open_inference", __name__, url_prefix="/v2")

SERVER_NAME = "loanapp-predict-api"
# Triton's binary tensor extension: the JSON part's length, binary tensors after it.
BINARY_HEADER = "Inference-Header-Content-Length"


def _state() -> PredictApiState:
    return get_state(current_app, PredictApiState)


def _served(name: str, version: str | None) -> ServingModel:
    """The model serving now, if it is the one the path names; NotServedError if not."""
    model_name = _state().settings.model_name
    if name != model_name:
        raise NotServedError(name, version, model_name, None)
    serving = take_serving_model(_state().slot)
    if version is not None and version != serving.version:
        raise NotServedError(name, version, model_name, serving.version)
    return serving


@blueprint.errorhandler(RequestValidationError)
def _invalid_rows(error: RequestValidationError) -> Response:
    """The protocol answers a request it cannot run with 400; the body lists every problem."""
    return json_response(error.to_dict(), 400)


@blueprint.get("")
def server_metadata() -> Response:
    return json_response({"name": SERVER_NAME, "version": __version__, "extensions": []})


@blueprint.get("/health/live")
def live() -> Response:
    return json_response({"live": True})


@blueprint.get("/health/ready")
def ready() -> Response:
    """Ready once a verified model is loaded: the one model this server has."""
    is_ready = _state().slot.current is not None
    return json_response({"ready": is_ready}, 200 if is_ready else 503)


@blueprint.get("/models/<name>")
@blueprint.get("/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None = None) -> Response:
    serving = _served(name, version)
    metadata = serving.metadata
    classes = len(metadata.target.classes)
    return json_response(
        {
            "name": metadata.name,
            "versions": [serving.version],
            "platform": f"scikit-learn ({serving.predictor_kind})",
            **metadata_tensors(metadata.input_schema, classes),
            "parameters": {
                "classes": ",".join(metadata.target.classes),
                "positive_class": metadata.target.positive_class,
                "threshold": metadata.decision.threshold,
            },
        }
    )


@blueprint.get("/models/<name>/ready")
@blueprint.get("/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None) -> Response:
    try:
        serving = _served(name, version)
    except ModelNotReadyError:
        return json_response({"name": name, "ready": False}, 503)
    return json_response({"name": serving.metadata.name, "ready": True})


@blueprint.post("/models/<name>/infer")
@blueprint.post("/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None = None) -> Response:
    """Both class probabilities ([N, 2]) and the label ([N]) of every row, as /predict/batch."""
    if BINARY_HEADER in request.headers:
        raise MalformedRequestError(
            "binary tensor data is not supported: send every input's data as JSON "
            "(tritonclient: set_data_from_numpy(..., binary_data=False))"
        )
    body = read_json_body(request, untyped_is_json=True)
    state = _state()
    serving = _served(name, version)  # taken once: this request finishes on this model
    columns, outputs = input_columns(serving.metadata.input_schema, body)
    rows = validated_rows(serving, columns, single=False, max_rows=state.settings.max_batch_rows)
    reasons = None
    if REASONS in outputs:  # as /predict/batch answers: a decline's reasons, [] for the others
        batch = batch_answer(serving, rows, explain=False)
        probabilities, labels, reasons = (
            batch["predict_proba"],
            batch["predictions"],
            batch["reasons"],
        )
    else:
        probabilities, labels = score_rows(serving, rows)
    tensors = output_tensors(outputs, probabilities, labels, reasons)
    log_decisions(state.prediction_log, serving, rows, probabilities, labels, reasons)
    answer: dict[str, object] = {
        "model_name": serving.metadata.name,
        "model_version": serving.version,
        "outputs": tensors,
    }
    if "id" in body:
        answer["id"] = body["id"]
    if rows.warnings:
        answer["parameters"] = {"warnings": len(rows.warnings)}
        answer["warnings"] = rows.warnings
    return json_response(answer)
