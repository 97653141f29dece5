"""The model server's OpenAPI document: valid, complete, token on writes, examples true."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from tests.model_server.conftest import AUTH
from tests.openapi_checks import assert_answer_as_documented

WRITES = {
    ("/v1/models/{name}/aliases/{alias}", "put"),
    ("/v1/models/{name}/aliases/{alias}/rollback", "post"),
    ("/v1/models/{name}/versions", "post"),
}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def test_the_document_is_valid_and_describes_every_route(
    app: Flask, document: dict[str, Any]
) -> None:
    validate(document)
    routes = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        # The dashboard's pages (and the two writes their script makes) are HTML, not the API.
        if rule.endpoint not in ("static", "api_docs.asset") and not rule.endpoint.startswith("ui.")
    }
    assert routes == set(document["paths"])


def test_writes_and_only_writes_need_the_bearer_token(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["adminToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The model server's LOANAPP_ADMIN_TOKEN.",
    }
    secured = {
        (path, method)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters" and "security" in operation
    }
    assert secured == WRITES
    for path, method in WRITES:
        assert {"401", "403"} <= set(document["paths"][path][method]["responses"])


def test_examples_name_the_current_version_and_are_answered_as_documented(
    client: FlaskClient, document: dict[str, Any], versions: list[str]
) -> None:
    path = "/v1/models/{name}/aliases/{alias}"
    example = document["paths"][path]["put"]["requestBody"]["content"]["application/json"]
    assert example["example"] == {"version": versions[0]}
    url = "/v1/models/loan/aliases/production"
    response = client.put(url, json=example["example"], headers=AUTH)
    assert response.status_code == 200
    assert_answer_as_documented(document, path, "put", response)
    unauthorised = client.put(url, json=example["example"])
    assert unauthorised.status_code == 401
    assert_answer_as_documented(document, path, "put", unauthorised)
    for read in ("/v1/models/{name}/versions/{version}", "/v1/models/{name}/current"):
        response = client.get(read.format(name="loan", version=versions[0]))
        assert response.status_code == 200
        assert_answer_as_documented(document, read, "get", response)


def test_the_document_follows_the_current_version(client: FlaskClient, versions: list[str]) -> None:
    client.put("/v1/models/loan/aliases/production", json={"version": versions[1]}, headers=AUTH)
    document = client.get("/openapi.json").get_json()
    put = document["paths"]["/v1/models/{name}/aliases/{alias}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["example"] == {"version": versions[1]}
