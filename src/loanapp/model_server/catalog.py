"""What the model server knows: the current version of each model, versions, aliases, artifacts.

Plain Python, no Flask: the views ask a `ModelCatalog` and turn its answers into HTTP. Two catalogs
implement it. `RegistryCatalog` follows an alias in the store: a poll thread rereads the alias
records and wakes long-polls when a version changes, and it keeps the last known versions and a few
verified artifacts in memory, so it keeps answering while the store is down. `PinnedCatalog`
(in `pinned.py`) serves the one artifact named by MODEL_URI and refuses every write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from loanapp.artifacts import check_version_id
from loanapp.defaults import DEFAULT_ALIAS
from loanapp.errors import LoanappError, NotFoundError
from loanapp.metrics.model_server import STORE_ERRORS, record_alias_version
from loanapp.signing import VersionSignature
from loanapp.store.registry import (
    AliasRecord,
    ModelRegistry,
    VersionRecord,
    check_name,
)

logger = logging.getLogger(__name__)

DEFAULT_CACHED_ARTIFACTS = 4
DEFAULT_CACHED_RECORDS = 256


class ModelCatalog(Protocol):
    """The source of truth the model server's views ask."""

    @property
    def mode(self) -> Literal["registry", "pinned"]:
        """How versions are chosen: by an alias in the store, or pinned by MODEL_URI."""
        ...

    @property
    def alias(self) -> str:
        """The alias whose version is 'current'."""
        ...

    def current(self, name: str) -> str:
        """Current version of a model; a NotFoundError if it has none."""
        ...

    def wait_for_change(self, name: str, known_version: str | None, timeout: float) -> str | None:
        """The current version as soon as it differs from `known_version`; None at timeout."""
        ...

    def list_models(self) -> list[str]:
        """Names of the models there are versions of."""
        ...

    def version_summaries(self, name: str) -> list[dict[str, Any]]:
        """A summary of every version of a model, oldest first, with its aliases."""
        ...

    def get_version(self, name: str, version_or_prefix: str) -> VersionRecord:
        """One version of a model, by full hash or unique prefix."""
        ...

    def artifact_bytes(self, version: str) -> bytes:
        """Artifact bytes of a version, verified against its hash."""
        ...

    def signatures(self, name: str, version: str) -> list[VersionSignature]:
        """The signatures kept for a version of a model (full hash)."""
        ...

    def alias_record(self, name: str, alias: str) -> AliasRecord:
        """Where an alias points, with its history."""
        ...

    def publish(
        self, data: bytes, *, actor: str, name: str | None = None, alias: str | None = None
    ) -> VersionRecord:
        """Store a new version after the publish gate, and point `alias` at it if given;
        a ConflictError when writes are off."""
        ...

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
        """Point an alias at a version through the promotion gate (`force` with a `reason`
        overrides it); a ConflictError when writes are off or the gate refuses."""
        ...

    def rollback(self, name: str, *, actor: str, alias: str) -> AliasRecord:
        """Point an alias back at its previous version; a ConflictError when writes are off."""
        ...

    def status(self) -> dict[str, object]:
        """State for /readyz detail: mode, known versions, store failures."""
        ...

    def start(self) -> None:
        """Start following the store (idempotent)."""
        ...

    def stop(self) -> None:
        """Stop following the store and wake every waiting long-poll."""
        ...


