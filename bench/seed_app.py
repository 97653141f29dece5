"""Seed baseline: the original design's per-request path, kept here only, `bench.seed_app:app`.

On every request it builds a pandas DataFrame from the columnar JSON body
(`{"feature": [value], ...}`), asks the model server for the current version over HTTP, then calls
the scikit-learn pipeline's `predict` and `predict_proba`. The pipeline is loaded once per worker
from the artifact named by BENCH_SEED_ARTIFACT, verified against BENCH_SEED_SHA256.
Math-library threads are left at their defaults, as the seed left them.

The model-server call goes through one shared urllib3 pool (kept-alive connections), which is the
seed's best case: a client without a pool would also open a connection per request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import urllib3
from flask import Flask, Response, jsonify, request

from loanapp.artifacts import load_model
from loanapp.defaults import DEFAULT_MODEL_NAME

MODEL_SERVER_URL = os.environ.get("MODEL_SERVER_URL", "http://127.0.0.1:8001").rstrip("/")
MODEL_NAME = os.environ.get("LOANAPP_MODEL_NAME", DEFAULT_MODEL_NAME)
CURRENT_URL = f"{MODEL_SERVER_URL}/v1/models/{MODEL_NAME}/current"

model: Any = load_model(
    Path(os.environ["BENCH_SEED_ARTIFACT"]).read_bytes(), os.environ["BENCH_SEED_SHA256"]
).estimator
http = urllib3.PoolManager()
app = Flask(__name__)


@app.post("/predict")
def predict() -> Response:
    """DataFrame from the body, current version from the model server, predict, predict_proba."""
    frame = pd.DataFrame.from_dict(request.get_json())
    current = http.request("GET", CURRENT_URL).json()
    prediction = model.predict(frame)
    probabilities = model.predict_proba(frame)
    return jsonify(
        {
            "prediction": prediction.tolist(),
            "predict_proba": probabilities.tolist(),
            "model_version": current["version"],
        }
    )


@app.get("/healthz")
def healthz() -> Response:
    """Alive."""
    return jsonify({"status": "ok"})
