"""Pinned mode: the model server serves one artifact file, checked against its expected SHA-256."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any, Literal

from loanapp.artifacts import check_version_id, check_version_prefix, load_publishable
from loanapp.defaults import DEFAULT_ALIAS
from loanapp.errors import (
    AliasNotFoundError,
    ConflictError,
    InvalidInputError,
    ModelNotFoundError,
    VersionNotFoundError,
)
from loanapp.metrics.model_server import record_alias_version
from loanapp.signing import VersionSignature
from loanapp.store.registry import AliasChange, AliasRecord, VersionRecord, summarize_version
from loanapp.store.uri import local_path

logger = logging.getLogger(__name__)

PINNED_ACTOR = "pinned"


class PinnedCatalog:
    """One verified artifact, loaded once at start; every write is refused with a 409."""

    mode: Literal["pinned"] = "pinned"

    def __init__(self, model_uri: str, data: bytes, record: VersionRecord, alias: str) -> None:
        self.model_uri = model_uri
        self.alias = alias
        self.record = record
        self._data = data
        self._stopping = threading.Event()

    @classmethod
    def from_uri(
        cls, model_uri: str, expected_sha256: str, *, alias: str = DEFAULT_ALIAS
    ) -> PinnedCatalog:
        """Read the file at MODEL_URI, verify it against MODEL_SHA256 and load it fully once."""
        version = check_version_id(expected_sha256.strip().lower())
        path = local_path(model_uri)
        if path is None:
            raise InvalidInputError(
                f"unsupported MODEL_URI {model_uri!r}: give a path or a file:// URI of an artifact"
            )
        try:
            data = path.read_bytes()
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError as exc:
            raise InvalidInputError(f"MODEL_URI {model_uri!r}: no artifact file at {path}") from exc
        except OSError as exc:
            raise InvalidInputError(
                f"MODEL_URI {model_uri!r}: cannot read {path}: {exc.strerror or exc}"
            ) from exc
        # The publish gate: the hash before a single byte is parsed (ArtifactIntegrityError names
        # both hashes), then the predict API's own load and the full one, so a model that starts
        # is servable by every worker. Only the bytes are kept; clients load the model themselves.
        metadata = load_publishable(data, version).metadata
        record = VersionRecord(
            name=metadata.name,
            version=version,
            size=len(data),
            published_at=modified,
            published_by=PINNED_ACTOR,
            metadata=metadata,
        )
        logger.info("pinned mode: serving %s version %s from %s", metadata.name, version, path)
        return cls(model_uri, data, record, alias)

    def current(self, name: str) -> str:
        """The pinned version, for the pinned model's name only."""
        return self._check_name(name).version

    def wait_for_change(self, name: str, known_version: str | None, timeout: float) -> str | None:
        """The pinned version if the caller knows another; else None after `timeout` (or stop)."""
        version = self.current(name)
        if version != known_version:
            return version
        self._stopping.wait(timeout)  # nothing can change until a restart
        return None

    def list_models(self) -> list[str]:
        """The pinned model's name."""
        return [self.record.name]

    def version_summaries(self, name: str) -> list[dict[str, Any]]:
        """The pinned version, with the followed alias."""
        return [summarize_version(self._check_name(name), [self.alias])]

    def get_version(self, name: str, version_or_prefix: str) -> VersionRecord:
        """The pinned version's record, if `version_or_prefix` names it."""
        record = self._check_name(name)
        if not record.version.startswith(check_version_prefix(version_or_prefix)):
            raise VersionNotFoundError(name, version_or_prefix)
        return record

    def artifact_bytes(self, version: str) -> bytes:
        """The pinned artifact's bytes (verified at start; held in memory since)."""
        if check_version_id(version) != self.record.version:
            raise VersionNotFoundError(self.record.name, version)
        return self._data

    def signatures(self, name: str, version: str) -> list[VersionSignature]:
        """None: pinned mode serves a file, and a file carries no signature."""
        self.artifact_bytes(version)  # VersionNotFoundError for any other version
        self._check_name(name)
        return []

    def alias_record(self, name: str, alias: str) -> AliasRecord:
        """The followed alias, pointing at the pinned version since the file was written."""
        record = self._check_name(name)
        if alias != self.alias:
            raise AliasNotFoundError(name, alias)
        change = AliasChange(
            revision=1,
            action="promote",
            version=record.version,
            previous=None,
            at=record.published_at,
            by=PINNED_ACTOR,
        )
        return AliasRecord(name=name, alias=alias, version=record.version, history=(change,))

    def publish(
        self, data: bytes, *, actor: str, name: str | None = None, alias: str | None = None
    ) -> VersionRecord:
        """Refused: pinned mode serves one file."""
        raise self._refusal()

    def promote(
        self,
        name: str,
        version: str,
        *,
        actor: str,
        alias: str,
        force: bool = False,
        reason: str | None = None,
    ) -> AliasRecord:
        """Refused: pinned mode serves one file."""
        raise self._refusal()

    def rollback(self, name: str, *, actor: str, alias: str) -> AliasRecord:
        """Refused: pinned mode serves one file."""
        raise self._refusal()

    def status(self) -> dict[str, object]:
        """The pinned file and version."""
        return {
            "mode": self.mode,
            "model_uri": self.model_uri,
            "alias": self.alias,
            "current": {self.record.name: self.record.version},
        }

    def start(self) -> None:
        """Nothing to follow in pinned mode (the metrics name the pinned version)."""
        record_alias_version(self.record.name, self.alias, self.record.version, None)
        self._stopping.clear()

    def stop(self) -> None:
        """Wake every waiting long-poll."""
        self._stopping.set()

    def _check_name(self, name: str) -> VersionRecord:
        if name != self.record.name:
            raise ModelNotFoundError(name)
        return self.record

    def _refusal(self) -> ConflictError:
        return ConflictError(
            f"pinned mode: the model server serves MODEL_URI {self.model_uri} "
            f"(version {self.record.version}) and accepts no uploads or alias changes; "
            "restart it with a new MODEL_URI and MODEL_SHA256 to serve another version"
        )
