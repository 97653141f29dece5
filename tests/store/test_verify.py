"""The integrity check on each backend: a sound store passes, and every kind of damage is named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loanapp.artifacts import compute_version
from loanapp.errors import InvalidInputError, ModelNotFoundError
from loanapp.store.registry import AliasChange, AliasRecord, ModelRegistry
from loanapp.store.verify import verify_store
from loanapp.training.train import TrainingResult
from tests.factories import damage_blob, rebuild

UNLISTED = "0" * 64


def _change(revision: int, version: str, previous: str | None) -> AliasChange:
    return AliasChange(
        revision=revision,
        action="promote",
        version=version,
        previous=previous,
        at=datetime.now(UTC),
        by="mallory",
    )


def test_a_sound_store_has_no_problems(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes
) -> None:
    first = registry.publish(logreg.artifact, actor="a", alias="production").version
    registry.publish(second_logreg, actor="a", alias="production")
    registry.promote("loan", first, actor="a", alias="staging")
    report = verify_store(registry.store)
    assert report.problems == []
    assert report.ok
    assert report.summary() == (
        "checked 2 blobs, 2 version records, 2 aliases (3 history entries), 0 signatures in "
        f"{registry.store.uri}: no problems"
    )


def test_an_empty_store_has_no_problems(registry: ModelRegistry) -> None:
    report = verify_store(registry.store)
    assert report.ok
    assert report.summary().startswith("checked 0 blobs, 0 version records, 0 aliases")


def test_every_kind_of_damage_is_named(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes
) -> None:
    store = registry.store
    first = registry.publish(logreg.artifact, actor="a", alias="production").version
    second = registry.publish(second_logreg, actor="a", alias="production").version
    registry.promote("loan", first, actor="a", alias="staging")
    actual = damage_blob(registry, first)
    # A version record that no longer matches its blob: another size and other metadata.
    record = registry.get_version("loan", second)
    changed = record.metadata.model_copy(update={"model_type": "forged"})
    forged = record.model_copy(update={"size": record.size + 1, "metadata": changed})
    store.put(f"models/loan/versions/{second}.json", forged.model_dump_json().encode())
    # A listed version without bytes, a record that is not JSON, an alias and a history that name
    # a version nobody published, with a revision and a 'previous' out of step.
    missing = compute_version(b"never stored")
    listed_only = record.model_copy(update={"version": missing})
    store.put(f"models/loan/versions/{missing}.json", listed_only.model_dump_json().encode())
    store.put(f"models/other/versions/{UNLISTED}.json", b"{not json")
    history = (_change(1, first, None), _change(3, UNLISTED, second))
    canary = AliasRecord(name="loan", alias="canary", version=UNLISTED, history=history)
    store.put("models/loan/aliases/canary.json", canary.model_dump_json().encode())
    report = verify_store(store)
    loan = "models/loan"
    assert sorted(str(problem) for problem in report.problems) == sorted(
        [
            f"blobs/sha256/{first}: stored bytes hash to {actual}",
            f"{loan}/aliases/staging.json: points at {first}, whose blob is damaged",
            f"{loan}/versions/{second}.json: records {record.size + 1} bytes, its blob has "
            f"{record.size}",
            f"{loan}/versions/{second}.json: its metadata differs from its blob's metadata.json",
            f"{loan}/versions/{missing}.json: its blob blobs/sha256/{missing} is missing",
            f"{loan}/aliases/canary.json: points at {UNLISTED}, which is not a listed version",
            f"{loan}/aliases/canary.json: history entry 2 has revision 3",
            f"{loan}/aliases/canary.json: history entry 2 moves the alias from {second}, but it "
            f"was at {first}",
            f"{loan}/aliases/canary.json: history entry 2 names {UNLISTED}, which is not a "
            "listed version",
            f"models/other/versions/{UNLISTED}.json: does not parse (record: Invalid JSON: key "
            "must be a string at line 1 column 2)",
            f"models/other/versions/{UNLISTED}.json: its blob blobs/sha256/{UNLISTED} is missing",
        ]
    )
    assert not report.ok
    assert report.summary().endswith(": 11 problems")


def test_one_model_is_checked_with_the_blobs_it_uses(
    registry: ModelRegistry, logreg: TrainingResult
) -> None:
    registry.publish(logreg.artifact, actor="a", alias="production")
    other = registry.publish(rebuild(logreg.artifact, name="other"), actor="a").version
    actual = damage_blob(registry, other)
    assert verify_store(registry.store, "loan").ok
    report = verify_store(registry.store, "other")
    assert [str(problem) for problem in report.problems] == [
        f"blobs/sha256/{other}: stored bytes hash to {actual}"
    ]
    assert report.summary().startswith("checked 1 blob, 1 version record, 0 aliases")
    with pytest.raises(ModelNotFoundError, match="no model named 'ghost'"):
        verify_store(registry.store, "ghost")
    with pytest.raises(InvalidInputError, match=r"invalid model name '\.\./etc'"):
        verify_store(registry.store, "../etc")


def test_a_damaged_blob_that_no_version_lists_is_named(
    registry: ModelRegistry, logreg: TrainingResult
) -> None:
    # What a publish that failed after writing its blob leaves behind, damaged since.
    registry.store.create(f"blobs/sha256/{logreg.version}", logreg.artifact)
    assert verify_store(registry.store).ok
    actual = damage_blob(registry, logreg.version)
    report = verify_store(registry.store)
    assert [str(problem) for problem in report.problems] == [
        f"blobs/sha256/{logreg.version}: stored bytes hash to {actual}"
    ]


def test_records_that_do_not_match_their_keys_are_named(
    registry: ModelRegistry, logreg: TrainingResult
) -> None:
    store = registry.store
    registry.publish(logreg.artifact, actor="a", alias="production")
    junk = b"bytes that are no artifact"
    other = compute_version(junk)
    store.create(f"blobs/sha256/{other}", junk)
    record = registry.get_version("loan", logreg.version)
    store.put(f"models/loan/versions/{other}.json", record.model_dump_json().encode())
    store.put("models/loan/versions/notes.txt", b"not a record")
    store.put("models/loan/aliases/broken.json", b"[]")
    store.put("blobs/sha256/not-a-hash", b"")
    report = verify_store(store)
    versions = "models/loan/versions"
    assert sorted(str(problem) for problem in report.problems) == sorted(
        [
            f"{versions}/{other}.json: records loan {logreg.version}, not loan {other}",
            f"{versions}/{other}.json: records {len(logreg.artifact)} bytes, its blob has "
            f"{len(junk)}",
            f"{versions}/{other}.json: its blob's metadata does not parse: not a valid loanapp "
            "artifact: artifact is not a readable zip archive (File is not a zip file)",
            f"{versions}/notes.txt: not a version record (expected <sha256>.json)",
            "models/loan/aliases/broken.json: does not parse (record: Input should be an object)",
            "blobs/sha256/not-a-hash: the name is not a SHA-256 version id",
        ]
    )
