"""The containers' health check: `python -m loanapp.healthcheck [URL]` exits 0 when URL answers 200.

Docker runs it every few seconds in every container (the images' one HEALTHCHECK), so it imports
the standard library only: no Flask, pandas or scikit-learn, whose imports alone would cost more
than the check. The URL is the argument, else LOANAPP_HEALTHCHECK_URL, which each image
sets to its own readiness route. On failure it prints one line saying why on stderr, which Docker
keeps in the container's health log, and exits 1 (Docker reserves 2).
"""

from __future__ import annotations

import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

URL_VARIABLE = "LOANAPP_HEALTHCHECK_URL"
# Below the images' HEALTHCHECK --timeout (3 s), so a hung service is reported with a reason
# instead of the check being killed without one.
DEFAULT_TIMEOUT_SECONDS = 2.0
HEALTHY, UNHEALTHY = 0, 1
# How much of an error answer's body the reason quotes (the services put their detail there).
QUOTED_BODY_CHARACTERS = 200

# The check asks its own container: a proxy from the environment (Docker passes the client's
# proxy settings into containers) would send 127.0.0.1 to the proxy instead.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get_url(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The URL to check: the one argument, else LOANAPP_HEALTHCHECK_URL; ValueError if neither."""
    if len(argv) > 1:
        raise ValueError(f"usage: python -m loanapp.healthcheck [URL], got {len(argv)} arguments")
    url = argv[0] if argv else environ.get(URL_VARIABLE, "")
    if not url:
        raise ValueError(f"no URL to check: pass one or set {URL_VARIABLE}")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


def check(url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> str | None:
    """GET `url`: None if it answers 200 within `timeout` seconds, else why not, in one line."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            status: int = response.status
            body: bytes = response.read(QUOTED_BODY_CHARACTERS)
    except urllib.error.HTTPError as exc:  # an answer, only not a 2xx one
        with exc:
            status, body = exc.code, exc.read(QUOTED_BODY_CHARACTERS)
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError too
        cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(cause, TimeoutError):
            return f"{url} did not answer within {timeout:g}s"
        return f"GET {url} failed: {cause}"
    if status == 200:
        return None
    quoted = body.decode("utf-8", errors="replace")
    return f"{url} answered {status}" + (f": {quoted}" if quoted else "")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Check the URL; 0 if healthy, else 1 with the reason on stderr."""
    arguments = sys.argv[1:] if argv is None else argv
    try:
        reason = check(get_url(arguments, os.environ if environ is None else environ))
    except ValueError as exc:  # no usable URL
        reason = str(exc)
    if reason is None:
        return HEALTHY
    print("unhealthy: " + " ".join(reason.split()), file=sys.stderr)
    return UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
