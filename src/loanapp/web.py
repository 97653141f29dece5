"""What both Flask services share: JSON responses, request bodies, request ids, error handling,
the per-request log line and metrics, and /metrics."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any, Final, TypeVar

import orjson
from flask import Flask, Request, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from loanapp.errors import LoanappError, MalformedRequestError, quoted
from loanapp.logs import new_request_id, request_id_var
from loanapp.metrics.exposition import CONTENT_TYPE, render_metrics
from loanapp.metrics.http import UNMATCHED_ROUTE, method_label, record_request
from loanapp.request_bodies import read_body

logger = logging.getLogger(__name__)
request_logger = logging.getLogger("loanapp.requests")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:;=+/@-]{0,127}")
"""A request id we adopt: up to 128 characters that are safe in a header and a log line."""


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
    typed_json = incoming.mimetype == "application/json"
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
    """Request ids, a log line and metrics per request, /metrics, and every error as a JSON body
    with the status its class carries."""

    @app.before_request
    def _start_request() -> None:
        g.started = time.perf_counter()
        # The id is repeated in a response header and in log lines: one the client chose is
        # adopted only if it is short and plain, else the request gets a fresh one.
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = offered if REQUEST_ID_PATTERN.fullmatch(offered) else new_request_id()
        request_id_var.set(g.request_id)

    @app.after_request
    def _finish_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        _record(service, response.status_code)
        # The request's last line is written: lines the thread logs before its next request
        # belong to none. (Here rather than in a teardown hook: one hook less per request.)
        request_id_var.set(None)
        return response

    @app.get("/metrics")
    def _metrics() -> Response:
        return Response(render_metrics(), headers={"Content-Type": CONTENT_TYPE})

    @app.errorhandler(LoanappError)
    def _loanapp_error(error: LoanappError) -> Response:
        if error.status_code >= 500:
            logger.warning("request %s failed: %s", g.get("request_id"), error.message)
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
        logger.exception("request %s failed unexpectedly", g.get("request_id"))
        body = {"error": "internal error; see the service log", "type": "InternalError"}
        return json_response(body, 500)


def _record(service: str, status: int) -> None:
    """The request's metrics and its one log line: route (the URL rule), status, duration."""
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED_ROUTE
    method = method_label(request.method)
    record_request(service, route, method, status, seconds)
    if request_logger.isEnabledFor(logging.INFO):
        version = g.get("model_version")
        # The route, never the path or the body: no applicant value reaches the log at INFO.
        request_logger.info(
            "%s %s %d %.1f ms%s",
            method,
            route,
            status,
            seconds * 1000,
            f" version {version}" if version else "",
            extra={
                "route": route,
                "method": method,
                "status": status,
                "duration_seconds": round(seconds, 6),
                "model_version": version,
            },
        )


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
