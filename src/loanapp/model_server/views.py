"""HTTP views of the model server: parse the request, ask the catalog, answer JSON (or bytes)."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from loanapp.artifacts import check_version_id
from loanapp.errors import InvalidInputError, LoanappError, MalformedRequestError, quoted
from loanapp.logs import request_id_var
from loanapp.metrics.model_server import LONG_POLLS_HELD, PUBLISHES, record_alias_change
from loanapp.model_server.auth import require_admin, require_reader
from loanapp.model_server.catalog import ModelCatalog
from loanapp.model_server.fleet import describe_fleet, this_worker
from loanapp.model_server.state import ModelServerState
from loanapp.openapi.model_server import build_model_server_document
from loanapp.request_bodies import read_body
from loanapp.settings import ModelServerSettings
from loanapp.store.registry import AliasRecord, check_name
from loanapp.web import get_state, json_response, read_json_body
from loanapp.worker_identity import REPORT_HEADERS, parse_worker_headers

logger = logging.getLogger(__name__)

ACTOR_HEADER = "X-Loanapp-Actor"
MAX_ACTOR_CHARS = 100
MAX_REASON_CHARS = 500  # a sentence or two for the history, not a document
# The example version of the document while the model has none.
PLACEHOLDER_VERSION = "0" * 64
# A version's bytes never change, so any cache may keep them forever.
IMMUTABLE = "public, max-age=31536000, immutable"

blueprint = Blueprint("model_server", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    """Readiness: a current version of the configured model is known (from the store or memory)."""
    catalog = _catalog()
    name = _settings().model_name
    try:
        version = catalog.current(name)
    except LoanappError as exc:
        body = {"status": "not ready", "detail": exc.message, "model": name, **catalog.status()}
        return json_response(body, 503)
    return json_response({"status": "ready", "model": name, "version": version, **catalog.status()})


@blueprint.get("/openapi.json")
def openapi() -> Response:
    """This server's OpenAPI 3.1 document; its examples name the model's current version."""
    state = _state()
    name, alias = state.settings.model_name, state.catalog.alias
    try:
        version = state.catalog.current(name)
    except LoanappError:  # no version yet, or the store is down: the document still answers
        version = PLACEHOLDER_VERSION
    data = state.documents.get(version, lambda: build_model_server_document(name, alias, version))
    return Response(data, mimetype="application/json")


@blueprint.get("/v1/models")
def list_models() -> Response:
    """Names of the models."""
    return json_response({"models": _catalog().list_models()})


@blueprint.get("/v1/models/<name>/current")
def current_version(name: str) -> Response:
    """Current version; with If-None-Match and `wait`, held until it changes or the wait ends."""
    catalog = _catalog()
    wait = _wait_seconds(request.args.get("wait"), _settings().max_wait_seconds)
    version = catalog.current(name)
    _observe_worker(name)
    if request.if_none_match.contains_weak(version):
        changed = _hold(catalog, name, version, wait)
        if changed is None:
            return Response(status=304, headers=_current_headers(version))
        version = changed
    body = {"name": name, "alias": catalog.alias, "version": version}
    return json_response(body, headers=_current_headers(version))


@blueprint.get("/v1/fleet")
def fleet() -> Response:
    """The predict-API workers that this model-server worker heard from, and what they serve."""
    require_reader(_settings(), request)
    return json_response(fleet_view())


def fleet_view() -> dict[str, Any]:
    """The body of GET /v1/fleet (the dashboard renders the same)."""
    state = _state()
    entries = state.fleet.entries()
    aliases = {}
    for model in {entry.model for entry in entries}:
        try:
            aliases[model] = state.catalog.alias_record(model, state.catalog.alias)
        except LoanappError:  # store down: the workers still show, without "current" or timing
            continue
    return {
        "answered_by": this_worker(),
        "alias": state.catalog.alias,
        "partial": True,
        "scope": (
            "the predict-API workers whose long-polls reached this model-server worker; with "
            "several model-server workers or replicas, each sees part of the fleet"
        ),
        "forget_after_seconds": state.fleet.forget_after_seconds,
        "workers": describe_fleet(entries, aliases, datetime.now(UTC)),
    }


@blueprint.get("/v1/models/<name>/aliases/<alias>")
def get_alias(name: str, alias: str) -> Response:
    """An alias record: its version and history."""
    return _alias_response(_catalog().alias_record(name, alias))


@blueprint.put("/v1/models/<name>/aliases/<alias>")
def promote(name: str, alias: str) -> Response:
    """Point an alias at a version (admin)."""
    actor = _admin_actor()
    version, force, reason = _promotion_body(read_json_body(request))
    record = _catalog().promote(name, version, actor=actor, alias=alias, force=force, reason=reason)
    record_alias_change(name, alias, "promote")
    forced = " (forced past the gate)" if record.history[-1].forced else ""
    _log_write(actor, f"promoted {name} alias {alias}{forced} to", record.version)
    return _alias_response(record)


def _promotion_body(body: object) -> tuple[str, bool, str | None]:
    """The version, force flag and reason of a promotion body; 400 when malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("version"), str):
        raise MalformedRequestError(
            'body must be {"version": "<SHA-256 or unique prefix>", "force": false, '
            '"reason": "<why>"}'
        )
    force, reason = body.get("force", False), body.get("reason")
    if not isinstance(force, bool):
        raise MalformedRequestError(f"'force' must be true or false, got {quoted(force)}")
    if reason is not None and not isinstance(reason, str):
        raise MalformedRequestError(f"'reason' must be a string, got {quoted(reason)}")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise MalformedRequestError(f"'reason' is longer than {MAX_REASON_CHARS} characters")
    return body["version"], force, reason


