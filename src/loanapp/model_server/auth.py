"""The tokens of the model server: the admin token for writes, the optional one for the pages."""

from __future__ import annotations

import base64
import binascii
import hmac

from flask import Request

from loanapp.errors import AdminDisabledError, AuthenticationError, ReadTokenError
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


def require_reader(settings: ModelServerSettings, request: Request) -> None:
    """Return if reading the pages needs no token, or the request carries LOANAPP_UI_READ_TOKEN.

    Basic (any user name) lets a browser ask for it once and send it with every page and fetch;
    Bearer serves scripts.
    """
    if not settings.ui_read_token:
        return
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    offered = credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(offered, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        offered = decoded.partition(":")[2]
    elif scheme.lower() != "bearer":
        offered = ""
    if not hmac.compare_digest(offered.encode(), settings.ui_read_token.encode()):
        raise ReadTokenError()
