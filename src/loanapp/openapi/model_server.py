"""The model server's OpenAPI 3.1 document: its read routes, and its write routes behind the
bearer admin token."""

from __future__ import annotations

from typing import Any, Final

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
from loanapp.signing import VersionSignature
from loanapp.store.registry import AliasRecord, VersionRecord

NAME_PATTERN: Final = "^[a-z0-9][a-z0-9._-]{0,63}$"
ADMIN: Final[list[dict[str, list[str]]]] = [{"adminToken": []}]
ADMIN_ERRORS: Final = (401, 403)
STORE_ERRORS: Final = (503,)
READ_TAGS: Final = ["registry (read)"]
WRITE_TAGS: Final = ["registry (admin)"]


def build_model_server_document(name: str, alias: str, example_version: str) -> Document:
    """The whole document; examples name the configured model, its alias and current version."""
    schemas: dict[str, Schema] = {
        "VersionSummary": _summary_schema(),
        "Current": {
            "type": "object",
            "required": ["name", "alias", "version"],
            "properties": {
                "name": {"type": "string"},
                "alias": {"type": "string"},
                "version": {"type": "string"},
            },
        },
        "Ready": {
            "type": "object",
            "required": ["status", "model"],
            "properties": {
                "status": {"enum": ["ready", "not ready"]},
                "model": {"type": "string"},
                "version": {"type": "string"},
                "detail": {"type": "string"},
                "mode": {"enum": ["registry", "pinned"]},
            },
        },
        "GateRefusal": GATE_REFUSAL_SCHEMA,
        "Fleet": _fleet_schema(),
        **model_schemas([VersionRecord, AliasRecord, VersionSignature]),
    }
    paths = service_paths("model server", ref("Ready")) | _registry_paths(
        name, alias, example_version
    )
    description = (
        "The internal model server: the current version of each model (long-poll with "
        "If-None-Match and `wait`), version records and verified artifact bytes, aliases with "
        "their history. Writes need `Authorization: Bearer <LOANAPP_ADMIN_TOKEN>` (401 without "
        "it, 403 when the server has no token, 409 in pinned mode). Names: 1-64 characters "
        "a-z, 0-9, '.', '_', '-', starting with a letter or digit (400 otherwise)."
    )
    built = document("loanapp model server", description, paths, schemas)
    built["components"]["securitySchemes"] = {
        "adminToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The model server's LOANAPP_ADMIN_TOKEN.",
        }
    }
    return built


def _summary_schema() -> Schema:
    text: Schema = {"type": "string"}
    number: Schema = {"type": "number"}
    properties: dict[str, Schema] = {
        "version": text,
        "name": text,
        "size": {"type": "integer"},
        "published_at": text | {"format": "date-time"},
        "published_by": text,
        "created_at": text | {"format": "date-time"},
        "model_type": text,
        "cv_roc_auc": number,
        "holdout_roc_auc": number,
        "threshold": number,
        "aliases": {"type": "array", "items": text},
        "signed_by": {"type": "array", "items": text},
    }
    return {"type": "object", "required": list(properties), "properties": properties}


def _fleet_schema() -> Schema:
    text: Schema = {"type": "string"}
    maybe_text: Schema = {"type": ["string", "null"]}
    worker: dict[str, Schema] = {
        "worker": text | {"description": "host/pid of the predict-API worker."},
        "host": text,
        "pid": {"type": "integer"},
        "model": text,
        "version": maybe_text,
        "serving_since": maybe_text | {"description": "When the worker loaded its version."},
        "predictor": maybe_text,
        "last_error": maybe_text,
        "last_seen": text | {"format": "date-time"},
        "seconds_since_seen": {"type": "number"},
        "status": {"enum": ["current", "behind", "update failing", "no model", "serving"]},
        "took_seconds": {
            "type": ["number", "null"],
            "description": "From the alias's move to this version until the worker served it.",
        },
    }
    fleet: dict[str, Schema] = {
        "answered_by": text | {"description": "host/pid of the model-server worker answering."},
        "alias": text,
        "partial": {"type": "boolean"},
        "scope": text,
        "forget_after_seconds": {"type": "number"},
        "workers": {
            "type": "array",
            "items": {"type": "object", "required": list(worker), "properties": worker},
        },
    }
    return {"type": "object", "required": list(fleet), "properties": fleet}


