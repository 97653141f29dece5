"""Object store in an S3 bucket (AWS S3 or any S3-compatible server), on obstore.

`create` is a PUT with `If-None-Match: *` and `replace` a PUT with `If-Match: <etag>`, so the server
itself refuses a write that lost a race: no lock, no second service. Endpoint, region and
credentials come from the standard AWS environment variables, which obstore reads
(AWS_ENDPOINT_URL, AWS_REGION or AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, ...). Every obstore error is translated into loanapp's errors here, once.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

import obstore
import obstore.store
from obstore.exceptions import (
    AlreadyExistsError,
    BaseError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)

from loanapp.errors import (
    InvalidInputError,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoreUnavailableError,
)
from loanapp.store.objects import StoredObject, check_key

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig

# An outage must fail a call within seconds: the model server then answers from memory and a
# publish reports the failure, instead of both hanging on a dead endpoint for minutes.
DEFAULT_CONNECT_TIMEOUT = timedelta(seconds=2)
DEFAULT_READ_TIMEOUT = timedelta(seconds=10)  # a stalled transfer; resets after every read
DEFAULT_REQUEST_TIMEOUT = timedelta(seconds=60)  # a whole request, a large artifact included
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_TIMEOUT = timedelta(seconds=5)

# Client options obstore reads from AWS_<NAME> itself, but only when it is given no client options
# at all; we give it timeouts, so we read these here and they override the defaults above.
_CLIENT_OPTIONS_FROM_ENVIRONMENT = (
    "allow_http",
    "allow_invalid_certificates",
    "connect_timeout",
    "proxy_ca_certificate",
    "proxy_excludes",
    "proxy_url",
    "read_timeout",
    "timeout",
)
_BUCKET_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,62}")
_ROOT_CAUSE = re.compile(r'message: "([^"]+)"')
_GENERIC = re.compile(r"^Generic \w+ error: ")  # says nothing the rest of the line does not
_DENIED = re.compile(r"\b(401 Unauthorized|403 Forbidden)\b")


class S3Store:
    """Keys are objects under `s3://bucket/prefix/`; conditional writes are done by the server.

    Every write is one PUT, which S3 applies atomically: a reader sees the old object or the new
    one. Etags are the server's (quoted, opaque); `replace` hands back the one `get` returned.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_timeout: timedelta = DEFAULT_RETRY_TIMEOUT,
    ) -> None:
        if not _BUCKET_PATTERN.fullmatch(bucket):
            raise InvalidInputError(f"invalid S3 bucket name {bucket!r} in store URI")
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix)
        self.bucket = bucket
        self.prefix = prefix
        retry: RetryConfig = {
            "max_retries": max_retries,
            "retry_timeout": retry_timeout,
            "backoff": {
                "init_backoff": timedelta(milliseconds=100),
                "max_backoff": timedelta(seconds=1),
                "base": 2,
            },
        }
        try:
            self._store = obstore.store.S3Store(
                bucket,
                prefix=prefix or None,
                client_options=_client_options(),
                retry_config=retry,
            )
        except (BaseError, ValueError) as exc:  # e.g. an unparsable AWS_* value
            raise InvalidInputError(
                f"cannot configure the S3 store {self.uri}: {_describe(exc)}"
            ) from exc

    @classmethod
    def from_uri(cls, uri: str) -> S3Store:
        """The store named by `s3://bucket/prefix` (the prefix is optional)."""
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
            raise InvalidInputError(f"invalid S3 store URI {uri!r}: use s3://bucket/prefix")
        return cls(parsed.netloc, parsed.path)

    @property
    def uri(self) -> str:
        """`s3://bucket/prefix`."""
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def get(self, key: str) -> StoredObject:
        """Read an object and the server's etag of exactly these bytes (one GET)."""
        check_key(key)
        with self._translate_errors(key, missing=ObjectNotFoundError):
            result = obstore.get(self._store, key)
            data = bytes(result.bytes())
            etag = result.meta["e_tag"]
        return StoredObject(data=data, etag=self._require_etag(etag, key))

    def put(self, key: str, data: bytes) -> str:
        """Write an object unconditionally."""
        check_key(key)
        with self._translate_errors(key):
            result = obstore.put(self._store, key, data, mode="overwrite", use_multipart=False)
        return self._require_etag(result["e_tag"], key)

    def create(self, key: str, data: bytes) -> str:
        """Write an object only if the key is absent: a PUT with If-None-Match: *."""
        check_key(key)
        with self._translate_errors(key, conflict=ObjectExistsError):
            result = obstore.put(self._store, key, data, mode="create", use_multipart=False)
        return self._require_etag(result["e_tag"], key)

    def replace(self, key: str, data: bytes, etag: str) -> str:
        """Write an object only if its current etag is `etag`: a PUT with If-Match: <etag>."""
        check_key(key)
        # A missing key fails the If-Match too, as in the local backend.
        with self._translate_errors(key, conflict=PreconditionFailedError):
            result = obstore.put(self._store, key, data, mode={"e_tag": etag}, use_multipart=False)
        return self._require_etag(result["e_tag"], key)

    def list(self, prefix: str) -> list[str]:
        """Keys that start with `prefix` (any string, not only a folder), sorted."""
        # obstore lists whole path segments, so list the folder part and filter the rest here.
        folder = prefix.rpartition("/")[0]
        keys: list[str] = []
        with self._translate_errors(prefix):
            for chunk in obstore.list(self._store, folder or None):
                keys.extend(meta["path"] for meta in chunk if meta["path"].startswith(prefix))
        return sorted(keys)

    def _require_etag(self, etag: str | None, key: str) -> str:
        if not etag:
            raise StoreUnavailableError(
                self.uri, f"the server sent no ETag for {key!r}; conditional writes need one"
            )
        return etag

    @contextlib.contextmanager
    def _translate_errors(
        self,
        key: str,
        *,
        missing: type[ObjectNotFoundError] | None = None,
        conflict: type[ObjectExistsError | PreconditionFailedError] | None = None,
    ) -> Iterator[None]:
        """obstore's errors as ours: not found, a lost conditional write, or an unusable store."""
        try:
            yield
        except FileNotFoundError as exc:
            # Only a read can miss a key; a write or a listing that "misses" lacks the bucket.
            if missing is None or "NoSuchBucket" in str(exc):
                raise self._unavailable(exc) from exc
            raise missing(key) from exc
        except (AlreadyExistsError, PreconditionError) as exc:
            # 412 Precondition Failed. obstore reports a create's 412, and the 409 Conflict AWS
            # answers to two conditional writes at once, as AlreadyExistsError.
            if conflict is None:
                raise self._unavailable(exc) from exc
            raise conflict(key) from exc
        except BaseError as exc:  # refused or timed out after retries, 5xx, 403, and the rest
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> StoreUnavailableError:
        text = str(exc)
        if isinstance(exc, FileNotFoundError) or "NoSuchBucket" in text:
            reason = f"bucket {self.bucket!r} not found"
        elif isinstance(exc, PermissionDeniedError | UnauthenticatedError) or _DENIED.search(text):
            # A listing's 403 comes as a generic error, with the status only in its text.
            reason = "access denied; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        else:
            return StoreUnavailableError(self.uri, _describe(exc))
        return StoreUnavailableError(self.uri, f"{reason} ({_describe(exc)})")


def _client_options() -> ClientConfig:
    options: dict[str, Any] = {
        "connect_timeout": DEFAULT_CONNECT_TIMEOUT,
        "read_timeout": DEFAULT_READ_TIMEOUT,
        "timeout": DEFAULT_REQUEST_TIMEOUT,
    }
    for name in _CLIENT_OPTIONS_FROM_ENVIRONMENT:
        value = os.environ.get(f"AWS_{name.upper()}")
        if value:
            options[name] = value  # obstore parses "true" and "5s" strings itself
    return cast("ClientConfig", options)


def _describe(exc: BaseException) -> str:
    """The first line of an obstore error, plus the operating system's reason if it gave one."""
    text = str(exc)
    summary = _GENERIC.sub("", text.split("\n", 1)[0].strip())
    cause = _ROOT_CAUSE.search(text)
    if cause and cause.group(1) not in summary:
        summary = f"{summary} ({cause.group(1)})"
    return summary
