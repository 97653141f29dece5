"""The predict API's OpenAPI 3.1 document, built from the served model's stored input schema.

Each feature's JSON Schema says what the validator (`loanapp.validation`) accepts: categories as
an enum of those seen in training, integers (integral floats included, as JSON Schema counts
them) and numbers between the hard bounds the validator refuses beyond. Values between the
training range and those bounds are accepted with a warning; the training range is given in
each feature's description and in ``x-training-minimum`` / ``x-training-maximum``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from loanapp.artifacts import ArtifactMetadata, DecisionRule, Metrics
from loanapp.openapi.common import (
    Document,
    Schema,
    document,
    errors,
    json_content,
    model_schemas,
    ok,
    path_parameter,
    ref,
    service_paths,
)
from loanapp.predict_api.tensors import DATATYPES, METADATA_DATATYPES, OUTPUT_NAMES
from loanapp.reasons import MAX_REASONS
from loanapp.schema import FeatureSpec, InputSchema
from loanapp.validation.values import Column

VERSION_PATTERN: Final = "^[0-9a-f]{64}$"
BODY_ERRORS: Final = (400, 413, 415, 422, 503)
SHAPES_TEXT: Final = (
    "Any shape pandas writes: a list of records (`df.to_dict('records')`), columns of lists "
    "(`to_dict('list')`), or columns of index -> value objects (`to_dict()`). Columns must all "
    "have the same length (400 otherwise) and, as index objects, the same keys (422 otherwise); "
    "rows are answered in the order of the first column's keys."
)


@dataclass(frozen=True)
class ServedModel:
    """What the document describes: the served model and the service's limits."""

    version: str
    metadata: ArtifactMetadata
    max_batch_rows: int
    max_body_bytes: int


def build_predict_api_document(served: ServedModel) -> Document:
    """The whole document for the model being served."""
    metadata = served.metadata
    schema = metadata.input_schema
    classes = len(metadata.target.classes)
    example_rows = [dict(row) for row in metadata.reference.rows[:2]]
    schemas = {
        "Row": row_schema(schema),
        "PredictBody": _body_schema(schema, single=True),
        "PredictBatchBody": _body_schema(schema, single=False, max_rows=served.max_batch_rows),
        "Prediction": _prediction_schema(classes, batch=False),
        "BatchPrediction": _prediction_schema(classes, batch=True),
        "ModelInfo": _model_info_schema(),
        "Ready": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"enum": ["ready", "not ready"]},
                "version": {"type": "string", "pattern": VERSION_PATTERN},
                "last_error": {"type": ["string", "null"]},
                "model_server_reached": {"type": "boolean"},
                "worker_pid": {"type": "integer"},
            },
        },
        **_explanation_schemas(schema.names),
        **_v2_schemas(schema, classes),
        **model_schemas([DecisionRule, Metrics, InputSchema]),
    }
    paths = (
        _prediction_paths(example_rows)
        | {"/model": {"get": _model_operation()}}
        | service_paths("predict API", ref("Ready"))
        | _v2_paths(metadata.name, served.version, schema, example_rows)
    )
    description = (
        f"Serves model {metadata.name!r} version {served.version} "
        f"({metadata.model_type}): classes {list(metadata.target.classes)}, positive class "
        f"{metadata.target.positive_class!r}, threshold {metadata.decision.threshold}. "
        f"Batches of at most {served.max_batch_rows} rows; bodies of at most "
        f"{served.max_body_bytes} bytes, as sent or gzip-inflated (Content-Encoding: gzip). "
        "This document changes with the version served: fetch it again after a swap."
    )
    built = document("loanapp predict API", description, paths, schemas)
    built["info"]["x-model-version"] = served.version
    return built


