"""The object-store interface that every backend implements, and the keys every backend accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


def check_key(key: str, reserved: tuple[str, ...] = ()) -> str:
    """Return `key` if every backend can store it, else raise InvalidInputError.

    A key is '/'-separated, relative, with no empty, '.' or '..' part (no way out of the store),
    and no part a backend keeps for itself (`reserved`).
    """
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..", *reserved) for p in parts):
        raise InvalidInputError(f"invalid object key {key!r}")
    return key
