"""Which versions a predict-API worker may serve: any, or only those signed by a trusted key.

The worker checks signatures itself, with the public keys it was given: it does not take the
model server's word for who signed a version, so a model server (or store) in the wrong hands
cannot make it serve a model no trusted key vouched for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from loanapp.signing import VersionSignature, load_public_keys, verify_trusted


class TrustPolicy:
    """Without trusted keys every verified version is served; with them, only signed ones."""

    def __init__(self, trusted_keys: dict[str, Ed25519PublicKey] | None = None) -> None:
        self.trusted_keys = dict(trusted_keys or {})

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> TrustPolicy:
        """The policy of the public-key files given (none: no signature required)."""
        return cls(load_public_keys(paths))

    @property
    def requires_signature(self) -> bool:
        """True when versions must be signed by one of the trusted keys."""
        return bool(self.trusted_keys)

    def signer(self, version: str, signatures: Sequence[VersionSignature]) -> str | None:
        """Key id of the trusted key that signed `version` (None when none is required).

        SignatureError when a signature is required and none verifies.
        """
        if not self.requires_signature:
            return None
        return verify_trusted(version, signatures, self.trusted_keys).key_id
