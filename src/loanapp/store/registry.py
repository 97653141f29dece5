"""The model registry: versions, aliases and their history, kept in any ObjectStore.

Layout of the store (every key written once, except alias records, which change by
compare-and-swap only):

    blobs/sha256/<version>                  artifact bytes, content-addressed
    models/<name>/versions/<version>.json   who published the version, when, and its metadata
    models/<name>/aliases/<alias>.json      current version of the alias and its full history
    models/<name>/signatures/<version>/<key id>.json   signatures of a version (signatures.py)

Publishing writes the blob first and the small version record after it, so a version that is
listed always has its bytes in place. An alias record holds its whole history, so the current
version and the log of changes move together in one atomic write; a writer that loses the
compare-and-swap rereads and retries, so concurrent promotions are never lost. An alias moves only
to a version whose stored bytes still hash to it.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from loanapp.artifacts import (
    ArtifactMetadata,
    LoadedModel,
    check_version_id,
    check_version_prefix,
    compute_version,
    load_model,
    load_publishable,
    verify_bytes,
)
from loanapp.comparison import GATE_THRESHOLD, compare
from loanapp.defaults import DEFAULT_ALIAS
from loanapp.errors import (
    AliasNotFoundError,
    AmbiguousVersionError,
    ArtifactIntegrityError,
    CorruptRecordError,
    DamagedVersionError,
    InvalidInputError,
    MissingReasonError,
    ModelNotFoundError,
    NothingToRollBackError,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    PromotionRefusedError,
    VersionNotFoundError,
    quoted,
)
from loanapp.signing import VersionSignature, check_signature
from loanapp.store.objects import ObjectStore, StoredObject
from loanapp.store.signatures import SignatureShelf

MAX_ALIAS_UPDATE_ATTEMPTS = 200
BLOB_PREFIX = "blobs/sha256/"
_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class VersionRecord(BaseModel):
    """A published version of a model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    size: int
    published_at: datetime
    published_by: str
    metadata: ArtifactMetadata


