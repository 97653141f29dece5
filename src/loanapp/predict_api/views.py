"""HTTP views of the predict API: parse, validate against the served model's schema, predict."""

from __future__ import annotations

import os

from flask import Blueprint, Response, current_app, g, request
from threadpoolctl import threadpool_info

from loanapp.errors import RequestValidationError
from loanapp.metrics.predictions import record_predictions, record_validation_problems
from loanapp.predict_api.serving_model import ServingModel
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.state import PredictApiState
from loanapp.settings import PredictApiSettings
from loanapp.validation import ValidatedRows, validate_request
from loanapp.web import get_state, json_response, read_json_body

blueprint = Blueprint("predict_api", __name__)


def _slot() -> ModelSlot:
    return get_state(current_app, PredictApiState).slot


def _settings() -> PredictApiSettings:
    return get_state(current_app, PredictApiState).settings


def _serving() -> ServingModel:
    """The model this request finishes on (taken once), named in the request's log line."""
    serving = _slot().require()
    g.model_version = serving.version
    return serving


def _validated(
    serving: ServingModel, body: object, *, single: bool, max_rows: int
) -> ValidatedRows:
    """The body's rows checked against the serving model's schema; problems counted, then raised."""
    schema = serving.metadata.input_schema
    try:
        return validate_request(schema, body, single=single, max_rows=max_rows)
    except RequestValidationError as exc:
        record_validation_problems(exc.problems, {feature.name for feature in schema.features})
        raise


@blueprint.post("/predict")
def predict() -> Response:
    """One applicant: the label, both class probabilities and the model version."""
    body = read_json_body(request)
    serving = _serving()
    rows = _validated(serving, body, single=True, max_rows=1)
    probabilities = serving.predict_proba(rows.columns, rows.row_count)[0].tolist()
    prediction = serving.label(probabilities)
    declined = int(prediction == serving.positive_index)
    positive = probabilities[serving.positive_index]
    record_predictions(serving.version, declined, 1 - declined, (positive,))
    answer = serving.answer_header | {"prediction": prediction, "predict_proba": probabilities}
    if rows.warnings:
        answer["warnings"] = rows.warnings
    return json_response(answer)


@blueprint.post("/predict/batch")
def predict_batch() -> Response:
    """Many applicants, answered in order, all by the same model version."""
    body = read_json_body(request)
    serving = _serving()
    rows = _validated(serving, body, single=False, max_rows=_settings().max_batch_rows)
    probabilities = serving.predict_proba(rows.columns, rows.row_count)
    labels = serving.labels(probabilities)
    declined = int((labels == serving.positive_index).sum())
    positives = probabilities[:, serving.positive_index].tolist()
    record_predictions(serving.version, declined, len(labels) - declined, positives)
    answer = serving.answer_header | {
        "predictions": labels.tolist(),
        "predict_proba": probabilities.tolist(),
    }
    if rows.warnings:
        answer["warnings"] = rows.warnings
    return json_response(answer)


@blueprint.get("/model")
def model() -> Response:
    """The model serving now: version, when it was loaded, schema, metrics, threshold."""
    serving = _serving()
    metadata = serving.metadata
    return json_response(
        {
            "name": metadata.name,
            "model_version": serving.version,
            "loaded_at": serving.loaded_at.isoformat(),
            "source": serving.source,
            "predictor": serving.predictor_kind,
            "signed_by": serving.signed_by,
            "model_type": metadata.model_type,
            "created_at": metadata.created_at.isoformat(),
            "classes": list(metadata.target.classes),
            "positive_class": metadata.target.positive_class,
            "decision": metadata.decision.model_dump(),
            "schema": metadata.input_schema.model_dump(),
            "metrics": metadata.metrics.model_dump(),
        }
    )


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
