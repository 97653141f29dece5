"""The registry on each backend: publish, versions, aliases and history, integrity on every load."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from threading import Barrier

import pytest

from loanapp import errors
from loanapp.artifacts import compute_version
from loanapp.errors import (
    AliasNotFoundError,
    ArtifactError,
    ArtifactFormatError,
    ArtifactIntegrityError,
    InvalidInputError,
    ModelNotFoundError,
    NothingToRollBackError,
    VersionNotFoundError,
)
from loanapp.store.objects import ObjectStore
from loanapp.store.registry import ModelRegistry
from loanapp.store.uri import open_store
from loanapp.training.train import TrainingResult
from tests.factories import MALFORMED, UNLOADABLE, damage_blob, rebuild


def test_publish_stores_blob_and_record(registry: ModelRegistry, logreg: TrainingResult) -> None:
    record = registry.publish(logreg.artifact, actor="alice")
    assert record.version == logreg.version
    assert record.name == "loan"
    assert record.published_by == "alice"
    assert registry.load_artifact_bytes(record.version) == logreg.artifact
    assert registry.list_models() == ["loan"]
    assert [r.version for r in registry.list_versions("loan")] == [logreg.version]
    again = registry.publish(logreg.artifact, actor="bob")
    assert again.published_by == "alice"  # idempotent: the first record stands
    assert len(registry.list_versions("loan")) == 1


def test_publish_refuses_what_does_not_load(registry: ModelRegistry) -> None:
    with pytest.raises(ArtifactFormatError):
        registry.publish(b"junk", actor="alice")
    assert registry.store.list("") == []


@pytest.mark.parametrize("problem", UNLOADABLE)
def test_publish_refuses_a_well_formed_artifact_whose_model_does_not_load(
    registry: ModelRegistry, logreg: TrainingResult, problem: str
) -> None:
    make, error, message = UNLOADABLE[problem]
    artifact = make(logreg.artifact)
    with pytest.raises(error) as caught:
        registry.publish(artifact, actor="alice", alias="production")
    assert caught.value.message.startswith(message)
    assert registry.store.list("") == []  # no blob, no version record, no alias
    assert registry.list_models() == []
    with pytest.raises(VersionNotFoundError):
        registry.resolve_version("loan", compute_version(artifact))


@pytest.mark.parametrize("case", MALFORMED)
def test_publish_refuses_a_malformed_artifact_and_stores_nothing(
    registry: ModelRegistry, logreg: TrainingResult, case: str
) -> None:
    make, message = MALFORMED[case]
    artifact = make(logreg.artifact)
    with pytest.raises(ArtifactFormatError) as caught:
        registry.publish(artifact, actor="alice", alias="production")
    assert caught.value.message.startswith(message)
    assert registry.store.list("") == []  # no blob, no version record, no alias


def test_promote_refuses_a_version_whose_stored_bytes_changed(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes
) -> None:
    first = registry.publish(logreg.artifact, actor="a", alias="production").version
    second = registry.publish(second_logreg, actor="a").version
    actual = damage_blob(registry, second)
    with pytest.raises(ArtifactError) as caught:
        registry.promote("loan", second[:8], actor="mallory")
    assert isinstance(caught.value, errors.DamagedVersionError)
    assert caught.value.message == (
        f"cannot promote {second} to 'production': its stored bytes hash to {actual}"
    )
    alias = registry.get_alias("loan")
    assert (alias.version, len(alias.history)) == (first, 1)  # the alias did not move


def test_rollback_refuses_a_damaged_version_and_names_the_intact_ones(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes
) -> None:
    third_artifact = rebuild(logreg.artifact, model_type="logreg-third")
    versions = [
        registry.publish(data, actor="a", alias="production").version
        for data in (logreg.artifact, second_logreg, third_artifact)
    ]
    actual = damage_blob(registry, versions[1])
    with pytest.raises(ArtifactError) as caught:
        registry.rollback("loan", actor="mallory")
    assert isinstance(caught.value, errors.DamagedVersionError)
    assert caught.value.message == (
        f"cannot roll back 'production' to {versions[1]}: its stored bytes hash to {actual}; "
        f"versions still intact: {versions[2]}, {versions[0]}"
    )
    alias = registry.get_alias("loan")
    assert (alias.version, len(alias.history)) == (versions[2], 3)
    registry.publish(second_logreg, actor="a")  # publishing the verified bytes repairs the blob
    assert registry.rollback("loan", actor="a").version == versions[1]


def test_publish_under_another_name(registry: ModelRegistry, logreg: TrainingResult) -> None:
    registry.publish(logreg.artifact, actor="a", name="loan-canary")
    assert registry.list_models() == ["loan-canary"]
    with pytest.raises(InvalidInputError, match="invalid model name 'Bad Name'"):
        registry.publish(logreg.artifact, actor="a", name="Bad Name")


def test_changed_byte_in_stored_blob_fails_every_load(
    registry: ModelRegistry, logreg: TrainingResult
) -> None:
    registry.publish(logreg.artifact, actor="a")
    blob = f"blobs/sha256/{logreg.version}"
    tampered = bytearray(registry.store.get(blob).data)
    tampered[100] ^= 0xFF
    registry.store.put(blob, bytes(tampered))  # damage behind the registry's back
    actual = compute_version(bytes(tampered))
    for load in (registry.load_artifact_bytes, registry.load_model):
        with pytest.raises(ArtifactIntegrityError) as caught:
            load(logreg.version)
        assert f"expected sha256 {logreg.version}, got sha256 {actual}" in caught.value.message
    registry.publish(logreg.artifact, actor="a")  # publishing the verified bytes repairs the blob
    assert registry.load_model(logreg.version).version == logreg.version


def test_versions_resolve_by_unique_prefix(registry: ModelRegistry, logreg: TrainingResult) -> None:
    registry.publish(logreg.artifact, actor="a")
    assert registry.resolve_version("loan", logreg.version[:6].upper()) == logreg.version
    with pytest.raises(InvalidInputError, match="at least 6"):
        registry.resolve_version("loan", logreg.version[:5])
    with pytest.raises(VersionNotFoundError):
        registry.resolve_version("loan", "0" * 64 if logreg.version[0] != "0" else "1" * 64)


def test_promote_and_rollback_walk_history_like_a_stack(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes
) -> None:
    first = registry.publish(logreg.artifact, actor="a").version
    second = registry.publish(second_logreg, actor="a").version
    with pytest.raises(AliasNotFoundError):
        registry.get_alias("loan")
    with pytest.raises(NothingToRollBackError):
        registry.rollback("loan", actor="a")
    registry.promote("loan", first, actor="alice")
    with pytest.raises(NothingToRollBackError):
        registry.rollback("loan", actor="a")
    registry.promote("loan", second[:8], actor="bob")
    assert registry.get_alias("loan").version == second
    rolled = registry.rollback("loan", actor="carol")
    assert rolled.version == first
    with pytest.raises(NothingToRollBackError):  # the stack is back to one entry
        registry.rollback("loan", actor="carol")
    history = registry.get_alias("loan").history
    assert [(c.action, c.version, c.previous, c.by) for c in history] == [
        ("promote", first, None, "alice"),
        ("promote", second, first, "bob"),
        ("rollback", first, second, "carol"),
    ]
    assert [c.revision for c in history] == [1, 2, 3]
    assert registry.list_aliases("loan") == ["production"]


def test_aliases_are_independent(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes
) -> None:
    first = registry.publish(logreg.artifact, actor="a").version
    second = registry.publish(second_logreg, actor="a").version
    registry.promote("loan", first, actor="a")
    registry.promote("loan", second, actor="a", alias="staging")
    assert registry.get_alias("loan").version == first
    assert registry.get_alias("loan", "staging").version == second


def test_unknown_model_is_named(registry: ModelRegistry) -> None:
    with pytest.raises(ModelNotFoundError, match="no model named 'ghost'"):
        registry.get_alias("ghost")
    assert registry.list_versions("ghost") == []


def _promote_many(uri: str, version: str, times: int, start: Barrier) -> None:
    registry = ModelRegistry(open_store(uri))  # S3: AWS_* inherited from the test
    registry.resolve_version("loan", version)  # warm up imports and caches before the start line
    start.wait(timeout=60)
    for _ in range(times):
        registry.promote("loan", version, actor=f"promoter-{version[:6]}")


@pytest.mark.integration  # two processes that import loanapp, a few seconds
def test_concurrent_promotions_lose_no_update(
    store: ObjectStore, logreg: TrainingResult, second_logreg: bytes
) -> None:
    registry = ModelRegistry(store)
    versions = [
        registry.publish(data, actor="a").version for data in (logreg.artifact, second_logreg)
    ]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(2, mp_context=context) as pool:
        start = manager.Barrier(2)  # both processes import first, then promote together
        futures = [
            pool.submit(_promote_many, store.uri, version, 50, start) for version in versions
        ]
        for future in futures:
            future.result(timeout=120)
    record = registry.get_alias("loan")
    assert len(record.history) == 100
    assert [c.revision for c in record.history] == list(range(1, 101))
    assert record.version == record.history[-1].version
    assert sorted(c.version for c in record.history) == sorted(
        [versions[0]] * 50 + [versions[1]] * 50
    )
    # Each change's "previous" is the change before it: no write was based on a stale read.
    assert all(
        later.previous == earlier.version
        for earlier, later in zip(record.history, record.history[1:], strict=False)
    )