def feature_schema(spec: FeatureSpec) -> Schema:
    """One feature's values as the validator accepts them."""
    if spec.kind == "category":
        return {"type": "string", "enum": list(spec.categories or ())}
    column = Column.of(spec)
    schema: Schema = {"type": spec.kind}
    if math.isfinite(column.low):
        schema["minimum"] = _plain(column.low)
    if math.isfinite(column.high):
        schema["maximum"] = _plain(column.high)
    if spec.minimum is not None and spec.maximum is not None:
        schema["x-training-minimum"] = _plain(spec.minimum)
        schema["x-training-maximum"] = _plain(spec.maximum)
        schema["description"] = (
            f"Seen in training: {_plain(spec.minimum)} to {_plain(spec.maximum)}. Values beyond "
            "that but within minimum/maximum are answered with a warning (the model "
            "extrapolates); values outside minimum/maximum are refused (422)."
        )
    return schema


def row_schema(schema: InputSchema) -> Schema:
    """One applicant: every feature required, none other allowed."""
    return {
        "type": "object",
        "required": schema.names,
        "properties": {spec.name: feature_schema(spec) for spec in schema.features},
        "additionalProperties": False,
    }


def _body_schema(schema: InputSchema, *, single: bool, max_rows: int = 1) -> Schema:
    """The accepted body forms: records (or one record), columns of lists, of index objects."""
    names = schema.names
    lists = {
        spec.name: {
            "type": "array",
            "items": feature_schema(spec),
            "minItems": 1,
            "maxItems": max_rows,
        }
        for spec in schema.features
    }
    index_objects = {
        spec.name: {
            "type": "object",
            "additionalProperties": feature_schema(spec),
            "minProperties": 1,
            "maxProperties": max_rows,
        }
        for spec in schema.features
    }
    records: Schema = {
        "title": "records",
        "type": "array",
        "items": ref("Row"),
        "minItems": 1,
        "maxItems": max_rows,
    }
    forms = [
        records,
        {"title": "columns of lists", "type": "object", "required": names, "properties": lists},
        {
            "title": "columns of index objects",
            "type": "object",
            "required": names,
            "properties": index_objects,
        },
    ]
    for form in forms[1:]:
        form["additionalProperties"] = False
    if single:
        forms.insert(0, ref("Row") | {"title": "one record"})
    return {"anyOf": forms}


def _prediction_schema(classes: int, *, batch: bool) -> Schema:
    properties: dict[str, Schema] = {
        "model_version": {
            "type": "string",
            "pattern": VERSION_PATTERN,
            "description": "SHA-256 of the artifact that answered.",
        },
        "classes": {"type": "array", "items": {"type": "string"}, "minItems": classes},
        "positive_class": {"type": "string"},
        "threshold": {"type": "number"},
        **_scored_rows_schemas(classes, batch=batch),
        "warnings": {
            "type": "array",
            "items": ref("Problem"),
            "description": "Values accepted outside the training range, by row and field.",
        },
    }
    optional = {"warnings", "reasons", "explanation", "explanations"}
    return {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": properties,
        "additionalProperties": False,
    }


def _scored_rows_schemas(classes: int, *, batch: bool) -> dict[str, Schema]:
    """What an answer says of its row (/predict) or rows (/predict/batch, lists in row order)."""
    probabilities: Schema = {
        "type": "array",
        "items": {"type": "number", "minimum": 0, "maximum": 1},
        "minItems": classes,
        "maxItems": classes,
        "description": "predict_proba[i] is the probability of classes[i].",
    }
    label: Schema = {
        "type": "integer",
        "minimum": 0,
        "maximum": classes - 1,
        "description": "Index in `classes` of the predicted class (the positive class when its "
        "probability is at least `threshold`).",
    }
    reasons: Schema = {
        "type": ["array", "null"],
        "items": ref("Reason"),
        "maxItems": MAX_REASONS,
        "description": "The features that raised the risk most, largest first (never the state "
        "or the income verification); null if the model serving cannot explain.",
    }
    explanation: Schema = {"anyOf": [ref("Explanation"), {"type": "null"}]}
    if not batch:
        return {
            "prediction": label,
            "predict_proba": probabilities,
            "reasons": reasons | {"description": "With a decline only. " + reasons["description"]},
            "explanation": explanation | {"description": "With ?explain=true only."},
        }
    return {
        "predictions": {"type": "array", "items": label},
        "predict_proba": {"type": "array", "items": probabilities},
        "reasons": {
            "type": "array",
            "items": reasons,
            "description": "Aligned with predictions: a decline's reasons, [] for an approved row.",
        },
        "explanations": {
            "type": "array",
            "items": explanation,
            "description": "With ?explain=true only, aligned with predictions.",
        },
    }


