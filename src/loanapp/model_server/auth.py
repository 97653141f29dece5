"""The admin token that guards the model server's write endpoints."""

from __future__ import annotations

import hmac

from flask import Request

from loanapp.errors import AdminDisabledError, AuthenticationError
from loanapp.settings import ModelServerSettings


def require_admin(settings: ModelServerSettings, request: Request) -> None:
    """Return if the request carries the admin token; AdminDisabledError if none is configured."""
    if not settings.admin_token:
        raise AdminDisabledError()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    # Bytes, because compare_digest refuses non-ASCII str; constant time, so timing leaks nothing.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), settings.admin_token.encode()
    ):
        raise AuthenticationError()
