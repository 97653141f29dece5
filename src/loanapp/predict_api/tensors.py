"""Open Inference Protocol (V2) tensors: a request's inputs as the columns the validator takes,
and the model's answers as output tensors.

A client sends one tensor per feature, of shape [N] or [N, 1], the way pandas-codec clients send
a DataFrame: numbers as an integer or floating-point datatype, categories as BYTES (strings in
the JSON form). Everything about the tensors themselves (names, shapes, datatypes, how the data
is laid out) is checked here and refused as a malformed request; the values are then checked by
the same validator as /predict's.
"""

from __future__ import annotations

import math
from typing import Any, Final, TypeGuard

import orjson

from loanapp.errors import MalformedRequestError, clip, quoted
from loanapp.schema import FeatureKind, InputSchema
from loanapp.validation.values import Plan, get_plan

NUMERIC_DATATYPES: Final = frozenset(
    {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
    | {"FP16", "FP32", "FP64"}
)
DATATYPES: Final = NUMERIC_DATATYPES | {"BOOL", "BYTES", "BF16"}
# The datatype model metadata gives for each kind of feature, and the ones a request may use.
METADATA_DATATYPES: Final[dict[FeatureKind, str]] = {
    "integer": "INT64",
    "number": "FP64",
    "category": "BYTES",
}
ACCEPTED_DATATYPES: Final[dict[FeatureKind, frozenset[str]]] = {
    "integer": NUMERIC_DATATYPES,
    "number": NUMERIC_DATATYPES,
    "category": frozenset({"BYTES"}),
}
PROBABILITIES, PREDICTION = "predict_proba", "prediction"
REASONS = "reasons"
DEFAULT_OUTPUTS: Final = (PROBABILITIES, PREDICTION)
"""What an inference request that names no outputs gets."""
OUTPUT_NAMES: Final = (*DEFAULT_OUTPUTS, REASONS)
"""Every output a request may name: `reasons` only when named (one JSON text per row)."""


def input_columns(schema: InputSchema, body: object) -> tuple[dict[str, list[Any]], list[str]]:
    """The inputs of an inference request as {feature: values}, and the names of the outputs
    it asks for (all of them if it names none). MalformedRequestError for anything that is not
    a well-formed request of this model's tensors; the values are the validator's to judge."""
    if not isinstance(body, dict):
        raise MalformedRequestError("an inference request is a JSON object with 'inputs'")
    if "id" in body and not isinstance(body["id"], str):
        raise MalformedRequestError("'id' must be a string")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise MalformedRequestError("'inputs' must be a non-empty list of tensors")
    plan = get_plan(schema)  # the validator's, kept per schema
    columns: dict[str, list[Any]] = {}
    for position, tensor in enumerate(inputs):
        name, values = _input_tensor(position, tensor, plan)
        if name in columns:
            raise MalformedRequestError(f"input {quoted(name)} is given more than once")
        columns[name] = values
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{quoted(name)}: {length}" for name, length in lengths.items())
        raise MalformedRequestError(f"every input must have the same first dimension ({shown})")
    if "outputs" in body and not isinstance(body["outputs"], list):
        raise MalformedRequestError("'outputs' must be a list of objects with a 'name'")
    return columns, _requested_outputs(body.get("outputs"))


def _input_tensor(position: int, tensor: object, plan: Plan) -> tuple[str, list[Any]]:
    """One input tensor's feature name and flat values."""
    if not isinstance(tensor, dict):
        raise MalformedRequestError(
            f"inputs[{position}] must be an object with name, shape, datatype, data"
        )
    name = tensor.get("name")
    if not isinstance(name, str):
        raise MalformedRequestError(f"inputs[{position}].name must be a string")
    shape = tensor.get("shape")
    if not _is_row_shape(shape):
        raise MalformedRequestError(
            f"{_input(name)}: shape must be [N] or [N, 1], got {clip(str(shape))}"
        )
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:  # a list or object: unhashable
        raise MalformedRequestError(
            f"{_input(name)}: datatype {clip(str(datatype))} is not a V2 datatype"
        )
    column = plan.get(name)
    kind = None if column is None else column.kind
    if kind is not None and datatype not in ACCEPTED_DATATYPES[kind]:
        raise MalformedRequestError(
            f"{_input(name)}: datatype {datatype} does not fit a {kind} feature "
            f"(send {METADATA_DATATYPES[kind]})"
        )
    values = _flat(tensor.get("data"), len(shape))
    if values is None:
        raise MalformedRequestError(f"{_input(name)}: data must be a list laid out as its shape")
    if len(values) != math.prod(shape):
        raise MalformedRequestError(
            f"{_input(name)}: shape {shape} holds {math.prod(shape)} values, data has {len(values)}"
        )
    return name, values


def _is_row_shape(shape: object) -> TypeGuard[list[int]]:
    """Whether `shape` is [N] or [N, 1] with a count N >= 0 (booleans are not counts)."""
    if type(shape) is not list or not 1 <= len(shape) <= 2:
        return False
    rows = shape[0]
    if type(rows) is not int or rows < 0:
        return False
    return len(shape) == 1 or (type(shape[1]) is int and shape[1] == 1)


def _input(name: str) -> str:
    """An input named in a message; made only for an error (quoting costs more than checking)."""
    return f"input {quoted(name)}"


def _flat(data: object, dimensions: int) -> list[Any] | None:
    """Row-major values of `data`, flat or nested as a tensor of `dimensions`; None if neither."""
    if not isinstance(data, list):
        return None
    if len(data) == 1 and not isinstance(data[0], list | dict):  # one row, flat: the usual
        return data
    if dimensions == 2 and data and all(isinstance(row, list) for row in data):
        return [value for row in data for value in row]
    if any(isinstance(value, list | dict) for value in data):
        return None
    return data


def _requested_outputs(outputs: object) -> list[str]:
    if outputs is None:
        return list(DEFAULT_OUTPUTS)
    if not isinstance(outputs, list) or not all(
        isinstance(output, dict) and isinstance(output.get("name"), str) for output in outputs
    ):
        raise MalformedRequestError("'outputs' must be a list of objects with a 'name'")
    names = [output["name"] for output in outputs]
    unknown = [name for name in names if name not in OUTPUT_NAMES]
    if unknown:
        raise MalformedRequestError(
            f"unknown output {quoted(unknown[0])}; the model gives {', '.join(OUTPUT_NAMES)}"
        )
    return names


def output_tensors(
    names: list[str],
    probabilities: list[list[float]],
    labels: list[int],
    reasons: list[Any] | None = None,
) -> list[dict[str, Any]]:
    """The asked-for outputs: both class probabilities per row, the label per row, and (when
    asked, `reasons` given) each row's reasons as JSON text: a decline's list, [] for an approved
    row, null where the model cannot explain."""
    rows = len(labels)
    tensors: dict[str, dict[str, Any]] = {
        PROBABILITIES: {
            "name": PROBABILITIES,
            "datatype": "FP64",
            "shape": [rows, len(probabilities[0]) if rows else 2],
            "data": [p for row in probabilities for p in row],
        },
        PREDICTION: {"name": PREDICTION, "datatype": "INT64", "shape": [rows], "data": labels},
    }
    if reasons is not None:
        texts = [orjson.dumps(row).decode() for row in reasons]
        tensors[REASONS] = {"name": REASONS, "datatype": "BYTES", "shape": [rows], "data": texts}
    return [tensors[name] for name in names]


def metadata_tensors(schema: InputSchema, classes: int) -> dict[str, list[dict[str, Any]]]:
    """Model metadata's inputs (one per feature) and outputs; -1 is any number of rows."""
    inputs = [
        {"name": feature.name, "datatype": METADATA_DATATYPES[feature.kind], "shape": [-1]}
        for feature in schema.features
    ]
    outputs = [
        {"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, classes]},
        {"name": PREDICTION, "datatype": "INT64", "shape": [-1]},
        {"name": REASONS, "datatype": "BYTES", "shape": [-1]},
    ]
    return {"inputs": inputs, "outputs": outputs}
