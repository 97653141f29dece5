"""The predict API's prediction log: every route records its rows; a full queue fails nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from loanapp.dev.traffic import sample_rows
from loanapp.predict_api.app import create_app, open_prediction_log
from loanapp.predict_api.serving_model import load_serving_model
from loanapp.predict_api.state import PredictApiState
from loanapp.settings import PredictApiSettings
from loanapp.training.train import TrainingResult
from loanapp.web import get_state
from tests.predlog.test_log import dropped

ROWS = sample_rows(6)


def logged_app(tmp_path: Path, logreg: TrainingResult, **settings: Any) -> Flask:
    """The app serving logreg, its prediction log (not started) under tmp_path/log."""
    app = create_app(
        PredictApiSettings(
            cache_dir=tmp_path / "cache", prediction_log=str(tmp_path / "log"), **settings
        ),
        follow=False,
    )
    get_state(app, PredictApiState).slot.swap(
        load_serving_model(logreg.artifact, logreg.version, "test")
    )
    return app


def lines_of(tmp_path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((tmp_path / "log").rglob("*.jsonl.gz"))
        for line in gzip.open(path, "rt")
    ]


def test_every_prediction_route_records_its_rows(tmp_path: Path, logreg: TrainingResult) -> None:
    app = logged_app(tmp_path, logreg)
    log = get_state(app, PredictApiState).prediction_log
    assert log is not None
    log.start()
    client = app.test_client()
    single = client.post("/predict", json=ROWS[0], headers={"X-Request-ID": "one-row"})
    batch = client.post("/predict/batch", json=ROWS, headers={"X-Request-ID": "batch"})
    tensors = [
        {"name": name, "datatype": "BYTES" if isinstance(ROWS[0][name], str) else "FP64",
         "shape": [2], "data": [row[name] for row in ROWS[:2]]}
        for name in ROWS[0]
    ]  # fmt: skip
    infer = client.post(
        "/v2/models/loan/infer", json={"inputs": tensors}, headers={"X-Request-ID": "v2"}
    )
    assert [single.status_code, batch.status_code, infer.status_code] == [200, 200, 200]
    log.stop()

    lines = lines_of(tmp_path)
    by_request = {
        rid: [x for x in lines if x["request_id"] == rid] for rid in ("one-row", "batch", "v2")
    }
    assert [len(rows) for rows in by_request.values()] == [1, 6, 2]
    answer = batch.get_json()
    assert [x["p_bad"] for x in by_request["batch"]] == [p[1] for p in answer["predict_proba"]]
    assert [x["input"] for x in by_request["batch"]] == ROWS
    assert by_request["one-row"][0]["p_bad"] == single.get_json()["predict_proba"][1]
    assert {x["model_version"] for x in lines} == {logreg.version}


def test_a_full_queue_never_fails_or_holds_a_request(
    tmp_path: Path, logreg: TrainingResult
) -> None:
    app = logged_app(tmp_path, logreg, prediction_log_queue=1)  # never drained: not started
    client = app.test_client()
    before = dropped()
    answers = [client.post("/predict/batch", json=ROWS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert dropped() - before == 3 * len(ROWS)


@pytest.mark.parametrize("value", ["off", "OFF", " off "])
def test_off_records_nothing(tmp_path: Path, value: str) -> None:
    settings = PredictApiSettings(cache_dir=tmp_path / "cache", prediction_log=value)
    assert open_prediction_log(settings) is None


def test_an_s3_log_is_written_in_the_spool_and_shipped(tmp_path: Path) -> None:
    settings = PredictApiSettings(
        cache_dir=tmp_path / "cache",
        prediction_log="s3://bucket/predictions",
        prediction_log_spool=tmp_path / "spool",
    )
    log = open_prediction_log(settings)
    assert log is not None
    assert log.root == tmp_path / "spool"
    assert log.shipper is not None
