"""CSRF protection of the dashboard's writes: a double-submit token.

A page carries a random token twice: in an HttpOnly, SameSite=Strict cookie and in the page itself,
from where our script copies it into the X-CSRF-Token header of each write. Another site can make
a browser send the cookie, but cannot read the page to learn the header's value. No server secret
is involved, so the check holds across the model server's worker processes and replicas. Writes
also need the admin token as a bearer header, which the browser never sends on its own.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Final

from loanapp.errors import CsrfError

CSRF_COOKIE: Final = "loanapp_csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32)


def page_token(cookie: str | None) -> tuple[str, bool]:
    """The token for a page: the browser's if it has a well-formed one, else a new one (True)."""
    if cookie is not None and _TOKEN.fullmatch(cookie):
        return cookie, False
    return secrets.token_urlsafe(32), True


def check_csrf(cookie: str | None, header: str | None) -> None:
    """Return if the header repeats the cookie's token; CsrfError otherwise."""
    if not cookie or not header or not _TOKEN.fullmatch(cookie):
        raise CsrfError()
    if not hmac.compare_digest(cookie.encode(), header.encode("utf-8", "replace")):
        raise CsrfError()
