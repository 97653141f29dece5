"""What both services do around every request, as one WSGI layer outside Flask: the request id
(adopted or made, returned in a header, set for every log line), and once the answer is ready the
request's metrics and log line.

One layer instead of Flask's before/after-request hooks: the hooks reach the request through
context-local proxies, and on a one-row /predict that bookkeeping cost as much as scoring.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from flask import Flask, Request
from werkzeug.routing import Rule

from loanapp.logs import model_version_var, new_request_id, request_id_var
from loanapp.metrics.http import method_label
from loanapp.request_records import RECORDER

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REQUEST_ID_HEADER: Final = "X-Request-ID"
REQUEST_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:;=+/@-]{0,127}")
"""A request id we adopt: up to 128 characters that are safe in a header and a log line."""
UNMATCHED_ROUTE: Final = "unmatched"
"""The route of a request no URL rule matched: a scan of random paths adds no label or line."""
URL_RULE_KEY: Final = "loanapp.url_rule"
BODY_LIMIT_KEY: Final = "loanapp.max_content_length"


class RoutedRequest(Request):
    """Flask's request, keeping the URL rule it matched in the WSGI environ: Flask drops the
    request itself from the environ when it is done, before the envelope records the route.

    Its body limit is the one the envelope read from the app's config for this request: Flask's
    own property looks the app up through a context-local proxy twice, on every body read.
    """

    @property
    def max_content_length(self) -> int | None:
        limit: int | None = self.environ[BODY_LIMIT_KEY]
        return limit

    @max_content_length.setter
    def max_content_length(self, limit: int | None) -> None:
        self.environ[BODY_LIMIT_KEY] = limit

    @property
    def url_rule(self) -> Rule | None:
        rule: Rule | None = self.environ.get(URL_RULE_KEY)
        return rule

    @url_rule.setter
    def url_rule(self, rule: Rule | None) -> None:
        self.environ[URL_RULE_KEY] = rule


class RequestEnvelope:
    """Wraps a Flask app's `wsgi_app`; the route recorded is the URL rule Flask matched."""

    def __init__(self, app: Flask, service: str) -> None:
        app.request_class = RoutedRequest
        self.app: WSGIApplication = app.wsgi_app
        self.config = app.config
        self.service = service

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if REQUEST_ID_PATTERN.fullmatch(offered) else new_request_id()
        request_id_var.set(request_id)
        model_version_var.set(None)
        environ[BODY_LIMIT_KEY] = self.config["MAX_CONTENT_LENGTH"]
        statuses: list[str] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> object:
            statuses.append(status)
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)  # type: ignore[arg-type]

        try:
            return self.app(environ, start)  # type: ignore[arg-type]
        finally:
            RECORDER.request_done(
                self.service,
                _route(environ),
                method_label(environ.get("REQUEST_METHOD", "")),
                int(statuses[-1][:3]) if statuses else 500,
                time.perf_counter() - started,
                model_version_var.get(),
            )
            # The request's last line is recorded: lines the thread logs before its next
            # request belong to none.
            request_id_var.set(None)


def _route(environ: WSGIEnvironment) -> str:
    """The URL rule Flask matched, never the path."""
    rule: Rule | None = environ.get(URL_RULE_KEY)
    return UNMATCHED_ROUTE if rule is None else rule.rule
