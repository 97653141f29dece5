"""Artifacts: version = SHA-256 of the bytes, verified before anything is deserialised."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable

import numpy as np
import pytest
import sklearn

from loanapp.artifacts import (
    METADATA_MEMBER,
    compute_version,
    load_model,
    read_metadata,
)
from loanapp.errors import (
    ArtifactBehaviourError,
    ArtifactError,
    ArtifactFormatError,
    ArtifactIntegrityError,
    IncompatibleArtifactError,
    UntrustedArtifactError,
)
from loanapp.predict_api.serving_model import load_serving_model
from loanapp.store.registry import ModelRegistry
from loanapp.training.train import TrainingResult
from tests.factories import (
    MALFORMED,
    with_drifted_reference_rows,
    with_other_scikit_learn,
    with_reference_rows_missing_a_feature,
    with_untrusted_type,
)


def test_version_is_sha256_of_the_bytes(logreg: TrainingResult) -> None:
    assert logreg.version == hashlib.sha256(logreg.artifact).hexdigest()
    assert compute_version(logreg.artifact) == logreg.version


@pytest.mark.parametrize("result_name", ["logreg", "gbm"])
def test_load_reproduces_reference_probabilities(result_name: str, request) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    model = load_model(result.artifact, result.version)
    reference = model.metadata.reference
    assert len(reference.rows) == 8
    probabilities = model.predict_rows(list(reference.rows))
    np.testing.assert_allclose(probabilities, reference.probabilities, atol=1e-12)
    assert model.metadata.target.classes == ("good", "bad")
    assert model.metadata.target.positive_index == 1
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_one_changed_byte_fails_with_both_hashes(logreg: TrainingResult) -> None:
    tampered = bytearray(logreg.artifact)
    tampered[len(tampered) // 2] ^= 0x01
    actual = hashlib.sha256(bytes(tampered)).hexdigest()
    for reader in (load_model, read_metadata):
        with pytest.raises(ArtifactIntegrityError) as caught:
            reader(bytes(tampered), logreg.version)
        assert logreg.version in caught.value.message
        assert actual in caught.value.message


def test_other_scikit_learn_version_is_refused(logreg: TrainingResult) -> None:
    old = with_other_scikit_learn(logreg.artifact, "0.24.2")
    with pytest.raises(IncompatibleArtifactError) as caught:
        load_model(old, compute_version(old))
    assert "scikit-learn 0.24.2" in caught.value.message
    assert f"scikit-learn {sklearn.__version__} is installed" in caught.value.message


def test_untrusted_types_are_refused_by_name(logreg: TrainingResult) -> None:
    malicious = with_untrusted_type(logreg.artifact)
    with pytest.raises(UntrustedArtifactError) as caught:
        load_model(malicious, compute_version(malicious))
    assert "system" in caught.value.message


def test_gbm_loads_only_because_its_tree_type_is_allowed(
    gbm: TrainingResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_model(gbm.artifact, gbm.version).metadata.model_type == "gbm"
    monkeypatch.setattr("loanapp.artifacts.TRUSTED_TYPES", ())
    with pytest.raises(UntrustedArtifactError, match="TreePredictor"):
        load_model(gbm.artifact, gbm.version)


def test_model_that_drifted_from_its_reference_rows_is_refused(logreg: TrainingResult) -> None:
    drifted = with_drifted_reference_rows(logreg.artifact, shift=0.01)
    with pytest.raises(ArtifactBehaviourError, match=r"largest probability difference 0\.01"):
        load_model(drifted, compute_version(drifted))


# Both ways of loading bytes: the full load (publish gate, pinned mode) and the predict API's.
LOADERS: dict[str, Callable[[bytes, str], object]] = {
    "scikit-learn": load_model,
    "serving": lambda data, version: load_serving_model(data, version, "test"),
}


@pytest.mark.parametrize("loader", LOADERS)
def test_reference_rows_that_do_not_fit_the_schema_are_an_artifact_error(
    logreg: TrainingResult, loader: str
) -> None:
    broken = with_reference_rows_missing_a_feature(logreg.artifact)
    with pytest.raises(ArtifactError):
        LOADERS[loader](broken, compute_version(broken))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip at all", "not a readable zip archive"),
        (_zip({"other.txt": b""}), "member 'metadata.json' is missing"),
        (_zip({METADATA_MEMBER: b"{oops"}), "metadata.json is not JSON"),
        (_zip({METADATA_MEMBER: b'{"format": "pickle"}'}), "format is 'pickle'"),
        (
            _zip({METADATA_MEMBER: b'{"format": "loanapp-artifact/1"}'}),
            "metadata.json is malformed",
        ),
    ],
)
def test_malformed_artifacts_are_named(data: bytes, message: str) -> None:
    with pytest.raises(ArtifactFormatError, match=message):
        load_model(data, compute_version(data))


def test_corrupt_model_member_is_a_format_error(logreg: TrainingResult) -> None:
    with zipfile.ZipFile(io.BytesIO(logreg.artifact)) as archive:
        metadata = archive.read(METADATA_MEMBER)
    broken = _zip({METADATA_MEMBER: metadata, "model.skops": b"garbage"})
    with pytest.raises(ArtifactFormatError, match=r"model\.skops is not a skops file"):
        load_model(broken, compute_version(broken))


@pytest.mark.parametrize("case", MALFORMED)
def test_the_predict_api_refuses_a_malformed_artifact_as_publishing_does(
    registry: ModelRegistry, logreg: TrainingResult, case: str
) -> None:
    make, message = MALFORMED[case]
    artifact = make(logreg.artifact)
    refusals = []
    for load in (
        lambda: registry.publish(artifact, actor="alice"),
        lambda: load_serving_model(artifact, compute_version(artifact), "test"),
    ):
        with pytest.raises(ArtifactFormatError) as caught:
            load()
        refusals.append(caught.value.message)
    assert refusals[0].startswith(message)
    assert refusals[1] == refusals[0]  # one load path: what a worker refuses is never published
