"""Ed25519 signatures of versions: who vouches for a model, on top of what its SHA-256 proves.

The hash proves that bytes are the ones registered under a version; a signature proves that the
holder of a private key vouched for that version. What is signed is the version id itself
(behind a fixed prefix, so the signature means nothing in another protocol), so a signature
copied onto another version does not verify. A key is named by its key id: the first 16 hex
digits of the SHA-256 of its raw public bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from loanapp.errors import InvalidInputError, SignatureError

SIGNED_PREFIX = b"loanapp version signature/1 "
PRIVATE_KEY_SUFFIX = ".key"
PUBLIC_KEY_SUFFIX = ".pub"
DEFAULT_KEY_NAME = "loanapp-signing"


class VersionSignature(BaseModel):
    """One signature of a version: which key signed it, and the signature itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str
    public_key: str
    """The signer's raw public key, base64: shown to people, never trusted by itself."""
    signature: str
    """Ed25519 signature of SIGNED_PREFIX + version, base64."""


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The short, stable name of a public key."""
    return hashlib.sha256(_raw(public_key)).hexdigest()[:16]


def generate_key_pair(folder: Path, name: str = DEFAULT_KEY_NAME) -> tuple[Path, Path]:
    """Write a new private key (owner-only) and its public key as PEM files; return both paths."""
    private_path = folder / f"{name}{PRIVATE_KEY_SUFFIX}"
    public_path = folder / f"{name}{PUBLIC_KEY_SUFFIX}"
    for path in (private_path, public_path):
        if path.exists():
            raise InvalidInputError(f"{path} exists; a key is never overwritten")
    key = Ed25519PrivateKey.generate()
    folder.mkdir(parents=True, exist_ok=True)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created owner-only, so the private key is never readable by others, not even for a moment.
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file; InvalidInputError if it is anything else."""
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"{path} is not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_keys(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """Ed25519 public keys from PEM files, by key id; InvalidInputError on any other file."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        try:
            key = serialization.load_pem_public_key(_read(path))
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"{path} is not a PEM public key ({exc})") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInputError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
        keys[key_id_of(key)] = key
    return keys


def sign_version(version: str, key: Ed25519PrivateKey) -> VersionSignature:
    """Sign a version id."""
    public_key = key.public_key()
    return VersionSignature(
        key_id=key_id_of(public_key),
        public_key=base64.b64encode(_raw(public_key)).decode(),
        signature=base64.b64encode(key.sign(SIGNED_PREFIX + version.encode())).decode(),
    )


def check_signature(version: str, signature: VersionSignature) -> None:
    """SignatureError unless `signature` verifies under the public key it names (any key)."""
    try:
        raw_key = base64.b64decode(signature.public_key, validate=True)
        public_key = Ed25519PublicKey.from_public_bytes(raw_key)
    except ValueError as exc:
        raise SignatureError(version, f"key {signature.key_id}: malformed public key") from exc
    if key_id_of(public_key) != signature.key_id:
        raise SignatureError(version, f"key {signature.key_id}: the key id does not match the key")
    _verify(version, signature, public_key)


def verify_trusted(
    version: str, signatures: Sequence[VersionSignature], trusted: dict[str, Ed25519PublicKey]
) -> VersionSignature:
    """The first signature of `version` by a trusted key that verifies; SignatureError if none."""
    if not signatures:
        raise SignatureError(version, "it has no signature")
    problems = []
    for signature in signatures:
        key = trusted.get(signature.key_id)
        if key is None:
            problems.append(f"key {signature.key_id} is not trusted")
            continue
        try:
            _verify(version, signature, key)
        except SignatureError as exc:
            problems.append(exc.reason)
            continue
        return signature
    raise SignatureError(version, "; ".join(problems))


def _verify(version: str, signature: VersionSignature, key: Ed25519PublicKey) -> None:
    try:
        key.verify(
            base64.b64decode(signature.signature, validate=True), SIGNED_PREFIX + version.encode()
        )
    except (InvalidSignature, ValueError) as exc:
        reason = f"key {signature.key_id}: the signature does not verify for this version"
        raise SignatureError(version, reason) from exc


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