# The model server's answers name the version in an ETag, as "<sha256>".
ETAG = {"ETag": {"schema": {"type": "string"}, "description": 'The version, as "<sha256>".'}}


def _registry_paths(name: str, alias: str, version: str) -> dict[str, Any]:
    model = path_parameter("name", "Model name.", name)
    return (
        {
            "/v1/models": {
                "get": _read(
                    "listModels",
                    "Names of the models in the store.",
                    ok(
                        {
                            "type": "object",
                            "required": ["models"],
                            "properties": {
                                "models": {"type": "array", "items": {"type": "string"}}
                            },
                        }
                    ),
                )
            },
        }
        | _fleet_paths()
        | _current_paths(model, version)
        | _alias_paths(model, path_parameter("alias", "Alias name.", alias), version)
        | _version_paths(model, version)
    )


def _fleet_paths() -> dict[str, Any]:
    """The fleet view this model-server worker has."""
    summary = (
        "The predict-API workers whose long-polls reached this model-server worker, and the "
        "version each serves (a partial view with several workers or replicas). Needs "
        "LOANAPP_UI_READ_TOKEN (Basic password or Bearer) when one is set."
    )
    operation = _read("getFleet", summary, ok(ref("Fleet")))
    operation["responses"] |= errors(401, s401="LOANAPP_UI_READ_TOKEN is set, and not given.")
    return {"/v1/fleet": {"get": operation}}


def _current_paths(model: dict[str, Any], version: str) -> dict[str, Any]:
    """The current version, and its long-poll."""
    return {
        "/v1/models/{name}/current": {
            "parameters": [model],
            "get": _read(
                "currentVersion",
                "The current version; held until it changes (long-poll) with If-None-Match "
                "and `wait`.",
                {"description": "The current version.", "headers": ETAG}
                | {"content": json_content(ref("Current"))},
                {
                    "304": {
                        "description": "Still the version named in If-None-Match.",
                        "headers": ETAG,
                    }
                },
                parameters=[
                    {
                        "name": "wait",
                        "in": "query",
                        "schema": {"type": "number", "minimum": 0},
                        "description": "Seconds to hold the request while the version is still "
                        "the one in If-None-Match (capped by the server's limit).",
                    },
                    {
                        "name": "If-None-Match",
                        "in": "header",
                        "schema": {"type": "string"},
                        "example": f'"{version}"',
                    },
                ],
            ),
        },
    }


def _alias_paths(
    model: dict[str, Any], alias_parameter: dict[str, Any], version: str
) -> dict[str, Any]:
    """An alias: read, promote, roll back."""
    alias_answer = ok(ref("AliasRecord"), "Where the alias points, with its history.")
    return {
        "/v1/models/{name}/aliases/{alias}": {
            "parameters": [model, alias_parameter],
            "get": _read("getAlias", "An alias: its version and history.", alias_answer),
            "put": _promote_operation(alias_answer, version),
        },
        "/v1/models/{name}/aliases/{alias}/rollback": {
            "parameters": [model, alias_parameter],
            "post": _write(
                "rollback", "Point the alias back at its previous version.", alias_answer
            ),
        },
    }


def _promote_operation(alias_answer: dict[str, Any], version: str) -> dict[str, Any]:
    """PUT an alias: through the promotion gate, whose refusal is a 409 with its figures."""
    body = {
        "type": "object",
        "required": ["version"],
        "properties": {
            "version": {"type": "string", "description": "Full SHA-256 or unique prefix."},
            "force": {
                "type": "boolean",
                "default": False,
                "description": "Promote even if the gate refuses; needs a reason (else 422).",
            },
            "reason": {
                "type": ["string", "null"],
                "maxLength": 500,
                "description": "Why; kept in the alias history with who promoted (null: none).",
            },
        },
    }
    operation = _write(
        "promote",
        "Point the alias at a version, if the promotion gate lets it (or it is forced).",
        alias_answer,
        {"required": True, "content": json_content(body, {"version": version})},
    )
    operation["responses"]["409"] = {
        "description": "The promotion gate refused the version (worse on the same CV folds, or "
        "not comparable), a prefix is ambiguous, or the server runs pinned, without writes.",
        "content": json_content(
            {
                "allOf": [
                    ref("Error"),
                    {"type": "object", "properties": {"gate": ref("GateRefusal")}},
                ]
            }
        ),
    }
    return operation