@blueprint.post("/v1/models/<name>/aliases/<alias>/rollback")
def rollback(name: str, alias: str) -> Response:
    """Point an alias back at its previous version (admin)."""
    actor = _admin_actor()
    record = _catalog().rollback(name, actor=actor, alias=alias)
    record_alias_change(name, alias, "rollback")
    _log_write(actor, f"rolled back {name} alias {alias} to", record.version)
    return _alias_response(record)


@blueprint.get("/v1/models/<name>/versions")
def list_versions(name: str) -> Response:
    """A summary of every version of a model, oldest first."""
    return json_response({"versions": _catalog().version_summaries(name)})


@blueprint.post("/v1/models/<name>/versions")
def upload_version(name: str) -> Response:
    """Publish the artifact in the body (admin); `?alias=` also promotes it."""
    actor = _admin_actor()
    check_name("model name", name)
    alias = request.args.get("alias")
    if request.mimetype != "application/octet-stream":
        got = quoted(request.mimetype or "none")
        raise MalformedRequestError(f"Content-Type must be application/octet-stream, got {got}")
    data = read_body(request)  # bounded however it is framed, as the predict API's bodies are
    record = _catalog().publish(data, actor=actor, name=name, alias=alias)
    PUBLISHES.labels(record.name).inc()
    _log_write(actor, f"published {name}", record.version)
    if alias is not None:
        record_alias_change(record.name, alias, "promote")
        _log_write(actor, f"promoted {name} alias {alias} to", record.version)
    location = url_for(".get_version", name=name, version=record.version)
    return json_response(record.model_dump(mode="json"), 201, {"Location": location})


@blueprint.get("/v1/models/<name>/versions/<version>")
def get_version(name: str, version: str) -> Response:
    """The full record of a version (full hash or unique prefix)."""
    return json_response(_catalog().get_version(name, version).model_dump(mode="json"))


@blueprint.get("/v1/models/<name>/versions/<version>/signatures")
def get_signatures(name: str, version: str) -> Response:
    """The signatures kept for a version of this model (full hash only); [] if it has none."""
    catalog = _catalog()
    check_version_id(version)
    catalog.get_version(name, version)  # 404 unless the version belongs to this model
    signatures = [signature.model_dump() for signature in catalog.signatures(name, version)]
    return json_response({"name": name, "version": version, "signatures": signatures})


@blueprint.get("/v1/models/<name>/versions/<version>/artifact")
def get_artifact(name: str, version: str) -> Response:
    """The verified artifact bytes of a version of this model (full hash only)."""
    catalog = _catalog()
    check_version_id(version)
    catalog.get_version(name, version)  # 404 unless the version belongs to this model
    headers = {"ETag": f'"{version}"', "Cache-Control": IMMUTABLE}
    if request.if_none_match.contains_weak(version):
        return Response(status=304, headers=headers)
    data = catalog.artifact_bytes(version)
    return Response(data, headers=headers, mimetype="application/octet-stream")


def _state() -> ModelServerState:
    return get_state(current_app, ModelServerState)


def _catalog() -> ModelCatalog:
    return _state().catalog


def _settings() -> ModelServerSettings:
    return _state().settings


def _wait_seconds(raw: str | None, limit: float) -> float:
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = math.nan
    if not math.isfinite(wait) or wait < 0:
        raise InvalidInputError(f"wait must be a number of seconds >= 0, got {quoted(raw)}")
    return min(wait, limit)


def _observe_worker(name: str) -> None:
    """Note the predict-API worker that asks, if it names itself (malformed names are ignored)."""
    headers = {h: value for h in REPORT_HEADERS if (value := request.headers.get(h)) is not None}
    if headers and (report := parse_worker_headers(headers)) is not None:
        _state().fleet.observe(name, report)


def _hold(catalog: ModelCatalog, name: str, version: str, wait: float) -> str | None:
    """Wait for a change if a long-poll slot is free; past the limit, answer at once."""
    if wait <= 0:
        return None
    slots = _state().long_polls
    # Never block on a slot: held long-polls must leave threads for downloads and probes.
    if not slots.acquire(blocking=False):
        return None
    try:
        with LONG_POLLS_HELD.track_inprogress():
            return catalog.wait_for_change(name, version, wait)
    finally:
        slots.release()


def _current_headers(version: str) -> dict[str, str]:
    # no-cache: a cache may keep the answer but must revalidate it, as it changes at any time.
    return {"ETag": f'"{version}"', "Cache-Control": "no-cache"}


def _admin_actor() -> str:
    """Check the admin token, then name who acts: the X-Loanapp-Actor header or the address."""
    require_admin(_settings(), request)
    claimed = request.headers.get(ACTOR_HEADER, "").strip()
    if len(claimed) > MAX_ACTOR_CHARS:
        raise MalformedRequestError(f"{ACTOR_HEADER} is longer than {MAX_ACTOR_CHARS} characters")
    return claimed or f"api@{request.remote_addr or 'unknown'}"


def _log_write(actor: str, what: str, version: str) -> None:
    logger.info("request %s: %s %s version %s", request_id_var.get(), actor, what, version)


def _alias_response(record: AliasRecord) -> Response:
    return json_response(record.model_dump(mode="json"))