class AliasChange(BaseModel):
    """One entry of an alias's history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    revision: int
    action: Literal["promote", "rollback"]
    version: str
    previous: str | None
    at: datetime
    by: str
    forced: bool = False
    """True when the promotion gate refused this version and `by` overrode it."""
    reason: str | None = None
    """Why, in the words of who made the change (required when forced)."""


class AliasRecord(BaseModel):
    """Where an alias points now, and every change that led there (oldest first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    alias: str
    version: str
    history: tuple[AliasChange, ...]

    @property
    def revision(self) -> int:
        """Number of changes so far; grows by one with every promotion or rollback."""
        return len(self.history)

    def rollback_target(self) -> str | None:
        """The version in force before the current one, undoing rollbacks like a stack."""
        stack: list[str] = []
        for change in self.history:
            if change.action == "promote":
                stack.append(change.version)
            elif len(stack) > 1:
                stack.pop()
        return stack[-2] if len(stack) > 1 else None


def summarize_version(
    record: VersionRecord, aliases: Iterable[str] = (), signed_by: Iterable[str] = ()
) -> dict[str, Any]:
    """The short form of a version that listings show: who, when, what kind, how good, aliases,
    and the key ids that signed it."""
    metadata = record.metadata
    return {
        "version": record.version,
        "name": record.name,
        "size": record.size,
        "published_at": record.published_at.isoformat(),
        "published_by": record.published_by,
        "created_at": metadata.created_at.isoformat(),
        "model_type": metadata.model_type,
        "cv_roc_auc": metadata.metrics.cross_validation["roc_auc"].mean,
        "holdout_roc_auc": metadata.metrics.holdout["roc_auc"],
        "threshold": metadata.decision.threshold,
        "aliases": sorted(aliases),
        "signed_by": sorted(signed_by),
    }


def check_name(kind: str, value: str) -> str:
    """Return a model or alias name if it is safe as part of a key, else raise InvalidInputError."""
    if not _NAME_PATTERN.fullmatch(value):
        raise InvalidInputError(
            f"invalid {kind} {quoted(value)}: use 1-64 characters a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


class ModelRegistry:
    """Versions and aliases of named models on top of an object store; no HTTP in here."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.signatures = SignatureShelf(store)

    # -- versions -------------------------------------------------------------------------------

    def publish(
        self,
        data: bytes,
        *,
        actor: str,
        name: str | None = None,
        alias: str | None = None,
        signatures: Sequence[VersionSignature] = (),
    ) -> VersionRecord:
        """Load an artifact fully (the publish gate), then store it; idempotent per bytes.

        The gate loads it as every predict-API worker will (compiled form included) and as
        scikit-learn. `signatures` of the version are kept with it, and only then is `alias`
        pointed at it, so a reader that requires a signature never sees the alias move first.
        """
        if alias is not None:
            check_name("alias", alias)  # before publishing, so a typo does not half-succeed
        version = compute_version(data)
        for signature in signatures:
            check_signature(version, signature)  # before anything is stored
        model = load_publishable(data, version)  # nothing a worker would refuse is published
        name = check_name("model name", name or model.metadata.name)
        record = self._store_version(name, version, data, actor, model.metadata)
        for signature in signatures:
            self.signatures.add(name, version, signature)
        if alias is not None:
            self.promote(name, version, actor=actor, alias=alias)
        return record

    def list_models(self) -> list[str]:
        """Names that have at least one published version."""
        return sorted(
            {key.split("/")[1] for key in self.store.list("models/") if "/versions/" in key}
        )

    def list_versions(self, name: str) -> list[VersionRecord]:
        """Every version of a model, oldest first."""
        records = [
            self.get_version(name, version)
            for version in self._version_ids(check_name("model name", name))
        ]
        return sorted(records, key=lambda record: record.published_at)

    def version_summaries(self, name: str) -> list[dict[str, Any]]:
        """`summarize_version` of every version of a model, oldest first: aliases, signers."""
        aliases: dict[str, list[str]] = {}
        for alias in self.list_aliases(name):
            aliases.setdefault(self.get_alias(name, alias).version, []).append(alias)
        signers = self.signatures.signers_by_version(name)
        return [
            summarize_version(
                record, aliases.get(record.version, ()), signers.get(record.version, ())
            )
            for record in self.list_versions(name)
        ]

    def get_version(self, name: str, version: str) -> VersionRecord:
        """The record of one version, by full hash or unique prefix."""
        version = self.resolve_version(name, version)
        stored = self.store.get(version_key(name, version))
        return _parse(VersionRecord, stored, version_key(name, version))

    def resolve_version(self, name: str, reference: str) -> str:
        """Full version id for a full hash or a unique prefix of at least six hex digits."""
        reference = check_version_prefix(reference)
        matches = [
            v for v in self._version_ids(check_name("model name", name)) if v.startswith(reference)
        ]
        if not matches:
            raise VersionNotFoundError(name, reference)
        if len(matches) > 1:
            raise AmbiguousVersionError(reference, matches)
        return matches[0]

    def load_artifact_bytes(self, version: str) -> bytes:
        """Artifact bytes of a version, verified against its hash."""
        data = self.store.get(blob_key(check_version_id(version))).data
        verify_bytes(data, version)
        return data

    def stored_hash(self, version: str) -> str | None:
        """SHA-256 of the bytes stored for a version (equal to it if intact); None if missing."""
        try:
            return compute_version(self.store.get(blob_key(check_version_id(version))).data)
        except ObjectNotFoundError:
            return None

    def load_model(self, version: str) -> LoadedModel:
        """Fetch, verify and deserialise a version."""
        return load_model(self.load_artifact_bytes(version), version)

    # -- aliases --------------------------------------------------------------------------------

    def get_alias(self, name: str, alias: str = DEFAULT_ALIAS) -> AliasRecord:
        """Where an alias points, with its history."""
        return self._read_alias(name, alias)[0]

    def list_aliases(self, name: str) -> list[str]:
        """Aliases that have been set for a model."""
        prefix = f"models/{check_name('model name', name)}/aliases/"
        return [key[len(prefix) : -len(".json")] for key in self.store.list(prefix)]

    def promote(
        self,
        name: str,
        version: str,
        *,
        actor: str,
        alias: str = DEFAULT_ALIAS,
        force: bool = False,
        reason: str | None = None,
    ) -> AliasRecord:
        """Point an alias at a published version (full hash or unique prefix) with intact bytes.

        The promotion gate compares the version with the one the alias names now, on the folds
        both recorded at training (loanapp.comparison), and refuses a worse or incomparable one
        unless `force` is given with a `reason`; the first promotion of an alias is not gated.
        """
        if force and not (reason and reason.strip()):
            raise MissingReasonError()
        version = self.resolve_version(name, version)
        actual = self.stored_hash(version)
        if actual != version:
            raise DamagedVersionError("promote", alias, version, actual)

        def to_version(current: AliasRecord | None) -> tuple[Literal["promote"], str, bool]:
            if current is None or current.version == version:
                return "promote", version, False
            refusal = self.gate(name, version, current.version, alias)
            if refusal is not None and not force:
                raise refusal
            return "promote", version, refusal is not None

        return self._update_alias(name, alias, actor, to_version, reason)

    def gate(
        self, name: str, candidate: str, current: str, alias: str
    ) -> PromotionRefusedError | None:
        """The promotion gate's refusal of `candidate` over `current`, or None if it passes."""
        comparison = compare(
            candidate,
            self.get_version(name, candidate).metadata,
            current,
            self.get_version(name, current).metadata,
        )
        why = comparison.gate_refuses()
        if why is None:
            return None
        delta = comparison.delta_auc
        return PromotionRefusedError(
            alias=alias,
            candidate=(candidate, comparison.candidate_auc),
            current=(current, comparison.current_auc),
            delta_auc=None if delta is None else (delta.mean, delta.low, delta.high),
            threshold=GATE_THRESHOLD,
            not_comparable=comparison.not_comparable,
        )

    def rollback(self, name: str, *, actor: str, alias: str = DEFAULT_ALIAS) -> AliasRecord:
        """Point an alias back at the version it had before the current one, if it is intact."""

        def to_previous(current: AliasRecord | None) -> tuple[Literal["rollback"], str, bool]:
            target = current.rollback_target() if current else None
            if current is None or target is None:
                raise NothingToRollBackError(name, alias)
            actual = self.stored_hash(target)
            if actual != target:
                intact = self._intact_versions(current, besides=target)
                raise DamagedVersionError("rollback", alias, target, actual, intact)
            return "rollback", target, False  # never gated: it goes back to a served version

        return self._update_alias(name, alias, actor, to_previous)

    # -- internals ------------------------------------------------------------------------------

    def _store_version(
        self, name: str, version: str, data: bytes, actor: str, metadata: ArtifactMetadata
    ) -> VersionRecord:
        """The blob first, then the version record, so a listed version always has its bytes."""
        self._store_blob(version, data)
        record = VersionRecord(
            name=name,
            version=version,
            size=len(data),
            published_at=datetime.now(UTC),
            published_by=actor,
            metadata=metadata,
        )
        try:
            self.store.create(version_key(name, version), record.model_dump_json().encode())
        except ObjectExistsError:
            return self.get_version(name, version)
        return record

    def _intact_versions(self, record: AliasRecord, besides: str) -> list[str]:
        """Versions the alias has had, latest first, whose stored bytes still hash to them."""
        had = dict.fromkeys(change.version for change in reversed(record.history))
        return [v for v in had if v != besides and self.stored_hash(v) == v]

    def _store_blob(self, version: str, data: bytes) -> None:
        try:
            self.store.create(blob_key(version), data)
        except ObjectExistsError:
            existing = self.store.get(blob_key(version)).data
            try:
                verify_bytes(existing, version)
            except ArtifactIntegrityError:
                self.store.put(blob_key(version), data)  # repair a damaged copy with verified bytes

    def _version_ids(self, name: str) -> list[str]:
        prefix = f"models/{name}/versions/"
        return [key[len(prefix) : -len(".json")] for key in self.store.list(prefix)]

    def _read_alias(self, name: str, alias: str) -> tuple[AliasRecord, str]:
        key = alias_key(check_name("model name", name), check_name("alias", alias))
        try:
            stored = self.store.get(key)
        except ObjectNotFoundError as exc:
            if not self._version_ids(name):
                raise ModelNotFoundError(name) from exc
            raise AliasNotFoundError(name, alias) from exc
        return _parse(AliasRecord, stored, key), stored.etag

    def _update_alias(
        self,
        name: str,
        alias: str,
        actor: str,
        decide: Callable[[AliasRecord | None], tuple[Literal["promote", "rollback"], str, bool]],
        reason: str | None = None,
    ) -> AliasRecord:
        key = alias_key(check_name("model name", name), check_name("alias", alias))
        for attempt in range(MAX_ALIAS_UPDATE_ATTEMPTS):
            try:
                current, etag = self._read_alias(name, alias)
            except AliasNotFoundError:
                current, etag = None, None
            action, version, forced = decide(current)
            history = current.history if current else ()
            change = AliasChange(
                revision=len(history) + 1,
                action=action,
                version=version,
                previous=current.version if current else None,
                at=datetime.now(UTC),
                by=actor,
                forced=forced,
                reason=reason.strip() if reason else None,
            )
            record = AliasRecord(
                name=name, alias=alias, version=version, history=(*history, change)
            )
            payload = record.model_dump_json(indent=1).encode()
            try:
                if etag is None:
                    self.store.create(key, payload)
                else:
                    self.store.replace(key, payload, etag)
            except (ObjectExistsError, PreconditionFailedError):
                # Another writer got in first: back off a little, reread, and apply ours on top.
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
                continue
            return record
        raise PreconditionFailedError(key)


def blob_key(version: str) -> str:
    """Key of a version's artifact bytes."""
    return f"{BLOB_PREFIX}{version}"


def version_key(name: str, version: str) -> str:
    """Key of a version's record."""
    return f"models/{name}/versions/{version}.json"


def alias_key(name: str, alias: str) -> str:
    """Key of an alias's record."""
    return f"models/{name}/aliases/{alias}.json"


_RecordT = TypeVar("_RecordT", bound=BaseModel)


def _parse(model: type[_RecordT], stored: StoredObject, key: str) -> _RecordT:
    try:
        return model.model_validate_json(stored.data)
    except ValidationError as exc:
        raise CorruptRecordError(key, str(exc)) from exc
