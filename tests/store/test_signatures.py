"""Signatures kept with versions: only valid ones are stored, and listings say who signed."""

from __future__ import annotations

from pathlib import Path

import pytest

from loanapp.errors import SignatureError
from loanapp.signing import generate_key_pair, load_private_key, sign_version
from loanapp.store.registry import ModelRegistry
from loanapp.store.signatures import signature_key
from loanapp.store.verify import verify_store
from loanapp.training.train import TrainingResult


@pytest.fixture
def key(tmp_path: Path):
    return load_private_key(generate_key_pair(tmp_path / "keys")[0])


def test_publish_keeps_the_signatures_before_the_alias_moves(
    registry: ModelRegistry, logreg: TrainingResult, key
) -> None:
    signature = sign_version(logreg.version, key)
    registry.publish(logreg.artifact, actor="a", alias="production", signatures=[signature])
    assert registry.signatures.of_version("loan", logreg.version) == [signature]
    [summary] = registry.version_summaries("loan")
    assert summary["signed_by"] == [signature.key_id]
    assert summary["aliases"] == ["production"]


def test_a_version_can_be_signed_later_and_twice_is_once(
    registry: ModelRegistry, logreg: TrainingResult, key
) -> None:
    registry.publish(logreg.artifact, actor="a")
    assert registry.version_summaries("loan")[0]["signed_by"] == []
    signature = sign_version(logreg.version, key)
    registry.signatures.add("loan", logreg.version, signature)
    registry.signatures.add("loan", logreg.version, signature)
    assert registry.signatures.of_version("loan", logreg.version) == [signature]


def test_a_signature_of_another_version_is_never_stored(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes, key
) -> None:
    copied = sign_version(logreg.version, key)
    with pytest.raises(SignatureError, match="does not verify for this version"):
        registry.publish(second_logreg, actor="a", signatures=[copied])
    assert registry.list_versions("loan") == []  # refused before anything was stored
    registry.publish(second_logreg, actor="a")
    second = registry.list_versions("loan")[0].version
    with pytest.raises(SignatureError, match="does not verify for this version"):
        registry.signatures.add("loan", second, copied)
    assert registry.signatures.of_version("loan", second) == []


def test_verify_checks_every_signature(
    registry: ModelRegistry, logreg: TrainingResult, key
) -> None:

    signature = sign_version(logreg.version, key)
    registry.publish(logreg.artifact, actor="a", signatures=[signature])
    assert verify_store(registry.store).ok
    other = "0" * 64
    forged = sign_version(
        other, key
    )  # stored under the wrong version, as a hand in the store would
    registry.store.put(
        signature_key("loan", logreg.version, "f" * 16), forged.model_dump_json().encode()
    )
    report = verify_store(registry.store)
    prefix = f"models/loan/signatures/{logreg.version}/{'f' * 16}.json"
    assert [str(problem) for problem in report.problems] == [
        f"{prefix}: holds a signature by key {forged.key_id}, not {'f' * 16}.json",
        f"{prefix}: key {forged.key_id}: the signature does not verify for this version",
    ]
    assert report.signatures == 2