def _explanation_schemas(features: list[str]) -> dict[str, Schema]:
    return {
        "Reason": {
            "type": "object",
            "required": ["feature", "value", "contribution"],
            "properties": {
                "feature": {"enum": features},
                "value": {"type": ["number", "string"], "description": "The applicant's value."},
                "contribution": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "How much it raised the risk, in log-odds.",
                },
            },
            "additionalProperties": False,
        },
        "Explanation": {
            "type": "object",
            "required": ["base_value", "contributions"],
            "description": "base_value + the sum of contributions = logit of p(positive class).",
            "properties": {
                "base_value": {"type": "number"},
                "contributions": {
                    "type": "object",
                    "properties": {name: {"type": "number"} for name in features},
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
    }


EXPLAIN_PARAMETER: Final[dict[str, Any]] = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"enum": ["true", "false"], "default": "false"},
    "description": "true: every row's explanation in log-odds (reasons come with every decline "
    "anyway). Any other value is a 400.",
}


def _prediction_paths(example_rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = example_rows[0]
    single_examples = {
        "record": {"summary": "one applicant", "value": first},
        "records": {"summary": "a list of one record", "value": [first]},
        "columns": {
            "summary": "columns of lists (df.to_dict('list'))",
            "value": {name: [value] for name, value in first.items()},
        },
        "index": {
            "summary": "columns of index objects (df.to_dict())",
            "value": {name: {"0": value} for name, value in first.items()},
        },
    }
    batch_examples = {
        "records": {"summary": "a list of records", "value": example_rows},
        "columns": {
            "summary": "columns of lists",
            "value": {name: [row[name] for row in example_rows] for name in first},
        },
        "index": {
            "summary": "columns of index objects",
            "value": {
                name: {str(at): row[name] for at, row in enumerate(example_rows)} for name in first
            },
        },
    }
    return {
        "/predict": {
            "post": {
                "operationId": "predict",
                "tags": ["predictions"],
                "summary": "Score one applicant.",
                "description": "One applicant, as an object of its features or any one-row form "
                "of /predict/batch.",
                "parameters": [EXPLAIN_PARAMETER],
                "requestBody": _json_body("PredictBody", single_examples),
                "responses": {"200": ok(ref("Prediction"))} | _body_errors(),
            }
        },
        "/predict/batch": {
            "post": {
                "operationId": "predictBatch",
                "tags": ["predictions"],
                "summary": "Score many applicants, in order, all by one model version.",
                "description": SHAPES_TEXT,
                "parameters": [EXPLAIN_PARAMETER],
                "requestBody": _json_body("PredictBatchBody", batch_examples),
                "responses": {"200": ok(ref("BatchPrediction"))} | _body_errors(),
            }
        },
    }


def _json_body(schema_name: str, examples: dict[str, Any]) -> dict[str, Any]:
    content = json_content(ref(schema_name))
    content["application/json"]["examples"] = examples
    return {"required": True, "content": content}


def _body_errors() -> dict[str, Any]:
    return errors(
        *BODY_ERRORS,
        s422="Values refused: `problems` lists each by row and field (missing or unknown field, "
        "null, wrong type, unknown category, out of range, misaligned index keys).",
        s503="No model is loaded yet; Retry-After: 2.",
    )


def _model_info_schema() -> Schema:
    properties: dict[str, Schema] = {
        "name": {"type": "string"},
        "model_version": {"type": "string", "pattern": VERSION_PATTERN},
        "loaded_at": {"type": "string", "format": "date-time"},
        "source": {"type": "string", "description": "'model server' or 'local cache'."},
        "predictor": {"type": "string"},
        "signed_by": {"type": ["string", "null"]},
        "explanations": {
            "type": "object",
            "required": ["available"],
            "properties": {
                "available": {"type": "boolean"},
                "method": {"type": "string"},
                "reason": {"type": "string"},
            },
            "description": "Whether this model explains its scores, and how.",
        },
        "model_type": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "classes": {"type": "array", "items": {"type": "string"}},
        "positive_class": {"type": "string"},
        "decision": ref("DecisionRule"),
        "schema": ref("InputSchema"),
        "metrics": ref("Metrics"),
    }
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


def _model_operation() -> dict[str, Any]:
    return {
        "operationId": "model",
        "tags": ["model"],
        "summary": "The model serving now: version, when and where it was loaded, its schema, "
        "metrics, classes and decision rule.",
        "responses": {"200": ok(ref("ModelInfo"))} | errors(503),
    }


# The Open Inference Protocol (V2, REST) routes.


def _v2_schemas(schema: InputSchema, classes: int) -> dict[str, Schema]:
    tensor_metadata: Schema = {
        "type": "object",
        "required": ["name", "datatype", "shape"],
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
    }
    return {
        **_v2_inference_schemas(schema),
        "V2ModelMetadata": {
            "type": "object",
            "required": ["name", "versions", "platform", "inputs", "outputs"],
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": tensor_metadata},
                "outputs": {"type": "array", "items": tensor_metadata},
                "parameters": {"type": "object"},
            },
            "description": f"{len(schema.features)} inputs, one per feature; outputs "
            f"predict_proba (FP64, [-1, {classes}]), prediction (INT64, [-1]) and, only when "
            "asked, reasons (BYTES, [-1]).",
        },
        "V2ServerMetadata": {
            "type": "object",
            "required": ["name", "version", "extensions"],
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "extensions": {"type": "array", "items": {"type": "string"}},
            },
        },
        "V2Live": _flag("live"),
        "V2Ready": _flag("ready"),
        "V2ModelReady": _flag("ready", name=True),
    }


