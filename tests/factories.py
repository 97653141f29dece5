"""Tiny real models for tests: fitted on a few hundred rows of the shipped data, in seconds."""

from __future__ import annotations

import functools
import io
import os
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.preprocessing import FunctionTransformer

from loanapp.artifacts import (
    METADATA_MEMBER,
    MODEL_MEMBER,
    ArtifactMetadata,
    build_artifact,
    compute_version,
    load_model,
    read_compiled,
)
from loanapp.compiled import COMPILED_MEMBER, CompiledModel, TreeScorer
from loanapp.errors import (
    ArtifactBehaviourError,
    ArtifactError,
    ArtifactFormatError,
    IncompatibleArtifactError,
    UntrustedArtifactError,
)
from loanapp.store.registry import ModelRegistry
from loanapp.training.compile import compile_pipeline
from loanapp.training.data import Dataset, load_dataset
from loanapp.training.options import TrainingOptions
from loanapp.training.train import TrainingResult, train_model

SMALL_ROWS = 600
# One byte more than a member may declare (loanapp.archives.MAX_MEMBER_BYTES, 64 MiB).
BOMB_BYTES = 64 * 2**20 + 1


def small_dataset(rows: int = SMALL_ROWS, seed: int = 0) -> Dataset:
    """A stratified sample of the shipped data with both classes present."""
    full = load_dataset()
    generator = np.random.default_rng(seed)
    positives = np.flatnonzero(full.target == 1)
    negatives = np.flatnonzero(full.target == 0)
    take = np.sort(
        np.concatenate(
            [
                generator.choice(positives, rows // 10, replace=False),
                generator.choice(negatives, rows - rows // 10, replace=False),
            ]
        )
    )
    return Dataset(
        features=full.features.iloc[take].reset_index(drop=True),
        target=full.target[take],
        source="test sample",
        sha256=full.sha256,
    )


def train_small(model_type: Any = "logreg", **options: Any) -> TrainingResult:
    """Train on the small sample with 3 folds, once."""
    return train_model(
        small_dataset(), TrainingOptions(model_type=model_type, folds=3, repeats=1, **options)
    )


def rebuild(artifact: bytes, estimator: Any = None, **metadata_updates: Any) -> bytes:
    """Artifact bytes with some metadata fields (and optionally the estimator) replaced.

    The compiled form is kept with the original estimator and dropped with a replaced one.
    """
    model = load_model(artifact, compute_version(artifact))
    compiled = read_compiled(artifact, model.metadata) if estimator is None else None
    updates = {"compiled": compiled.kind if compiled else None} | metadata_updates
    metadata = ArtifactMetadata.model_validate(model.metadata.model_dump() | updates)
    return build_artifact(model.estimator if estimator is None else estimator, metadata, compiled)


def with_other_scikit_learn(artifact: bytes, version: str = "0.24.2") -> bytes:
    """A well-formed artifact whose metadata says it was trained with another scikit-learn."""
    metadata = load_model(artifact, compute_version(artifact)).metadata
    return rebuild(artifact, libraries=metadata.libraries | {"scikit-learn": version})


def with_drifted_reference_rows(artifact: bytes, shift: float = 0.01) -> bytes:
    """A well-formed artifact whose model no longer gives its recorded reference probabilities."""
    reference = load_model(artifact, compute_version(artifact)).metadata.reference
    shifted = tuple((p0 - shift, p1 + shift) for p0, p1 in reference.probabilities)
    return rebuild(artifact, reference=reference.model_dump() | {"probabilities": shifted})


def with_reference_rows_missing_a_feature(artifact: bytes) -> bytes:
    """A well-formed artifact whose reference rows lack one of the schema's features."""
    reference = load_model(artifact, compute_version(artifact)).metadata.reference
    rows = [dict(row) for row in reference.rows]
    dropped = next(iter(rows[0]))
    for row in rows:
        del row[dropped]
    return rebuild(artifact, reference=reference.model_dump() | {"rows": rows})


def with_untrusted_type(artifact: bytes) -> bytes:
    """A well-formed artifact whose skops model holds a type outside the allow-list (os.system)."""
    return rebuild(artifact, estimator=FunctionTransformer(func=os.system))


# Well-formed artifacts (hash, zip and metadata all fine) whose model must not load, by what is
# wrong with them: how to make one from a good artifact, the error, and the start of its message.
UNLOADABLE: dict[str, tuple[Callable[[bytes], bytes], type[ArtifactError], str]] = {
    "other-scikit-learn": (
        with_other_scikit_learn,
        IncompatibleArtifactError,
        "artifact was trained with scikit-learn 0.24.2 but scikit-learn",
    ),
    "drifted-reference-rows": (
        with_drifted_reference_rows,
        ArtifactBehaviourError,
        "loaded model does not reproduce its reference rows: largest probability difference 0.01",
    ),
    "untrusted-type": (
        with_untrusted_type,
        UntrustedArtifactError,
        "artifact contains types that loanapp does not load: posix.system",
    ),
    "reference-rows-missing-a-feature": (
        with_reference_rows_missing_a_feature,
        ArtifactFormatError,
        "not a valid loanapp artifact: reference rows do not fit the input schema:",
    ),
}


# -- archives that are not well formed -----------------------------------------------------------
# Each is built from a good artifact by rewriting its zip (or the zip of compiled.npz inside it),
# so that everything but the one defect is as the trainer wrote it.

# Offsets of fields in a member's local header and in its central-directory entry (APPNOTE 4.3).
_LOCAL_HEADER = {"flags": (6, 2), "method": (8, 2), "size": (22, 4)}
_CENTRAL_HEADER = {"flags": (8, 2), "method": (10, 2), "size": (24, 4)}
_CENTRAL_SIGNATURE = b"PK\x01\x02"


def zip_members(data: bytes) -> dict[str, bytes]:
    """Every member of a zip archive, by name, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def build_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of `members` (fixed timestamps, like the trainer's)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, payload)
    return buffer.getvalue()


def replace_member(artifact: bytes, member: str, payload: bytes) -> bytes:
    """Artifact bytes with one member's bytes replaced."""
    return build_zip(zip_members(artifact) | {member: payload})


def patch_header(data: bytes, member: str, field: str, value: int) -> bytes:
    """Zip bytes with a field (flags, method, size) of a member's two headers overwritten."""
    patched = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(member).header_offset
        central = archive.start_dir
    offset, width = _LOCAL_HEADER[field]
    patched[local + offset : local + offset + width] = value.to_bytes(width, "little")
    while patched[central : central + 4] == _CENTRAL_SIGNATURE:
        lengths = [
            int.from_bytes(patched[central + at : central + at + 2], "little")
            for at in (28, 30, 32)
        ]
        if patched[central + 46 : central + 46 + lengths[0]] == member.encode():
            offset, width = _CENTRAL_HEADER[field]
            patched[central + offset : central + offset + width] = value.to_bytes(width, "little")
        central += 46 + sum(lengths)
    return bytes(patched)


def with_zeros(members: dict[str, bytes], sizes: dict[str, int]) -> bytes:
    """A zip of `members`, then members of `sizes` zero bytes, deflated (about 1 KB per MiB)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            if name not in sizes:
                archive.writestr(name, payload)
        chunk = bytes(2**20)
        for name, size in sizes.items():
            with archive.open(name, "w") as stream:
                for start in range(0, size, len(chunk)):
                    stream.write(chunk[: min(len(chunk), size - start)])
    return buffer.getvalue()


def with_compiled_arrays(artifact: bytes, **arrays: bytes) -> bytes:
    """An artifact whose compiled.npz has some .npy members replaced by raw bytes."""
    compiled = zip_members(zip_members(artifact)[COMPILED_MEMBER])
    compiled |= {f"{name}.npy": payload for name, payload in arrays.items()}
    return replace_member(artifact, COMPILED_MEMBER, build_zip(compiled, zipfile.ZIP_STORED))


def npy_bytes(array: np.ndarray[Any, Any]) -> bytes:
    """An array in .npy format, pickled objects allowed (as only an attacker would write it)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


EXPLANATION_ARRAYS = ("design_mean", "left_cover", "right_cover", "subtree_mask")


def without_explanation_data(artifact: bytes) -> bytes:
    """An artifact as trainers wrote it before explanations: its compiled.npz has neither the
    linear model's training means nor the trees' node covers."""
    compiled = zip_members(zip_members(artifact)[COMPILED_MEMBER])
    kept = {
        name: payload
        for name, payload in compiled.items()
        if name.removesuffix(".npy") not in EXPLANATION_ARRAYS
    }
    assert len(kept) < len(compiled), "the artifact has no explanation data to remove"
    return replace_member(artifact, COMPILED_MEMBER, build_zip(kept, zipfile.ZIP_STORED))


def with_object_array(artifact: bytes) -> bytes:
    """compiled.npz whose coefficients are an array of Python objects (a pickle)."""
    return with_compiled_arrays(artifact, coef=npy_bytes(np.array([1.0, "x"], dtype=object)))


def with_truncated_array(artifact: bytes) -> bytes:
    """compiled.npz whose coefficients' .npy stops halfway through the data."""
    coef = zip_members(zip_members(artifact)[COMPILED_MEMBER])["coef.npy"]
    return with_compiled_arrays(artifact, coef=coef[: len(coef) // 2 + 64])


def with_coefficients_that_do_not_fit(artifact: bytes) -> bytes:
    """compiled.npz that loads, but whose three coefficients (and their three training means)
    do not fit the design matrix."""
    three = npy_bytes(np.zeros(3))
    return with_compiled_arrays(artifact, coef=three, design_mean=three)


def with_garbage_compiled_form(artifact: bytes) -> bytes:
    """compiled.npz replaced by bytes that are no archive at all."""
    return replace_member(artifact, COMPILED_MEMBER, b"garbage, not an npz archive")


def with_truncated_compiled_form(artifact: bytes) -> bytes:
    """compiled.npz cut in half."""
    compiled = zip_members(artifact)[COMPILED_MEMBER]
    return replace_member(artifact, COMPILED_MEMBER, compiled[: len(compiled) // 2])


def with_deeply_nested_metadata(artifact: bytes, depth: int = 100_000) -> bytes:
    """metadata.json that is one array nested `depth` levels deep."""
    return replace_member(artifact, METADATA_MEMBER, b"[" * depth + b"]" * depth)


def with_encrypted_member(artifact: bytes, member: str = MODEL_MEMBER) -> bytes:
    """An artifact whose member is flagged as encrypted (as a password-protected zip is)."""
    return patch_header(artifact, member, "flags", 0x1)


def with_compression_method(
    artifact: bytes, method: int = 99, member: str = METADATA_MEMBER
) -> bytes:
    """An artifact whose member says it uses compression `method` (99: AES, 12: bzip2, ...)."""
    return patch_header(artifact, member, "method", method)


@functools.cache
def zip_bomb(artifact: bytes, size: int = BOMB_BYTES) -> bytes:
    """An artifact whose model.skops inflates to `size` zero bytes from about size/1000 bytes."""
    return with_zeros(zip_members(artifact), {MODEL_MEMBER: size})


@functools.cache
def with_bomb_in_compiled_form(artifact: bytes, size: int = BOMB_BYTES) -> bytes:
    """An artifact whose compiled.npz holds a deflated coef.npy of `size` zero bytes."""
    compiled = zip_members(zip_members(artifact)[COMPILED_MEMBER])
    return replace_member(artifact, COMPILED_MEMBER, with_zeros(compiled, {"coef.npy": size}))


# Artifacts that are not well formed, each refused with an ArtifactFormatError by the publish gate
# and by the predict API alike: how to make one from a good (compiled) artifact, and the start of
# the message.
MALFORMED: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "object-array-in-compiled-form": (
        with_object_array,
        "not a valid loanapp artifact: compiled.npz is malformed "
        "(Object arrays cannot be loaded when allow_pickle=False)",
    ),
    "truncated-array-in-compiled-form": (
        with_truncated_array,
        "not a valid loanapp artifact: compiled.npz is malformed (EOF: reading array data",
    ),
    "garbage-compiled-form": (
        with_garbage_compiled_form,
        "not a valid loanapp artifact: compiled.npz is not a numpy .npz archive",
    ),
    "truncated-compiled-form": (
        with_truncated_compiled_form,
        "not a valid loanapp artifact: compiled.npz is not a numpy .npz archive",
    ),
    "compiled-form-that-fails-on-its-rows": (
        with_coefficients_that_do_not_fit,
        "not a valid loanapp artifact: compiled.npz fails on the reference rows (ValueError:",
    ),
    "metadata-nested-100000-deep": (
        with_deeply_nested_metadata,
        "not a valid loanapp artifact: metadata.json is nested more than 32 levels deep",
    ),
    "encrypted-member": (
        with_encrypted_member,
        "not a valid loanapp artifact: artifact member 'model.skops' is encrypted",
    ),
    "unknown-compression-method": (
        with_compression_method,
        "not a valid loanapp artifact: artifact member 'metadata.json' uses compression method 99;",
    ),
    "zip-bomb": (
        zip_bomb,
        "not a valid loanapp artifact: artifact member 'model.skops' declares 67108865 bytes "
        "inflated, more than the limit of 67108864",
    ),
    "zip-bomb-in-compiled-form": (
        with_bomb_in_compiled_form,
        "not a valid loanapp artifact: compiled.npz member 'coef.npy' declares 67108865 bytes "
        "inflated, more than the limit of 67108864",
    ),
}


def damage_blob(registry: ModelRegistry, version: str) -> str:
    """Change one byte of a version's stored bytes behind the registry's back; the new hash."""
    blob = f"blobs/sha256/{version}"
    tampered = bytearray(registry.store.get(blob).data)
    tampered[len(tampered) // 2] ^= 0x01
    registry.store.put(blob, bytes(tampered))
    return compute_version(bytes(tampered))


def larger_trees(gbm: TrainingResult) -> tuple[Any, CompiledModel]:
    """The gbm pipeline refitted on the small sample with trees of up to 40 leaves (8 of them),
    and its compiled form: trees far wider than training makes, for the paths meant for them."""
    data = small_dataset()
    pipeline = clone(load_model(gbm.artifact, gbm.version).estimator).set_params(
        classifier__max_leaf_nodes=40, classifier__min_samples_leaf=5, classifier__max_iter=8
    )
    pipeline.fit(data.features, data.target)
    compiled = compile_pipeline(pipeline, data.features)
    assert compiled is not None
    assert isinstance(compiled.scorer, TreeScorer)
    return pipeline, compiled
