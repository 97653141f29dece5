"""Object store in a local folder (a Docker volume on one host), with atomic conditional writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from loanapp.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoreUnavailableError,
)
from loanapp.files import TEMPORARY_PREFIX, write_atomically, write_temporary
from loanapp.store.objects import StoredObject, check_key

_LOCK_FOLDER = ".locks"
DEFAULT_LOCK_TIMEOUT_SECONDS = 30.0


class LocalFolderStore:
    """Keys are files under `root`. Writes go to a temporary file first, then appear atomically.

    `create` publishes with a hard link, which fails if the key exists, so no lock is needed.
    `replace` compares and swaps under an advisory file lock per key, which every process on the
    host that opens the same folder respects.
    """

    def __init__(self, root: Path, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> None:
        self.root = root.absolute()
        self.lock_timeout = lock_timeout

    @property
    def uri(self) -> str:
        """The folder as a file:// URI."""
        return self.root.as_uri()

    def get(self, key: str) -> StoredObject:
        """Read an object and its etag (the SHA-256 of its bytes)."""
        path = self._path(key)
        with self._translate_errors():
            try:
                data = path.read_bytes()
            except FileNotFoundError as exc:
                raise ObjectNotFoundError(key) from exc
        return StoredObject(data=data, etag=_etag(data))

    def put(self, key: str, data: bytes) -> str:
        """Write an object unconditionally."""
        path = self._path(key)
        with self._translate_errors():
            write_atomically(path, data)
        return _etag(data)

    def create(self, key: str, data: bytes) -> str:
        """Write an object only if the key is absent."""
        path = self._path(key)
        with self._translate_errors():
            temporary = write_temporary(path.parent, data)
            try:
                os.link(temporary, path)
            except FileExistsError as exc:
                raise ObjectExistsError(key) from exc
            finally:
                temporary.unlink()
        return _etag(data)

    def replace(self, key: str, data: bytes, etag: str) -> str:
        """Write an object only if its current etag is `etag`."""
        path = self._path(key)
        with self._translate_errors(), self._lock(key):
            try:
                current = _etag(path.read_bytes())
            except FileNotFoundError as exc:
                raise PreconditionFailedError(key) from exc
            if current != etag:
                raise PreconditionFailedError(key)
            write_atomically(path, data)
        return _etag(data)

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted; temporary and lock files are never listed."""
        keys: list[str] = []
        with self._translate_errors():
            if not self.root.exists():
                return keys  # a store nobody has written to yet
            if not self.root.is_dir():
                raise NotADirectoryError(f"{self.root} is not a folder")
            for folder, subfolders, files in os.walk(self.root, onerror=_raise):
                subfolders[:] = [name for name in subfolders if name != _LOCK_FOLDER]
                relative = Path(folder).relative_to(self.root)
                for name in files:
                    key = (relative / name).as_posix()
                    if not name.startswith(TEMPORARY_PREFIX) and key.startswith(prefix):
                        keys.append(key)
        return sorted(keys)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key, reserved=(_LOCK_FOLDER,)).split("/"))

    @contextlib.contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        lock_folder = self.root / _LOCK_FOLDER
        lock_folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_folder / (hashlib.sha256(key.encode()).hexdigest() + ".lock"))
        try:
            with lock.acquire(timeout=self.lock_timeout, poll_interval=0.001):
                yield
        except Timeout as exc:
            raise StoreUnavailableError(self.uri, f"lock on {key!r} not acquired") from exc

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise StoreUnavailableError(self.uri, f"{exc.strerror or exc}") from exc


def _raise(error: OSError) -> None:
    raise error


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
