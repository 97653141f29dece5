"""The store's integrity check: every blob, version record, alias and history entry is checked.

Plain Python over the ObjectStore protocol, the same on a folder and on S3: blobs against their
SHA-256, version records against their blobs (present, same size, metadata that parses and equals
the record's), alias records and their history against the versions that are listed. Every problem
is reported, none raised, so that one run shows all the damage. Nothing is deserialised beyond
JSON metadata, so the check needs neither scikit-learn nor much memory (one blob at a time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from loanapp.artifacts import compute_version, is_hex, read_metadata
from loanapp.errors import ArtifactError, ModelNotFoundError, ObjectNotFoundError, SignatureError
from loanapp.signing import VersionSignature, check_signature
from loanapp.store.objects import ObjectStore
from loanapp.store.registry import (
    BLOB_PREFIX,
    AliasRecord,
    VersionRecord,
    alias_key,
    blob_key,
    check_name,
    version_key,
)
from loanapp.store.signatures import signature_key, signatures_prefix

_RECORD_SUFFIX = ".json"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the store, and the key where it was found."""

    key: str
    description: str

    def __str__(self) -> str:
        return f"{self.key}: {self.description}"


@dataclass
class VerificationReport:
    """What was checked, and every problem found."""

    store: str
    problems: list[Problem] = field(default_factory=list)
    blobs: int = 0
    versions: int = 0
    aliases: int = 0
    history_entries: int = 0
    signatures: int = 0

    @property
    def ok(self) -> bool:
        """True if nothing is wrong."""
        return not self.problems

    def summary(self) -> str:
        """One line: what was checked, and how many problems there are."""
        verdict = "no problems" if self.ok else _count(len(self.problems), "problem")
        return (
            f"checked {_count(self.blobs, 'blob')}, {_count(self.versions, 'version record')}, "
            f"{_count(self.aliases, 'alias', 'aliases')} "
            f"({_count(self.history_entries, 'history entry', 'history entries')}), "
            f"{_count(self.signatures, 'signature')} in {self.store}: {verdict}"
        )

    def add(self, key: str, description: str) -> None:
        """Record a problem."""
        self.problems.append(Problem(key, description))


def verify_store(store: ObjectStore, name: str | None = None) -> VerificationReport:
    """Check the whole store, or one model's versions, aliases and the blobs they use."""
    checker = _Checker(store)
    if name is not None and not store.list(f"models/{check_name('model name', name)}/"):
        raise ModelNotFoundError(name)
    names = [name] if name else sorted({key.split("/")[1] for key in store.list("models/")})
    for model in names:
        listed = checker.versions(model)
        checker.aliases(model, listed)
        checker.signatures(model, listed)
    if name is None:  # blobs no version lists, such as one left by a publish that failed midway
        for key in store.list(BLOB_PREFIX):
            if key[len(BLOB_PREFIX) :] not in checker.verdicts:
                checker.blob(key[len(BLOB_PREFIX) :])
    return checker.report


