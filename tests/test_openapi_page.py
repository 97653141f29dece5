"""GET /docs: Swagger UI from the installed package, with nothing fetched from elsewhere."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from loanapp.openapi.page import ASSETS
from loanapp.predict_api.app import create_app
from loanapp.settings import PredictApiSettings


@pytest.fixture
def app(tmp_path) -> Flask:
    return create_app(PredictApiSettings(cache_dir=tmp_path / "cache"), follow=False)


def test_the_page_loads_its_assets_from_the_service_only(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "//" not in html.replace("<!DOCTYPE html>", "")  # no URL of another host
    assert 'url: "openapi.json"' in html
    linked = set(re.findall(r'(?:src|href)="docs/assets/([^"]+)"', html))
    assert linked
    assert linked <= ASSETS
    for name in ASSETS:
        with client.get(f"/docs/assets/{name}") as asset:  # a file response: closed after
            assert asset.status_code == 200, name
            assert len(asset.data) > 100
    with client.get("/docs/assets/swagger-ui-bundle.js") as bundle:
        assert "SwaggerUIBundle" in bundle.get_data(as_text=True)


@pytest.mark.parametrize("name", ["index.html", "..%2Fflask_swagger_ui.py", "LICENSE"])
def test_other_files_of_the_package_are_not_served(app: Flask, name: str) -> None:
    response = app.test_client().get(f"/docs/assets/{name}")
    assert response.status_code == 404
    assert response.get_json()["type"] in ("NotFoundError", "NotFound")
