"""Checks of answers against an OpenAPI document, for both services' tests."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse


def documented_schema(document: dict[str, Any], path: str, method: str, status: int) -> Any:
    """The JSON Schema the document gives for an answer, with its components to resolve $refs."""
    response = document["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def assert_answer_as_documented(
    document: dict[str, Any], path: str, method: str, response: TestResponse
) -> None:
    """The status is documented for the operation, and the JSON body matches its schema."""
    responses = document["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, (path, response.status_code, response.data)
    schema = documented_schema(document, path, method, response.status_code)
    Draft202012Validator(schema).validate(response.get_json())
