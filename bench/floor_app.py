"""Framework floor: the predict API's server stack with no model work, `bench.floor_app:app`.

POST /predict reads the JSON body with the predict API's own parser (`loanapp.web.read_json_body`)
and answers a constant JSON body shaped like a /predict answer, encoded the way the predict API
encodes its answers. It runs under the same gunicorn command line and worker settings as the
predict API, so the gap between the two is what the model, validation and the API's own
per-request work cost.
"""

from __future__ import annotations

from flask import Flask, Response, request

from loanapp.web import json_response, read_json_body

CONSTANT_ANSWER = {
    "model_version": "0" * 64,
    "classes": ["good", "bad"],
    "positive_class": "bad",
    "threshold": 0.14,
    "prediction": 0,
    "predict_proba": [0.9728455579135232, 0.027154442086476802],
}

app = Flask(__name__)


@app.post("/predict")
def predict() -> Response:
    """Parse the body as the predict API does, and answer a constant."""
    read_json_body(request)
    return json_response(CONSTANT_ANSWER)


@app.get("/healthz")
def healthz() -> Response:
    """Alive."""
    return json_response({"status": "ok"})
