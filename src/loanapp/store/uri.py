"""Store URIs: which backend a URI names, and the local path a file URI names."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from loanapp.errors import InvalidInputError
from loanapp.store.local import LocalFolderStore
from loanapp.store.objects import ObjectStore


def local_path(uri: str) -> Path | None:
    """The path named by a plain path or a file:// URI; None for any other scheme."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a plain path (or a Windows drive)
        return Path(uri)
    return None


def open_store(uri: str) -> ObjectStore:
    """Open the store named by a URI: a folder path, a file:// URI, or s3://bucket/prefix."""
    path = local_path(uri)
    if path is not None:
        return LocalFolderStore(path)
    if urlparse(uri).scheme == "s3":
        from loanapp.store.s3 import S3Store  # imports obstore only for an S3 store

        return S3Store.from_uri(uri)
    raise InvalidInputError(
        f"unsupported store URI {uri!r}: use a folder path, file:///path or s3://bucket/prefix"
    )
