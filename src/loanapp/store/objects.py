"""The object-store interface that every backend implements, and the URI that picks one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from loanapp.errors import InvalidInputError


@dataclass(frozen=True)
class StoredObject:
    """The bytes of one object and the entity tag that identifies this exact content."""

    data: bytes
    etag: str


class ObjectStore(Protocol):
    """A flat key -> bytes store with the two conditional writes that make publishing safe.

    Keys are '/'-separated. `put` overwrites; `create` writes only if the key is absent
    (ObjectExistsError otherwise); `replace` writes only if the current etag is `etag`
    (PreconditionFailedError otherwise). Every write is atomic: a reader sees the old bytes or the
    new bytes, never a mix. Backends translate their client's errors into loanapp's errors.
    """

    @property
    def uri(self) -> str:
        """Where the store is, for messages and logs."""
        ...

    def get(self, key: str) -> StoredObject:
        """Read an object; ObjectNotFoundError if the key is absent."""
        ...

    def put(self, key: str, data: bytes) -> str:
        """Write an object unconditionally; return its etag."""
        ...

    def create(self, key: str, data: bytes) -> str:
        """Write an object only if the key is absent; return its etag."""
        ...

    def replace(self, key: str, data: bytes, etag: str) -> str:
        """Write an object only if its current etag is `etag`; return the new etag."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Keys that start with `prefix`, sorted."""
        ...


DEFAULT_STORE_URI = "./model-store"


def open_store(uri: str) -> ObjectStore:
    """Open the store named by a URI: a folder path, a file:// URI, or s3://bucket/prefix."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        from loanapp.store.local import LocalFolderStore

        path = unquote(parsed.path) if parsed.scheme == "file" else uri
        return LocalFolderStore(Path(path))
    if parsed.scheme == "s3":
        from loanapp.store.s3 import S3Store  # imports obstore only for an S3 store

        return S3Store.from_uri(uri)
    raise InvalidInputError(
        f"unsupported store URI {uri!r}: use a folder path, file:///path or s3://bucket/prefix"
    )
