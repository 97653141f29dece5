"""The object-store contract: atomic writes, create-only and compare-and-swap."""

from __future__ import annotations

from pathlib import Path

import pytest

from loanapp.errors import (
    InvalidInputError,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoreUnavailableError,
)
from loanapp.store.local import LocalFolderStore
from loanapp.store.objects import ObjectStore
from loanapp.store.uri import open_store


def test_put_then_get_returns_bytes_and_etag(store: ObjectStore) -> None:
    etag = store.put("a/b.json", b"one")
    stored = store.get("a/b.json")
    assert stored.data == b"one"
    assert stored.etag == etag
    assert store.put("a/b.json", b"two") != etag
    assert store.get("a/b.json").data == b"two"


def test_missing_key_is_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError, match="'nope/x' not found"):
        store.get("nope/x")


def test_create_refuses_an_existing_key(store: ObjectStore) -> None:
    store.create("k", b"first")
    with pytest.raises(ObjectExistsError):
        store.create("k", b"second")
    assert store.get("k").data == b"first"


def test_replace_is_compare_and_swap(store: ObjectStore) -> None:
    etag = store.create("alias", b"v1")
    new_etag = store.replace("alias", b"v2", etag)
    with pytest.raises(PreconditionFailedError):
        store.replace("alias", b"v3", etag)  # stale etag: somebody else wrote v2
    assert store.get("alias").data == b"v2"
    assert store.replace("alias", b"v3", new_etag)
    with pytest.raises(PreconditionFailedError):
        store.replace("absent", b"x", etag)


def test_list_is_sorted_and_filtered_by_prefix(store: ObjectStore) -> None:
    for key in ("m/b", "m/a", "n/c", "m/sub/d"):
        store.put(key, b"")
    assert store.list("m/") == ["m/a", "m/b", "m/sub/d"]
    assert store.list("zzz") == []
    assert store.list("m/s") == ["m/sub/d"]  # a prefix need not end at a "/"
    assert store.list("m") == ["m/a", "m/b", "m/sub/d"]
    assert store.list("") == ["m/a", "m/b", "m/sub/d", "n/c"]


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a"])
def test_keys_that_escape_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid object key"):
        store.put(key, b"")
    with pytest.raises(InvalidInputError, match="invalid object key"):
        store.get(key)


# -- local-folder backend only: its files, folders and URIs -------------------------------------


def test_local_lock_folder_is_not_a_key(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="invalid object key"):
        LocalFolderStore(tmp_path).put(".locks/x", b"")


def test_local_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    etag = store.create("x/y", b"1")
    store.replace("x/y", b"2", etag)
    store.put("x/z", b"3")
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith(".locks/")] == ["x/y", "x/z"]
    assert store.list("") == ["x/y", "x/z"]


def test_unwritable_folder_is_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    store = LocalFolderStore(blocker)  # a file where the folder should be
    with pytest.raises(StoreUnavailableError, match="is unavailable"):
        store.put("k", b"")


@pytest.mark.parametrize("uri", ["relative/store", "/abs/store", "file:///abs/store"])
def test_open_store_accepts_paths_and_file_uris(uri: str) -> None:
    store = open_store(uri)
    assert isinstance(store, LocalFolderStore)
    assert store.root.name == "store"


def test_open_store_refuses_unknown_schemes() -> None:
    with pytest.raises(InvalidInputError, match="unsupported store URI 'ftp://x'"):
        open_store("ftp://x")
