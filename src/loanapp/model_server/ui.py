"""The dashboard: server-rendered pages of the registry and the fleet, and their two writes.

The pages read what the JSON routes read; the writes check the page's CSRF token and then run the
JSON routes' own views, so a promotion from the page obeys exactly the API's rules (admin token,
promotion gate, refusal messages).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, render_template, request

from loanapp.model_server import views
from loanapp.model_server.auth import require_reader
from loanapp.model_server.csrf import CSRF_COOKIE, CSRF_HEADER, check_csrf, page_token
from loanapp.model_server.fleet import this_worker
from loanapp.model_server.pages import (
    aliases_of,
    duration,
    moment,
    resolve_sort,
    short_version,
    sort_versions,
    timeline,
)
from loanapp.model_server.state import ModelServerState
from loanapp.store.registry import check_name
from loanapp.web import get_state

# Our own files only, no inline script or style: what a page can load and where it can send.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

ui = Blueprint(
    "ui",
    __name__,
    url_prefix="/ui",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
ui.add_app_template_filter(short_version, "short")
ui.add_app_template_filter(moment, "moment")
ui.add_app_template_filter(duration, "duration")


@ui.context_processor
def _page_context() -> dict[str, str]:
    return {"worker": this_worker()}


@ui.before_request
def _check_reader() -> None:
    require_reader(_state().settings, request)
    g.csrf_token, g.csrf_new = page_token(request.cookies.get(CSRF_COOKIE))


@ui.after_request
def _page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if g.get("csrf_new"):
        response.set_cookie(CSRF_COOKIE, g.csrf_token, httponly=True, samesite="Strict", path="/ui")
    return response


@ui.get("")
@ui.get("/")
def index() -> str:
    """Models with their aliases, and the fleet."""
    catalog = _state().catalog
    models = []
    for name in catalog.list_models():
        summaries = catalog.version_summaries(name)
        models.append({"name": name, "aliases": aliases_of(summaries), "count": len(summaries)})
    return render_template(
        "index.html", models=models, fleet=views.fleet_view(), followed=catalog.alias
    )


@ui.get("/models/<name>")
def model(name: str) -> str:
    """A model's versions, sortable by each column."""
    check_name("model name", name)
    key, descending = resolve_sort(request.args.get("sort"), request.args.get("order"))
    summaries = sort_versions(_state().catalog.version_summaries(name), key, descending)
    return render_template(
        "model.html", name=name, versions=summaries, sort=key, descending=descending
    )


@ui.get("/models/<name>/versions/<version>")
def version(name: str, version: str) -> str:
    """Everything recorded about a version."""
    catalog = _state().catalog
    record = catalog.get_version(name, version)
    summaries = catalog.version_summaries(name)
    aliases = sorted(alias for alias, v in aliases_of(summaries).items() if v == record.version)
    return render_template("version.html", record=record, aliases=aliases)


@ui.get("/models/<name>/aliases/<alias>")
def alias(name: str, alias: str) -> str:
    """An alias: where it points, its history, and the promote and roll-back controls."""
    catalog = _state().catalog
    check_name("alias", alias)
    record = catalog.alias_record(name, alias)
    versions = sort_versions(catalog.version_summaries(name))
    return render_template(
        "alias.html",
        record=record,
        timeline=timeline(record),
        versions=versions,
        rollback_to=record.rollback_target(),
        writes=catalog.mode == "registry",
    )


@ui.post("/models/<name>/aliases/<alias>/promote")
def promote(name: str, alias: str) -> Response:
    """The page's promotion: the CSRF check, then the API's own view."""
    check_csrf(request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER))
    return views.promote(name, alias)


@ui.post("/models/<name>/aliases/<alias>/rollback")
def rollback(name: str, alias: str) -> Response:
    """The page's rollback: the CSRF check, then the API's own view."""
    check_csrf(request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER))
    return views.rollback(name, alias)


def _state() -> ModelServerState:
    return get_state(current_app, ModelServerState)
