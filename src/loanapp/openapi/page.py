"""GET /docs on both services: Swagger UI for /openapi.json, its assets from an installed package.

The flask-swagger-ui distribution ships Swagger UI's dist files (5.x, which reads OpenAPI 3.1);
only those files are used, served by this blueprint, so the page works with no internet access.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Final

from flask import Blueprint, Response, send_from_directory

from loanapp.errors import NotFoundError, quoted

ASSETS_PACKAGE: Final = "flask_swagger_ui"
ASSETS: Final = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "index.css"}
    | {"favicon-32x32.png", "favicon-16x16.png"}
)

# Relative URLs: the page works behind a proxy that serves the service under another path.
PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script src="docs/assets/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    }});
  </script>
</body>
</html>
"""


def docs_blueprint(title: str) -> Blueprint:
    """/docs (the page) and /docs/assets/<file> (Swagger UI's files) for a service."""
    blueprint = Blueprint("api_docs", __name__)
    page = PAGE.format(title=title)
    # An installed package is a folder on disk: its files are sent as they are.
    folder = Path(str(files(ASSETS_PACKAGE) / "dist"))

    @blueprint.get("/docs")
    def docs() -> Response:
        """The interactive page for this service's /openapi.json."""
        return Response(page, mimetype="text/html")

    @blueprint.get("/docs/assets/<name>")
    def asset(name: str) -> Response:
        """One of Swagger UI's files, from the installed package; 404 for any other name."""
        if name not in ASSETS:
            raise NotFoundError(f"no documentation asset {quoted(name)}")
        return send_from_directory(folder, name, max_age=86400)

    return blueprint
