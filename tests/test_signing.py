"""Ed25519 signatures of versions: what verifies, and every way one must not."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from loanapp.errors import InvalidInputError, SignatureError
from loanapp.signing import (
    VersionSignature,
    check_signature,
    generate_key_pair,
    key_id_of,
    load_private_key,
    load_public_keys,
    sign_version,
    verify_trusted,
)

VERSION = "a" * 64
OTHER_VERSION = "b" * 64


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_key_pair(tmp_path / "keys", "publisher")


def test_key_files_are_pem_and_the_private_one_is_owner_only(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = load_private_key(private)
    assert list(load_public_keys([public])) == [key_id_of(key.public_key())]


def test_keys_are_never_overwritten(keys: tuple[Path, Path]) -> None:
    private, _ = keys
    before = private.read_bytes()
    with pytest.raises(InvalidInputError, match="exists; a key is never overwritten"):
        generate_key_pair(private.parent, "publisher")
    assert private.read_bytes() == before


def test_a_signature_by_a_trusted_key_verifies(keys: tuple[Path, Path]) -> None:
    private, public = keys
    signature = sign_version(VERSION, load_private_key(private))
    check_signature(VERSION, signature)
    assert verify_trusted(VERSION, [signature], load_public_keys([public])) == signature


def test_an_untrusted_key_is_refused(keys: tuple[Path, Path], tmp_path: Path) -> None:
    _, trusted_public = keys
    stranger, _ = generate_key_pair(tmp_path / "other", "stranger")
    signature = sign_version(VERSION, load_private_key(stranger))
    check_signature(VERSION, signature)  # a valid signature, only not by a trusted key
    with pytest.raises(SignatureError, match=f"key {signature.key_id} is not trusted"):
        verify_trusted(VERSION, [signature], load_public_keys([trusted_public]))


def test_an_unsigned_version_is_refused(keys: tuple[Path, Path]) -> None:
    with pytest.raises(SignatureError, match="it has no signature"):
        verify_trusted(VERSION, [], load_public_keys([keys[1]]))


def test_a_signature_copied_from_another_version_is_refused(keys: tuple[Path, Path]) -> None:
    private, public = keys
    copied = sign_version(OTHER_VERSION, load_private_key(private))
    message = (
        f"version {VERSION} is not signed by a trusted key: key {copied.key_id}: the signature"
    )
    with pytest.raises(SignatureError, match=message):
        verify_trusted(VERSION, [copied], load_public_keys([public]))
    with pytest.raises(SignatureError, match="does not verify for this version"):
        check_signature(VERSION, copied)


def test_a_signature_claiming_another_key_id_is_refused(keys: tuple[Path, Path]) -> None:
    signature = sign_version(VERSION, load_private_key(keys[0]))
    forged = signature.model_copy(update={"key_id": "0" * 16})
    with pytest.raises(SignatureError, match="the key id does not match the key"):
        check_signature(VERSION, forged)


@pytest.mark.parametrize(
    ("field", "value"),
    [("signature", "not base64!"), ("public_key", "AAAA"), ("signature", "AAAA")],
)
def test_malformed_signatures_are_refused_not_crashed(
    keys: tuple[Path, Path], field: str, value: str
) -> None:
    signature = sign_version(VERSION, load_private_key(keys[0]))
    broken = VersionSignature.model_validate(signature.model_dump() | {field: value})
    with pytest.raises(SignatureError):
        check_signature(VERSION, broken)


def test_a_public_key_is_not_a_private_key(keys: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="is not an unencrypted PEM private key"):
        load_private_key(keys[1])
    with pytest.raises(InvalidInputError, match="is not a PEM public key"):
        load_public_keys([keys[0]])
    with pytest.raises(InvalidInputError, match="cannot read key file"):
        load_public_keys([tmp_path / "missing.pub"])
