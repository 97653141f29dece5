"""What both Flask services share: JSON responses, JSON bodies, and the one error handler."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, TypeVar

import orjson
from flask import Flask, Request, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from loanapp.errors import LoanappError, MalformedRequestError, ModelNotReadyError

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded with orjson (numpy arrays and floats included)."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def read_json_body(incoming: Request) -> Any:
    """The request body parsed as JSON; MalformedRequestError if it is not JSON."""
    if not incoming.mimetype or incoming.mimetype != "application/json":
        raise MalformedRequestError(
            f"Content-Type must be application/json, got {incoming.mimetype or 'none'!r}"
        )
    data = incoming.get_data(cache=False)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # orjson refuses NaN and Infinity; the standard parser reads them, so that validation can
        # name the field that holds one (422) instead of rejecting the whole body (400).
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise MalformedRequestError(f"body is not valid JSON ({exc})") from exc


def install_common_handlers(app: Flask) -> None:
    """Request ids, and every error as a JSON body with the status its class carries."""

    @app.before_request
    def _assign_request_id() -> None:
        g.request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        return response

    @app.errorhandler(LoanappError)
    def _loanapp_error(error: LoanappError) -> Response:
        if error.status_code >= 500:
            logger.warning("request %s failed: %s", g.get("request_id"), error.message)
        headers = {}
        if isinstance(error, ModelNotReadyError):
            headers["Retry-After"] = str(error.retry_after_seconds)
        return json_response(error.to_dict(), error.status_code, headers)

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
