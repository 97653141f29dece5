"""Client for the model server; the one place where its HTTP errors become loanapp errors."""

from __future__ import annotations

from urllib.parse import quote

import orjson
import urllib3
from pydantic import ValidationError
from urllib3.exceptions import HTTPError

from loanapp.artifacts import check_version_id, verify_bytes
from loanapp.envelope import REQUEST_ID_HEADER
from loanapp.errors import UpstreamUnavailableError
from loanapp.logs import request_id_var
from loanapp.signing import VersionSignature
from loanapp.worker_identity import WorkerReport

DEFAULT_CONNECT_TIMEOUT_SECONDS = 2.0
DEFAULT_READ_TIMEOUT_SECONDS = 30.0
# Extra read time beyond a long-poll's wait, so a slow answer is not mistaken for a dead server.
LONG_POLL_GRACE_SECONDS = 5.0


class ModelServerClient:
    """Asks the model server which version is current, and fetches artifacts by version."""

    def __init__(self, base_url: str, pool: urllib3.PoolManager | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._pool = pool or urllib3.PoolManager(maxsize=4, retries=False)

    def current_version(
        self,
        name: str,
        *,
        known: str | None = None,
        wait: float = 0.0,
        timeout: float | None = None,
        identity: WorkerReport | None = None,
    ) -> str | None:
        """The current version of `name`; with `known` and `wait`, None if it did not change.

        `timeout` bounds the whole question, connecting included (a starting worker's wait);
        `identity` tells the model server which worker asks and what it serves (its fleet view).
        """
        headers = {"Accept": "application/json"}
        if identity is not None:
            headers |= identity.to_headers()
        if known:
            headers["If-None-Match"] = f'"{known}"'
        response = self._get(
            f"/v1/models/{quote(name)}/current?wait={wait:g}",
            headers,
            read_timeout=wait + LONG_POLL_GRACE_SECONDS,
            total_timeout=timeout,
        )
        if response.status == 304:
            return None
        try:
            version = orjson.loads(response.data)["version"]
            return check_version_id(version)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise UpstreamUnavailableError(
                self.base_url, "malformed current-version answer"
            ) from exc

    def fetch_artifact(self, name: str, version: str) -> bytes:
        """The artifact bytes of a version, verified against the version (its SHA-256)."""
        response = self._get(
            f"/v1/models/{quote(name)}/versions/{check_version_id(version)}/artifact",
            {"Accept": "application/octet-stream"},
            read_timeout=DEFAULT_READ_TIMEOUT_SECONDS,
        )
        data: bytes = response.data
        verify_bytes(data, version)
        return data

    def fetch_signatures(self, name: str, version: str) -> list[VersionSignature]:
        """The signatures the model server keeps for a version (unchecked: the caller checks)."""
        response = self._get(
            f"/v1/models/{quote(name)}/versions/{check_version_id(version)}/signatures",
            {"Accept": "application/json"},
            read_timeout=DEFAULT_READ_TIMEOUT_SECONDS,
        )
        try:
            listed = orjson.loads(response.data)["signatures"]
            return [VersionSignature.model_validate(item) for item in listed]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
            raise UpstreamUnavailableError(self.base_url, "malformed signatures answer") from exc

    def _get(
        self,
        path: str,
        headers: dict[str, str],
        *,
        read_timeout: float,
        total_timeout: float | None = None,
    ) -> urllib3.BaseHTTPResponse:
        url = self.base_url + path
        # The request (or the watcher's round) this call is made for, so that both services'
        # log lines about it share one id.
        if (request_id := request_id_var.get()) is not None:
            headers = headers | {REQUEST_ID_HEADER: request_id}
        timeout = urllib3.Timeout(
            connect=DEFAULT_CONNECT_TIMEOUT_SECONDS, read=read_timeout, total=total_timeout
        )
        try:
            response = self._pool.request(
                "GET", url, headers=headers, timeout=timeout, redirect=False
            )
        except HTTPError as exc:
            raise UpstreamUnavailableError(self.base_url, f"{type(exc).__name__}: {exc}") from exc
        if response.status not in (200, 304):
            raise UpstreamUnavailableError(
                self.base_url, f"GET {path} answered {response.status}: {_error_message(response)}"
            )
        return response


def _error_message(response: urllib3.BaseHTTPResponse) -> str:
    try:
        return str(orjson.loads(response.data).get("error", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return response.data[:200].decode(errors="replace")