def _v2_inference_schemas(schema: InputSchema) -> dict[str, Schema]:
    """The inference request (one tensor per feature) and its answer."""
    return {
        "V2InferenceRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {},
                "inputs": {"type": "array", "minItems": 1, "items": _v2_input_schema(schema)},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"enum": list(OUTPUT_NAMES)}},
                    },
                },
            },
        },
        "V2InferenceResponse": {
            "type": "object",
            "required": ["model_name", "model_version", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string", "pattern": VERSION_PATTERN},
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "warnings": {"type": "array", "items": ref("Problem")},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "datatype", "shape", "data"],
                        "description": "reasons (only when asked): BYTES, one JSON text per row, "
                        "a decline's reasons as /predict/batch gives them, [] for an approved row.",
                        "properties": {
                            "name": {"enum": list(OUTPUT_NAMES)},
                            "datatype": {"enum": ["FP64", "INT64", "BYTES"]},
                            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                            "data": {"type": "array", "items": {"type": ["number", "string"]}},
                        },
                    },
                },
            },
        },
    }


def _v2_input_schema(schema: InputSchema) -> Schema:
    features = ", ".join(
        f"{spec.name} ({METADATA_DATATYPES[spec.kind]})" for spec in schema.features
    )
    return {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "description": "One tensor per feature, shape [N] or [N, 1]: numbers as any integer or "
        "floating-point datatype, categories as BYTES (strings). Values are validated as "
        f"/predict/batch's (400 with `problems`). Features: {features}.",
        "properties": {
            "name": {"type": "string", "enum": schema.names},
            "shape": {
                "type": "array",
                "minItems": 1,
                "maxItems": 2,
                "prefixItems": [{"type": "integer", "minimum": 0}, {"const": 1}],
            },
            "datatype": {"enum": sorted(DATATYPES)},
            "data": {"type": "array"},
        },
    }