class RegistryCatalog:
    """Follows an alias in the store, and answers from memory for what it holds when it is down."""

    mode: Literal["registry"] = "registry"

    def __init__(
        self,
        registry: ModelRegistry,
        alias: str = DEFAULT_ALIAS,
        poll_seconds: float = 0.5,
        *,
        watch: Iterable[str] = (),
        cached_artifacts: int = DEFAULT_CACHED_ARTIFACTS,
    ) -> None:
        self.registry = registry
        self.alias = check_name("alias", alias)
        self.poll_seconds = poll_seconds
        self._cached_artifacts = cached_artifacts
        # One lock guards all the state below; the condition on it wakes long-polls on a change.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._watched: set[str] = set(watch)
        self._current: dict[str, AliasRecord] = {}
        self._artifacts: OrderedDict[str, bytes] = OrderedDict()
        self._records: OrderedDict[tuple[str, str], VersionRecord] = OrderedDict()
        self._store_error: str | None = None
        self._store_error_since: datetime | None = None
        self._last_poll_at: datetime | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reads ----------------------------------------------------------------------------------

    def current(self, name: str) -> str:
        """Last known version of the alias; read from the store the first time a name is asked."""
        with self._lock:
            known = self._current.get(name)
        if known is not None:
            return known.version
        return self._accept(self.registry.get_alias(name, self.alias))

    def wait_for_change(self, name: str, known_version: str | None, timeout: float) -> str | None:
        """The current version once it differs from `known_version`; None at timeout or stop."""
        deadline = time.monotonic() + timeout
        self.current(name)  # raises if there is no current version, and follows the name from now
        with self._changed:
            while True:
                record = self._current.get(name)
                if record is not None and record.version != known_version:
                    return record.version
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    return None
                self._changed.wait(remaining)

    def list_models(self) -> list[str]:
        """Names with at least one published version."""
        return self.registry.list_models()

    def version_summaries(self, name: str) -> list[dict[str, Any]]:
        """A summary of every version of a model, oldest first, with its aliases."""
        return self.registry.version_summaries(name)

    def get_version(self, name: str, version_or_prefix: str) -> VersionRecord:
        """A version record; records of full ids asked before are answered from memory."""
        # Version records are written once and never change, so a remembered one is always right.
        with self._lock:
            record = self._records.get((name, version_or_prefix))
            if record is not None:
                self._records.move_to_end((name, version_or_prefix))
                return record
        record = self.registry.get_version(name, version_or_prefix)
        with self._lock:
            self._records[(name, record.version)] = record
            while len(self._records) > DEFAULT_CACHED_RECORDS:
                self._records.popitem(last=False)
        return record

    def artifact_bytes(self, version: str) -> bytes:
        """Verified artifact bytes; the last few versions served are kept in memory."""
        check_version_id(version)
        with self._lock:
            data = self._artifacts.get(version)
            if data is not None:
                # Verified when they were read from the store; bytes objects cannot change since.
                self._artifacts.move_to_end(version)
                return data
        data = self.registry.load_artifact_bytes(version)
        with self._lock:
            self._artifacts[version] = data
            while len(self._artifacts) > self._cached_artifacts:
                self._artifacts.popitem(last=False)
        return data

    def signatures(self, name: str, version: str) -> list[VersionSignature]:
        """The signatures kept in the store for a version (read each time: one may be added)."""
        return self.registry.signatures.of_version(name, check_version_id(version))

    def alias_record(self, name: str, alias: str) -> AliasRecord:
        """The alias record from the store (with its whole history)."""
        record = self.registry.get_alias(name, alias)
        if alias == self.alias:
            self._accept(record)
        return record

    # -- writes ---------------------------------------------------------------------------------

    def publish(
        self, data: bytes, *, actor: str, name: str | None = None, alias: str | None = None
    ) -> VersionRecord:
        """Publish through the registry's gate (full load and hash), then move `alias` if given."""
        record = self.registry.publish(data, actor=actor, name=name, alias=alias)
        if alias == self.alias:
            self._accept(self.registry.get_alias(record.name, alias))  # wake long-polls now
        return record

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
        """Promote, and wake this process's long-polls at once if it moved the followed alias."""
        record = self.registry.promote(
            name, version, actor=actor, alias=alias, force=force, reason=reason
        )
        if alias == self.alias:
            self._accept(record)
        return record

    def rollback(self, name: str, *, actor: str, alias: str) -> AliasRecord:
        """Roll back, and wake this process's long-polls at once if it moved the followed alias."""
        record = self.registry.rollback(name, actor=actor, alias=alias)
        if alias == self.alias:
            self._accept(record)
        return record

    # -- following the store --------------------------------------------------------------------

    def start(self) -> None:
        """Start the poll thread (a daemon, so it never holds up the process's exit)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._poll_forever, name="loanapp-catalog-poll", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the poll thread and wake every waiting long-poll (they answer 'not changed')."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def refresh(self) -> None:
        """Reread the followed alias of every watched model once; the poll thread calls this."""
        with self._lock:
            names = sorted(self._watched)
        problem: str | None = None
        for name in names:
            try:
                self._accept(self.registry.get_alias(name, self.alias))
            except NotFoundError as exc:
                with self._lock:
                    known = self._current.get(name)
                if known is not None:
                    # Aliases are never deleted, so this is a store that lost its data or is not
                    # mounted: keep serving the version we know rather than going dark.
                    problem = f"{exc.message}; still serving {known.version}"
            except LoanappError as exc:  # StoreUnavailableError, CorruptRecordError
                problem = exc.message
                break  # the other names would fail the same way; try again at the next poll
        self._record_poll(problem)

    def status(self) -> dict[str, object]:
        """Store URI, followed alias, versions known, artifacts in memory, and any store failure."""
        with self._lock:
            return {
                "mode": self.mode,
                "store": self.registry.store.uri,
                "alias": self.alias,
                "current": {name: record.version for name, record in self._current.items()},
                "cached_artifacts": list(self._artifacts),
                "store_ok": self._store_error is None,
                "store_error": self._store_error,
                "store_error_since": _iso(self._store_error_since),
                "last_poll_at": _iso(self._last_poll_at),
                "poll_seconds": self.poll_seconds,
            }

    def _poll_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self.refresh()
            except Exception:
                # refresh() already handles every error of ours; anything else is a bug, and the
                # thread must outlive it, or long-polls would never hear of a change again.
                logger.exception("unexpected error while polling the model store")
            self._stopping.wait(self.poll_seconds)

    def _accept(self, record: AliasRecord) -> str:
        """Remember an alias record unless we already know a later one; wake waiters on a change."""
        with self._changed:
            self._watched.add(record.name)
            known = self._current.get(record.name)
            # A poll that read the record just before a promotion here must not undo it.
            if known is not None and known.revision >= record.revision:
                return known.version
            self._current[record.name] = record
            if known is None or known.version != record.version:
                record_alias_version(
                    record.name, record.alias, record.version, known.version if known else None
                )
                logger.info(
                    "model %s alias %s: current version is now %s (was %s)",
                    record.name,
                    record.alias,
                    record.version,
                    known.version if known else None,
                )
                self._changed.notify_all()
            return record.version

    def _record_poll(self, problem: str | None) -> None:
        now = datetime.now(UTC)
        if problem is not None:
            STORE_ERRORS.inc()
        with self._lock:
            self._last_poll_at = now
            failing_since = self._store_error_since
            self._store_error = problem
            if problem is None:
                self._store_error_since = None
            elif failing_since is None:
                self._store_error_since = now
        # Log once per outage, not at every poll.
        if problem is not None and failing_since is None:
            logger.error("model store problem; answering from memory: %s", problem)
        elif problem is None and failing_since is not None:
            logger.info("model store is healthy again (problem since %s)", failing_since)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
