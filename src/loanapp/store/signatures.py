"""Signatures of versions in the store, beside the version records they vouch for.

    models/<name>/signatures/<version>/<key id>.json   one signature by one key, written once

A version record is written once and never changes, so signatures are objects of their own: a
version can be signed when it is published or later, by more than one key. Only signatures that
verify under the key they name are stored; whether that key is trusted is for the reader to say.
"""

from __future__ import annotations

import contextlib

from pydantic import ValidationError

from loanapp.errors import CorruptRecordError, ObjectExistsError
from loanapp.signing import VersionSignature, check_signature
from loanapp.store.objects import ObjectStore

_SUFFIX = ".json"


def signatures_prefix(name: str) -> str:
    """Where the signatures of every version of a model are kept."""
    return f"models/{name}/signatures/"


def signature_key(name: str, version: str, key_id: str) -> str:
    """Key of one signature of a version."""
    return f"{signatures_prefix(name)}{version}/{key_id}{_SUFFIX}"


class SignatureShelf:
    """Signatures of versions, kept in an object store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def add(self, name: str, version: str, signature: VersionSignature) -> None:
        """Keep a signature that verifies for `version`; adding the same one again is a no-op."""
        check_signature(version, signature)  # SignatureError: a copied or forged one is refused
        data = signature.model_dump_json().encode()
        # Ed25519 is deterministic: an existing object is the same key's same signature.
        with contextlib.suppress(ObjectExistsError):
            self.store.create(signature_key(name, version, signature.key_id), data)

    def of_version(self, name: str, version: str) -> list[VersionSignature]:
        """Every signature kept for a version, by key id."""
        return [self._read(key) for key in self.store.list(f"{signatures_prefix(name)}{version}/")]

    def signers_by_version(self, name: str) -> dict[str, list[str]]:
        """Key ids that signed each version of a model (from the keys alone: one listing)."""
        signers: dict[str, list[str]] = {}
        prefix = signatures_prefix(name)
        for key in self.store.list(prefix):
            version, _, file_name = key[len(prefix) :].partition("/")
            signers.setdefault(version, []).append(file_name.removesuffix(_SUFFIX))
        return signers

    def _read(self, key: str) -> VersionSignature:
        try:
            return VersionSignature.model_validate_json(self.store.get(key).data)
        except ValidationError as exc:
            raise CorruptRecordError(key, str(exc)) from exc
