"""The Open Inference Protocol (V2, REST) on the predict API: shapes as the protocol documents
them, the same answers and the same validation as /predict/batch."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from loanapp.dev.traffic import sample_rows
from loanapp.request_records import RECORDER
from loanapp.training.train import TrainingResult

ROWS = sample_rows(5)
MODEL = "/v2/models/loan"

# The response objects of the protocol's REST specification (kserve/open-inference-protocol,
# inference_rest.md), written out as JSON Schema: required fields and their JSON types.
STRINGS = {"type": "array", "items": {"type": "string"}}
TENSOR_METADATA = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
    },
}
SERVER_METADATA = {
    "type": "object",
    "required": ["name", "version", "extensions"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "extensions": STRINGS,
    },
}
MODEL_METADATA = {
    "type": "object",
    "required": ["name", "platform", "inputs", "outputs"],
    "properties": {
        "name": {"type": "string"},
        "versions": STRINGS,
        "platform": {"type": "string"},
        "inputs": {"type": "array", "items": TENSOR_METADATA},
        "outputs": {"type": "array", "items": TENSOR_METADATA},
        "parameters": {"type": "object"},
    },
}
INFERENCE_RESPONSE = {
    "type": "object",
    "required": ["model_name", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    "name": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                    "datatype": {"type": "string"},
                    "data": {"type": "array"},
                },
            },
        },
    },
}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
READY = {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}}


def tensors(rows: list[dict[str, Any]], nested: bool = False) -> list[dict[str, Any]]:
    """One input tensor per feature, as a pandas-codec client sends a DataFrame."""
    inputs = []
    for name, value in rows[0].items():
        values = [row[name] for row in rows]
        datatype = (
            "BYTES" if isinstance(value, str) else "FP64" if type(value) is float else "INT64"
        )
        data: list[Any] = [[v] for v in values] if nested else values
        shape = [len(rows), 1] if nested else [len(rows)]
        inputs.append({"name": name, "shape": shape, "datatype": datatype, "data": data})
    return inputs


def infer(client: FlaskClient, body: object, path: str = MODEL) -> tuple[int, dict[str, Any]]:
    response = client.post(path + "/infer", json=body)
    answer = response.get_json()
    jsonschema.validate(answer, INFERENCE_RESPONSE if response.status_code == 200 else ERROR)
    return response.status_code, answer


def outputs(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {output["name"]: output for output in answer["outputs"]}


@pytest.mark.parametrize("nested", [False, True], ids=["shape-N", "shape-N-1-nested"])
def test_infer_answers_as_predict_batch_does(client: FlaskClient, nested: bool) -> None:
    batch = client.post("/predict/batch", json=ROWS).get_json()
    status, answer = infer(client, {"id": "req-7", "inputs": tensors(ROWS, nested)})
    assert status == 200, answer
    assert (answer["model_name"], answer["model_version"], answer["id"]) == (
        "loan",
        batch["model_version"],
        "req-7",
    )
    found = outputs(answer)
    probabilities = found["predict_proba"]
    assert (probabilities["datatype"], probabilities["shape"]) == ("FP64", [len(ROWS), 2])
    np.testing.assert_array_equal(
        np.reshape(probabilities["data"], probabilities["shape"]), batch["predict_proba"]
    )
    assert found["prediction"] == {
        "name": "prediction",
        "datatype": "INT64",
        "shape": [len(ROWS)],
        "data": batch["predictions"],
    }


def test_infer_gives_only_the_outputs_asked_for_and_on_the_version_path(
    client: FlaskClient, logreg: TrainingResult
) -> None:
    body = {"inputs": tensors(ROWS[:1]), "outputs": [{"name": "prediction"}]}
    status, answer = infer(client, body, f"{MODEL}/versions/{logreg.version}")
    assert status == 200, answer
    assert [output["name"] for output in answer["outputs"]] == ["prediction"]


def test_reasons_come_only_when_asked_as_json_text_per_row(client: FlaskClient) -> None:
    rows = sample_rows(50)  # the fixture's batch limit
    batch = client.post("/predict/batch", json=rows).get_json()
    assert any(batch["reasons"]), "the sample should hold a decline"
    status, plain = infer(client, {"inputs": tensors(rows)})
    assert [output["name"] for output in plain["outputs"]] == ["predict_proba", "prediction"]
    asked = [{"name": "prediction"}, {"name": "reasons"}]
    status, answer = infer(client, {"inputs": tensors(rows), "outputs": asked})
    assert status == 200, answer
    found = outputs(answer)
    assert found["prediction"]["data"] == batch["predictions"]
    reasons = found["reasons"]
    assert (reasons["datatype"], reasons["shape"]) == ("BYTES", [len(rows)])
    assert [json.loads(text) for text in reasons["data"]] == batch["reasons"]


def test_metadata_and_health_follow_the_protocol(client: FlaskClient, logreg: TrainingResult):
    server = client.get("/v2").get_json()
    jsonschema.validate(server, SERVER_METADATA)
    assert client.get("/v2/health/live").get_json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200
    jsonschema.validate(ready.get_json(), READY)
    assert client.get(f"{MODEL}/ready").get_json() == {"name": "loan", "ready": True}
    for path in (MODEL, f"{MODEL}/versions/{logreg.version}"):
        metadata = client.get(path).get_json()
        jsonschema.validate(metadata, MODEL_METADATA)
        assert metadata["versions"] == [logreg.version]
        declared = {tensor["name"]: tensor["datatype"] for tensor in metadata["inputs"]}
        assert declared == {tensor["name"]: tensor["datatype"] for tensor in tensors(ROWS)}
        assert metadata["outputs"] == [
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
            {"name": "prediction", "datatype": "INT64", "shape": [-1]},
            {"name": "reasons", "datatype": "BYTES", "shape": [-1]},
        ]


def test_another_model_or_version_is_404_naming_the_one_served(
    client: FlaskClient, logreg: TrainingResult
) -> None:
    for path in ("/v2/models/other", f"{MODEL}/versions/{'0' * 64}"):
        for suffix, method in (("", "GET"), ("/ready", "GET"), ("/infer", "POST")):
            response = client.open(path + suffix, method=method, json={"inputs": []})
            assert response.status_code == 404, (path, suffix)
            jsonschema.validate(response.get_json(), ERROR)
            assert "serves 'loan'" in response.get_json()["error"]
    error = client.get(f"{MODEL}/versions/abc").get_json()["error"]
    assert error == (
        f"model 'loan' version 'abc' is not served here; this predict API serves 'loan' "
        f"version {logreg.version}"
    )


def test_before_a_model_is_loaded_ready_says_no(empty_app: Flask) -> None:
    client = empty_app.test_client()
    ready = client.get("/v2/health/ready")
    assert (ready.status_code, ready.get_json()) == (503, {"ready": False})
    model_ready = client.get(f"{MODEL}/ready")
    assert (model_ready.status_code, model_ready.get_json()) == (
        503,
        {"name": "loan", "ready": False},
    )
    assert client.get("/v2/health/live").status_code == 200
    status, answer = infer(client, {"inputs": tensors(ROWS)})
    assert status == 503
    assert answer["type"] == "ModelNotReadyError"


def with_input(name: str, **changes: Any) -> dict[str, Any]:
    inputs = tensors(ROWS)
    for tensor in inputs:
        if tensor["name"] == name:
            tensor.update(changes)
    return {"inputs": inputs}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "an inference request is a JSON object with 'inputs'"),
        ({"inputs": []}, "'inputs' must be a non-empty list of tensors"),
        ({"inputs": tensors(ROWS), "id": 42}, "'id' must be a string"),
        ({"inputs": [7]}, "inputs[0] must be an object with name, shape, datatype, data"),
        (with_input("int_rate", shape=[5, 2]), "input 'int_rate': shape must be [N] or [N, 1]"),
        (with_input("int_rate", shape=[-5]), "input 'int_rate': shape must be [N] or [N, 1]"),
        (with_input("int_rate", shape=[4]), "input 'int_rate': shape [4] holds 4 values, data"),
        (with_input("int_rate", datatype="FLOAT"), "datatype FLOAT is not a V2 datatype"),
        # found by fuzzing: an unhashable datatype was a 500
        (with_input("int_rate", datatype={}), "datatype {} is not a V2 datatype"),
        (with_input("int_rate", datatype=["FP64"]), "datatype ['FP64'] is not a V2 datatype"),
        (with_input("term", datatype="FP64"), "datatype FP64 does not fit a category feature"),
        (with_input("int_rate", datatype="BYTES"), "datatype BYTES does not fit a number feature"),
        (with_input("int_rate", data={"0": 1.0}), "input 'int_rate': data must be a list"),
        (with_input("int_rate", data=[[1.0, 2.0]] * 5), "input 'int_rate': data must be a list"),
        (
            {"inputs": [*tensors(ROWS), tensors(ROWS)[0]]},
            "input 'funded_amnt' is given more than once",
        ),
        (
            {"inputs": tensors(ROWS)[:1] + tensors(ROWS[:2])[1:]},
            "every input must have the same first dimension",
        ),
        (
            {"inputs": tensors(ROWS), "outputs": [{"name": "explanation"}]},
            "unknown output 'explanation'",
        ),
        # found by fuzzing: null was taken for "every output"
        ({"inputs": tensors(ROWS), "outputs": None}, "'outputs' must be a list of objects"),
    ],
)
def test_malformed_tensors_are_400_saying_what_and_where(
    client: FlaskClient, body: object, message: str
) -> None:
    status, answer = infer(client, body)
    assert status == 400
    assert answer["type"] == "MalformedRequestError"
    assert message in answer["error"]


def test_invalid_values_are_400_with_the_validators_problems(client: FlaskClient) -> None:
    inputs = tensors(ROWS)
    inputs = [tensor for tensor in inputs if tensor["name"] != "annual_inc"]
    for tensor in inputs:
        if tensor["name"] == "term":
            tensor["data"] = ["term_36", "term_99", "term_36", "term_36", "term_36"]
    status, answer = infer(client, {"inputs": inputs})
    assert status == 400
    assert answer["type"] == "RequestValidationError"
    problems = {(problem["row"], problem["field"]) for problem in answer["problems"]}
    assert problems == {(1, "term"), (0, "annual_inc")}


def test_a_body_without_content_type_is_read_and_binary_tensors_are_refused(
    client: FlaskClient,
) -> None:
    import json

    body = json.dumps({"inputs": tensors(ROWS[:1])})
    assert client.post(f"{MODEL}/infer", data=body).status_code == 200
    plain = client.post(f"{MODEL}/infer", data=body, content_type="text/plain")
    assert plain.status_code == 400
    binary = client.post(
        f"{MODEL}/infer",
        data=body.encode() + b"\x00" * 8,
        headers={"Inference-Header-Content-Length": str(len(body))},
        content_type="application/octet-stream",
    )
    assert binary.status_code == 400
    assert "binary_data=False" in binary.get_json()["error"]


def test_infer_counts_its_rows_in_the_metrics(client: FlaskClient, logreg: TrainingResult) -> None:
    def rows_scored() -> float:
        RECORDER.drain()  # what the worker's own thread does a fraction of a second later
        return sum(
            REGISTRY.get_sample_value(
                "loanapp_predictions_total", {"version": logreg.version, "decision": decision}
            )
            or 0.0
            for decision in ("approve", "decline")
        )

    before = rows_scored()
    status, _ = infer(client, {"inputs": tensors(ROWS)})
    assert status == 200
    assert rows_scored() == before + len(ROWS)
