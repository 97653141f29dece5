"""The S3 backend beyond the shared contract: URIs, prefixes, and how each failure is reported."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from loanapp.dev.processes import free_port
from loanapp.errors import InvalidInputError, StoreUnavailableError
from loanapp.store.objects import ObjectStore
from loanapp.store.s3 import S3Store
from loanapp.store.uri import open_store

OPERATIONS: dict[str, Callable[[ObjectStore], object]] = {
    "get": lambda store: store.get("k"),
    "put": lambda store: store.put("k", b"x"),
    "create": lambda store: store.create("k", b"x"),
    "replace": lambda store: store.replace("k", b"x", '"etag"'),
    "list": lambda store: store.list(""),
}


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [
        ("s3://models", "models", ""),
        ("s3://models/", "models", ""),
        ("s3://models/team/loan", "models", "team/loan"),
        ("s3://models/team/loan/", "models", "team/loan"),
    ],
)
def test_open_store_reads_bucket_and_prefix(uri: str, bucket: str, prefix: str) -> None:
    store = open_store(uri)  # no request is made until the store is used
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == (bucket, prefix)
    assert store.uri == uri.rstrip("/")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://", "invalid S3 store URI 's3://'"),
        ("s3:///prefix", "invalid S3 store URI"),
        ("s3://models/x?versionId=1", "invalid S3 store URI"),
        ("s3://a/x", "invalid S3 bucket name 'a'"),
        ("s3://bad bucket/x", "invalid S3 bucket name"),
        ("s3://models/a/../b", "invalid object key 'a/../b'"),
        ("s3://models/a//b", "invalid object key 'a//b'"),
    ],
)
def test_malformed_s3_uris_are_refused(uri: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("?", r"\?")):
        open_store(uri)


def test_unparsable_aws_setting_is_invalid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ALLOW_HTTP", "sometimes")
    with pytest.raises(InvalidInputError, match="cannot configure the S3 store s3://models"):
        open_store("s3://models")


@pytest.mark.integration  # needs the SeaweedFS server
def test_prefixes_isolate_stores_in_one_bucket(s3_uri: str) -> None:
    outer = open_store(s3_uri)
    inner = open_store(s3_uri + "/inner")
    inner.put("k", b"inside")
    outer.put("k", b"outside")
    assert inner.list("") == ["k"]
    assert outer.list("") == ["inner/k", "k"]
    assert outer.get("inner/k").data == b"inside"
    assert inner.get("k").data == b"inside"


@pytest.mark.integration  # needs the SeaweedFS server
@pytest.mark.parametrize("operation", OPERATIONS)
def test_unreachable_endpoint_is_store_unavailable_naming_the_uri(
    s3_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    store = open_store("s3://models/loan")
    with pytest.raises(StoreUnavailableError, match="Connection refused") as caught:
        OPERATIONS[operation](store)
    assert caught.value.message.startswith("model store s3://models/loan is unavailable: ")


@pytest.mark.integration  # needs the SeaweedFS server
@pytest.mark.parametrize(
    ("variable", "value"),
    [("AWS_SECRET_ACCESS_KEY", "not-the-secret"), ("AWS_SKIP_SIGNATURE", "true")],
)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_wrong_or_no_credentials_are_store_unavailable(
    s3_uri: str, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, operation: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(StoreUnavailableError, match="access denied; check AWS_ACCESS_KEY_ID"):
        OPERATIONS[operation](open_store(s3_uri))


# Not `replace`: an If-Match on a missing object fails first, with 412 (PreconditionFailedError).
@pytest.mark.integration  # needs the SeaweedFS server
@pytest.mark.parametrize("operation", ["get", "put", "create", "list"])
def test_missing_bucket_is_store_unavailable(
    s3_environment: dict[str, str], operation: str
) -> None:
    store = open_store("s3://no-such-bucket/loan")
    with pytest.raises(StoreUnavailableError, match="bucket 'no-such-bucket' not found"):
        OPERATIONS[operation](store)