GATE_REFUSAL_SCHEMA: Final[Schema] = {
    "type": "object",
    "description": "Why the promotion gate refused: candidate minus current CV ROC-AUC over the "
    "folds both recorded, with its corrected 95 % interval.",
    "required": ["candidate", "current", "delta_auc", "delta_auc_ci", "threshold", "why"],
    "properties": {
        "candidate": {"type": "string"},
        "current": {"type": "string"},
        "delta_auc": {"type": ["number", "null"]},
        "delta_auc_ci": {
            "oneOf": [
                {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                {"type": "null"},
            ]
        },
        "threshold": {"type": "number"},
        "why": {"enum": ["worse", "not_comparable"]},
    },
}


def _version_paths(model: dict[str, Any], version: str) -> dict[str, Any]:
    """The versions: list and publish; read one, its signatures and its artifact."""
    full_version = path_parameter("version", "Full SHA-256 (64 lowercase hex digits).", version)
    any_version = path_parameter(
        "version", "Full SHA-256, or a unique prefix of 6 or more hex digits.", version
    )
    return _version_list_paths(model) | _one_version_paths(model, full_version, any_version)


def _version_list_paths(model: dict[str, Any]) -> dict[str, Any]:
    return {
        "/v1/models/{name}/versions": {
            "parameters": [model],
            "get": _read(
                "listVersions",
                "A summary of every version, oldest first.",
                ok(
                    {
                        "type": "object",
                        "required": ["versions"],
                        "properties": {
                            "versions": {"type": "array", "items": ref("VersionSummary")}
                        },
                    }
                ),
            ),
            "post": _write(
                "publish",
                "Publish an artifact: verified, test-loaded, stored; `alias` also promotes it.",
                {
                    "description": "Published.",
                    "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": json_content(ref("VersionRecord")),
                },
                {
                    "required": True,
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "contentMediaType": "application/zip"}
                        }
                    },
                },
                status="201",
                parameters=[
                    {
                        "name": "alias",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "An alias to point at the new version.",
                    }
                ],
                extra_errors=(413, 415),
            ),
        },
    }


def _one_version_paths(
    model: dict[str, Any], full_version: dict[str, Any], any_version: dict[str, Any]
) -> dict[str, Any]:
    return {
        "/v1/models/{name}/versions/{version}": {
            "parameters": [model, any_version],
            "get": _read(
                "getVersion",
                "The full record of a version: metadata, metrics, schema.",
                ok(ref("VersionRecord")),
            ),
        },
        "/v1/models/{name}/versions/{version}/signatures": {
            "parameters": [model, full_version],
            "get": _read(
                "getSignatures",
                "The signatures kept for a version ([] if none).",
                ok(
                    {
                        "type": "object",
                        "required": ["name", "version", "signatures"],
                        "properties": {
                            "name": {"type": "string"},
                            "version": {"type": "string"},
                            "signatures": {"type": "array", "items": ref("VersionSignature")},
                        },
                    }
                ),
            ),
        },
        "/v1/models/{name}/versions/{version}/artifact": {
            "parameters": [model, full_version],
            "get": _read(
                "getArtifact",
                "The artifact bytes, verified against their hash before they are sent.",
                {
                    "description": "The artifact (a zip).",
                    "headers": ETAG,
                    "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                },
                {"304": {"description": "The version named in If-None-Match.", "headers": ETAG}},
                parameters=[
                    {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}
                ],
            ),
        },
    }


def _read(
    operation_id: str,
    summary: str,
    answer: dict[str, Any],
    more: dict[str, Any] | None = None,
    *,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": READ_TAGS,
        "summary": summary,
        "responses": {"200": answer} | (more or {}) | errors(400, 404, 409, 422, 503),
    }
    if parameters:
        operation["parameters"] = parameters
    return operation


def _write(
    operation_id: str,
    summary: str,
    answer: dict[str, Any],
    body: dict[str, Any] | None = None,
    *,
    status: str = "200",
    parameters: list[dict[str, Any]] | None = None,
    extra_errors: tuple[int, ...] = (),
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": WRITE_TAGS,
        "summary": summary,
        "security": ADMIN,
        "responses": {status: answer}
        | errors(400, *ADMIN_ERRORS, 404, 409, *extra_errors, 422, *STORE_ERRORS),
    }
    if body is not None:
        operation["requestBody"] = body
    if parameters:
        operation["parameters"] = parameters
    return operation
