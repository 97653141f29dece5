"""What both services' OpenAPI documents share: the error body, error responses, the health
and metrics routes, the document's own routes, and pydantic models as component schemas."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Final

import orjson
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from loanapp import __version__

OPENAPI_VERSION: Final = "3.1.0"
JSON: Final = "application/json"
REF_TEMPLATE: Final = "#/components/schemas/{model}"

Schema = dict[str, Any]
Document = dict[str, Any]

ERROR_SCHEMA: Final[Schema] = {
    "type": "object",
    "description": "Every error the application answers: what was wrong and which kind of error.",
    "required": ["error", "type"],
    "properties": {
        "error": {"type": "string", "description": "What was wrong, and where."},
        "type": {"type": "string", "description": "The error's class, e.g. NotFoundError."},
        "problems": {
            "type": "array",
            "description": "Validation errors only: every problem, by row and field.",
            "items": {"$ref": "#/components/schemas/Problem"},
        },
    },
}
PROBLEM_SCHEMA: Final[Schema] = {
    "type": "object",
    "required": ["row", "problem"],
    "properties": {
        "row": {"type": "integer", "minimum": 0},
        "field": {"type": "string", "description": "Absent when the whole row is not an object."},
        "problem": {"type": "string"},
    },
    "additionalProperties": False,
}

# Statuses whose errors every route may answer, whatever it does.
ERROR_DESCRIPTIONS: Final = {
    400: "Malformed request: not JSON, a wrong Content-Type, or a body of the wrong shape.",
    401: "No valid 'Authorization: Bearer <admin token>'.",
    403: "Write endpoints are disabled: the server has no admin token.",
    404: "Not found.",
    409: "Conflicts with the current state (or the server runs pinned, without writes).",
    413: "The body (as sent, or once gzip-inflated) or the batch is over the limit.",
    415: "A Content-Encoding other than gzip or identity; Accept-Encoding names gzip.",
    422: "The request was well formed, but its values were refused.",
    503: "Not ready, or a dependency is unavailable; Retry-After says when to ask again.",
}


def json_content(schema: Schema, example: Any = None) -> dict[str, Any]:
    """A JSON media type with its schema (and an example when given)."""
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {JSON: media}


def ok(schema: Schema, description: str = "OK", example: Any = None) -> dict[str, Any]:
    """A 200 JSON response."""
    return {"description": description, "content": json_content(schema, example)}


def errors(*statuses: int, **descriptions: str) -> dict[str, Any]:
    """Error responses with the JSON error body; `descriptions` ("s422"=...) override the text."""
    responses: dict[str, Any] = {}
    for status in statuses:
        description = descriptions.get(f"s{status}", ERROR_DESCRIPTIONS[status])
        responses[str(status)] = {
            "description": description,
            "content": json_content({"$ref": "#/components/schemas/Error"}),
        }
    return responses


def path_parameter(name: str, description: str, example: str) -> dict[str, Any]:
    """A required string parameter in the path."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "example": example,
        "description": description,
    }


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def model_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Schema]:
    """JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of pydantic models as they serialise."""
    _, definitions = models_json_schema(
        [(model, "serialization") for model in models], ref_template=REF_TEMPLATE
    )
    schemas: dict[str, Schema] = definitions.get("$defs", {})
    return schemas


def service_paths(service: str, ready_schema: Schema) -> dict[str, Any]:
    """/healthz, /readyz, /metrics and the document's own routes, the same on both services."""
    return _health_paths(service, ready_schema) | _documentation_paths()


def _health_paths(service: str, ready_schema: Schema) -> dict[str, Any]:
    return {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "tags": ["health"],
                "summary": "Alive: the process answers.",
                "responses": {
                    "200": ok(
                        {
                            "type": "object",
                            "required": ["status"],
                            "properties": {"status": {"const": "ok"}},
                        },
                        example={"status": "ok"},
                    )
                },
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "tags": ["health"],
                "summary": f"Ready to serve: the {service}'s state in detail.",
                "responses": {
                    "200": ok(ready_schema, "Ready."),
                    "503": {"description": "Not ready yet.", "content": json_content(ready_schema)},
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "tags": ["health"],
                "summary": "Prometheus metrics, in the text exposition format 0.0.4.",
                "responses": {"200": _text("The metrics.", "text/plain")},
            }
        },
    }


def _documentation_paths() -> dict[str, Any]:
    return {
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["documentation"],
                "summary": "This document.",
                "responses": {"200": ok({"type": "object"}, "The OpenAPI 3.1 document.")},
            }
        },
        "/docs": {
            "get": {
                "operationId": "docs",
                "tags": ["documentation"],
                "summary": "This document as an interactive page (Swagger UI, served locally).",
                "responses": {"200": _text("The page.", "text/html")},
            }
        },
    }


def _text(description: str, media_type: str) -> dict[str, Any]:
    """A 200 answer that is text of `media_type`, not JSON."""
    return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}


def document(
    title: str, description: str, paths: dict[str, Any], schemas: dict[str, Schema]
) -> Document:
    """An OpenAPI 3.1 document with the shared error schemas among its components."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": __version__, "description": description},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA, "Problem": PROBLEM_SCHEMA} | schemas},
    }


class DocumentCache:
    """The last document built, as JSON bytes, with the key it was built for (a model version).

    Building one takes milliseconds, answering it microseconds: a worker builds it once for each
    version it serves, on the first request for it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: str | None = None
        self._data = b""

    def get(self, key: str, build: Callable[[], Document]) -> bytes:
        """The document for `key`, built by `build` unless it is the one kept."""
        with self._lock:
            if self._key == key:
                return self._data
        data = orjson.dumps(build())
        with self._lock:
            self._key, self._data = key, data
        return data