def _flag(flag: str, *, name: bool = False) -> Schema:
    properties: dict[str, Schema] = {flag: {"type": "boolean"}}
    if name:
        properties["name"] = {"type": "string"}
    return {"type": "object", "required": list(properties), "properties": properties}


V2_TAGS: Final = ["open inference protocol (V2)"]


def _v2_paths(
    model_name: str, version: str, schema: InputSchema, example_rows: list[dict[str, Any]]
) -> dict[str, Any]:
    name_parameter = path_parameter(
        "name", f"The model served: {model_name!r}; any other name is a 404.", model_name
    )
    version_parameter = path_parameter(
        "version", "The version served now (full SHA-256); any other is a 404.", version
    )
    example = _v2_infer_example(schema, example_rows)
    return {
        "/v2": {"get": _v2_get("v2Server", "Server metadata.", "V2ServerMetadata")},
        "/v2/health/live": {"get": _v2_get("v2Live", "Alive.", "V2Live")},
        "/v2/health/ready": {
            "get": _v2_get("v2Ready", "Ready once a model is loaded.", "V2Ready", 503)
        },
        **_v2_model_paths("/v2/models/{name}", [name_parameter], "", example),
        **_v2_model_paths(
            "/v2/models/{name}/versions/{version}",
            [name_parameter, version_parameter],
            "Version",
            example,
        ),
    }


def _v2_infer_example(schema: InputSchema, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """An inference request of `rows`: one tensor per feature."""
    return {
        "id": "example-1",
        "inputs": [
            {
                "name": spec.name,
                "datatype": METADATA_DATATYPES[spec.kind],
                "shape": [len(rows)],
                "data": [row[spec.name] for row in rows],
            }
            for spec in schema.features
        ],
    }


def _v2_model_paths(
    prefix: str, parameters: list[dict[str, Any]], suffix: str, example: dict[str, Any]
) -> dict[str, Any]:
    """A model's metadata, readiness and inference routes under `prefix`."""
    metadata = _v2_get(f"v2Model{suffix}", "Model metadata.", "V2ModelMetadata")
    metadata["responses"] |= errors(404, 503)
    ready = _v2_get(f"v2ModelReady{suffix}", "Model ready.", "V2ModelReady", 503)
    ready["responses"] |= errors(404)
    infer = {
        "operationId": f"v2Infer{suffix}",
        "tags": V2_TAGS,
        "summary": "Both class probabilities and the label of every row.",
        "requestBody": {
            "required": True,
            "content": json_content(ref("V2InferenceRequest"), example),
        },
        "responses": {"200": ok(ref("V2InferenceResponse"))}
        | errors(
            400,
            404,
            413,
            415,
            503,
            s400="A malformed request or tensor, or values refused (`problems`).",
        ),
    }
    return {
        prefix: {"get": metadata, "parameters": parameters},
        f"{prefix}/ready": {"get": ready, "parameters": parameters},
        f"{prefix}/infer": {"parameters": parameters, "post": infer},
    }


def _v2_get(
    operation_id: str, summary: str, schema_name: str, not_ready: int = 0
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok(ref(schema_name))}
    if not_ready:
        responses["503"] = {
            "description": "No model is loaded yet.",
            "content": json_content(ref(schema_name)),
        }
    return {
        "operationId": operation_id,
        "tags": V2_TAGS,
        "summary": summary,
        "responses": responses,
    }


def _plain(number: float) -> int | float:
    """An integral float as an int (200000 rather than 200000.0), for a readable document."""
    return int(number) if number.is_integer() else number