class _Checker:
    """Runs the checks, reading each blob once and keeping only its verdict."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.report = VerificationReport(store.uri)
        self.verdicts: dict[str, Literal["intact", "missing", "damaged"]] = {}

    def blob(self, version: str) -> bytes | None:
        """Read a blob and record its verdict; its bytes if intact. Damage is reported here."""
        key = blob_key(version)
        if len(version) != 64 or not is_hex(version):
            self.report.add(key, "the name is not a SHA-256 version id")
            self.verdicts[version] = "damaged"
            return None
        try:
            data = self.store.get(key).data
        except ObjectNotFoundError:
            self.verdicts[version] = "missing"  # reported by the record that lists the version
            return None
        self.report.blobs += 1
        actual = compute_version(data)
        if actual != version:
            self.report.add(key, f"stored bytes hash to {actual}")
            self.verdicts[version] = "damaged"
            return None
        self.verdicts[version] = "intact"
        return data

    def versions(self, name: str) -> set[str]:
        """Check every version record of a model; return the versions that are listed."""
        prefix = f"models/{name}/versions/"
        listed: set[str] = set()
        for key in self.store.list(prefix):
            version = key[len(prefix) :].removesuffix(_RECORD_SUFFIX)
            if key != version_key(name, version) or len(version) != 64 or not is_hex(version):
                self.report.add(key, "not a version record (expected <sha256>.json)")
                continue
            listed.add(version)
            self.report.versions += 1
            data = self.blob(version)
            if self.verdicts[version] == "missing":
                self.report.add(key, f"its blob {blob_key(version)} is missing")
            record = self._parse(VersionRecord, key)
            if record is not None:
                self._check_version(key, name, version, record, data)
        return listed

    def _check_version(
        self, key: str, name: str, version: str, record: VersionRecord, data: bytes | None
    ) -> None:
        if (record.name, record.version) != (name, version):
            self.report.add(key, f"records {record.name} {record.version}, not {name} {version}")
        if data is None:
            return  # missing or damaged: reported already
        if record.size != len(data):
            self.report.add(key, f"records {record.size} bytes, its blob has {len(data)}")
        try:
            metadata = read_metadata(data, version)
        except ArtifactError as exc:
            self.report.add(key, f"its blob's metadata does not parse: {exc.message}")
            return
        if metadata != record.metadata:
            self.report.add(key, "its metadata differs from its blob's metadata.json")

    def aliases(self, name: str, listed: set[str]) -> None:
        """Check every alias of a model: it and each history entry name a listed, intact version."""
        prefix = f"models/{name}/aliases/"
        for key in self.store.list(prefix):
            alias = key[len(prefix) :].removesuffix(_RECORD_SUFFIX)
            if key != alias_key(name, alias):
                self.report.add(key, "not an alias record (expected <alias>.json)")
                continue
            self.report.aliases += 1
            record = self._parse(AliasRecord, key)
            if record is None:
                continue
            self.report.history_entries += len(record.history)
            if (record.name, record.alias) != (name, alias):
                self.report.add(key, f"records {record.name} {record.alias}, not {name} {alias}")
            if record.version not in listed:
                self.report.add(key, f"points at {record.version}, which is not a listed version")
            elif self.verdicts[record.version] != "intact":
                verdict = self.verdicts[record.version]
                self.report.add(key, f"points at {record.version}, whose blob is {verdict}")
            self._check_history(key, record, listed)

    def signatures(self, name: str, listed: set[str]) -> None:
        """Check every signature of a model: of a listed version, and valid under its key."""
        prefix = signatures_prefix(name)
        for key in self.store.list(prefix):
            version, _, file_name = key[len(prefix) :].partition("/")
            signature = self._parse(VersionSignature, key)
            if signature is None:
                continue
            self.report.signatures += 1
            if key != signature_key(name, version, signature.key_id):
                self.report.add(
                    key, f"holds a signature by key {signature.key_id}, not {file_name}"
                )
            if version not in listed:
                self.report.add(key, f"signs {version}, which is not a listed version")
            try:
                check_signature(version, signature)
            except SignatureError as exc:
                self.report.add(key, exc.reason)

    def _check_history(self, key: str, record: AliasRecord, listed: set[str]) -> None:
        previous: str | None = None
        for number, change in enumerate(record.history, start=1):
            entry = f"history entry {number}"
            if change.revision != number:
                self.report.add(key, f"{entry} has revision {change.revision}")
            if change.previous != previous:
                self.report.add(
                    key, f"{entry} moves the alias from {change.previous}, but it was at {previous}"
                )
            named = {change.version} | ({change.previous} if change.previous else set())
            for version in sorted(named - listed):
                self.report.add(key, f"{entry} names {version}, which is not a listed version")
            previous = change.version
        if previous != record.version:
            self.report.add(key, f"points at {record.version}, but its history ends at {previous}")

    def _parse(self, model: type[_RecordT], key: str) -> _RecordT | None:
        try:
            return model.model_validate_json(self.store.get(key).data)
        except ObjectNotFoundError:
            self.report.add(key, "listed, but gone when read")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "record"
            self.report.add(key, f"does not parse ({where}: {first['msg']})")
        return None


_RecordT = TypeVar("_RecordT", bound=BaseModel)


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
