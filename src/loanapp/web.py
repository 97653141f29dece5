"""What both Flask services share: JSON responses, request bodies, request ids, error handling,
the per-request log line and metrics, and /metrics."""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

import orjson
from flask import Flask, Request, Response
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from loanapp.envelope import RequestEnvelope
from loanapp.errors import LoanappError, MalformedRequestError, quoted
from loanapp.logs import request_id_var
from loanapp.metrics.exposition import CONTENT_TYPE, render_metrics
from loanapp.request_bodies import read_body
from loanapp.request_records import RECORDER

logger = logging.getLogger(__name__)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded with orjson (numpy arrays and floats included).

    Never fails on text: a string orjson refuses (a lone surrogate from a client's JSON) is sent
    with its unencodable characters escaped.
    """
    try:
        data = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        data = orjson.dumps(_encodable(body), option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(data, status=status, headers=headers, mimetype="application/json")


def _encodable(value: Any) -> Any:
    """`value` with every string (keys too) made valid UTF-8: lone surrogates escaped."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value


def read_json_body(incoming: Request, *, untyped_is_json: bool = False) -> Any:
    """The request body parsed as JSON; MalformedRequestError if it is not JSON.

    The Content-Type must say JSON; with `untyped_is_json`, a body without one is read as JSON
    too (clients of the Open Inference Protocol, Triton's among them, send none).
    """
    content_type = incoming.environ.get("CONTENT_TYPE")
    typed_json = content_type == "application/json" or incoming.mimetype == "application/json"
    if not (typed_json or (untyped_is_json and not incoming.mimetype)):
        raise MalformedRequestError(
            f"Content-Type must be application/json, got {quoted(incoming.mimetype or 'none')}"
        )
    data = read_body(incoming)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # orjson refuses NaN and Infinity; the standard parser reads them, so that validation can
        # name the field that holds one (422) instead of rejecting the whole body (400). It also
        # reads lone surrogates, which every message therefore shows through `clip`/`quoted`.
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise MalformedRequestError(f"body is not valid JSON ({exc})") from exc


def install_common_handlers(app: Flask, service: str) -> None:
    """Request ids, metrics and a log line per request (`RequestEnvelope`), /metrics, and every
    error as a JSON body with the status its class carries."""
    app.wsgi_app = RequestEnvelope(app, service)  # type: ignore[method-assign]

    @app.get("/metrics")
    def _metrics() -> Response:
        RECORDER.drain()  # this worker's latest requests too
        return Response(render_metrics(), headers={"Content-Type": CONTENT_TYPE})

    @app.errorhandler(LoanappError)
    def _loanapp_error(error: LoanappError) -> Response:
        if error.status_code >= 500:
            logger.warning("request %s failed: %s", request_id_var.get(), error.message)
        return json_response(error.to_dict(), error.status_code, error.headers())

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        message = f"request body is larger than the limit of {limit} bytes"
        return json_response({"error": message, "type": "PayloadTooLargeError"}, 413)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        body = {"error": error.description or error.name, "type": type(error).__name__}
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return json_response(body, error.code or 500, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("request %s failed unexpectedly", request_id_var.get())
        body = {"error": "internal error; see the service log", "type": "InternalError"}
        return json_response(body, 500)


STATE_KEY = "loanapp"
StateT = TypeVar("StateT")


def install_state(app: Flask, state: object) -> None:
    """Hang a service's one state object on the app, where `get_state` finds it."""
    app.extensions[STATE_KEY] = state


def get_state(app: Flask, state_class: type[StateT]) -> StateT:
    """The state object `install_state` put on `app`, checked to be a `state_class`."""
    state = app.extensions[STATE_KEY]
    if not isinstance(state, state_class):
        raise TypeError(f"app state is a {type(state).__name__}, not a {state_class.__name__}")
    return state
