"""Archives read within limits: member counts, directory size, declared and real inflated sizes."""

from __future__ import annotations

import io
import zipfile
from typing import IO

import pytest

from loanapp.archives import read_bounded
from loanapp.artifacts import (
    METADATA_MEMBER,
    MODEL_MEMBER,
    compute_version,
    load_model,
    read_metadata,
)
from loanapp.compiled import COMPILED_MEMBER
from loanapp.errors import ArtifactFormatError
from loanapp.training.train import TrainingResult
from tests.factories import build_zip, patch_header, with_zeros, zip_bomb, zip_members


def _with_extra_members(artifact: bytes, count: int, name_length: int = 8) -> bytes:
    """The artifact plus `count` empty members (stored, so the archive stays small)."""
    extra = {f"{index:0{name_length}d}": b"" for index in range(count)}
    return build_zip(zip_members(artifact) | extra, zipfile.ZIP_STORED)


def test_an_archive_of_too_many_members_is_refused_before_they_are_read(
    logreg: TrainingResult,
) -> None:
    crowded = _with_extra_members(logreg.artifact, 16_384)  # 16,387 members in all
    with pytest.raises(ArtifactFormatError) as caught:
        read_metadata(crowded, compute_version(crowded))
    assert caught.value.message == (
        "not a valid loanapp artifact: artifact has 16387 members, more than the limit of 16384"
    )


def test_a_central_directory_too_large_to_parse_is_refused(logreg: TrainingResult) -> None:
    # 16,000 members with 250-character names: a 4.7 MB directory, refused before zipfile builds
    # an object for each entry.
    crowded = _with_extra_members(logreg.artifact, 16_000, name_length=250)
    with pytest.raises(ArtifactFormatError, match=r"artifact has a central directory of \d+ bytes"):
        read_metadata(crowded, compute_version(crowded))


def test_a_zip64_archive_is_refused(logreg: TrainingResult) -> None:
    end = logreg.artifact.rfind(b"PK\x05\x06")
    locator = b"PK\x06\x07" + bytes(16)  # a zip64 end locator: sizes that the end record hides
    zip64 = logreg.artifact[:end] + locator + logreg.artifact[end:]
    with pytest.raises(ArtifactFormatError) as caught:
        read_metadata(zip64, compute_version(zip64))
    assert caught.value.message == (
        "not a valid loanapp artifact: artifact is a zip64 archive, which loanapp does not read"
    )


def test_members_that_declare_more_than_the_total_limit_are_refused(
    logreg: TrainingResult,
) -> None:
    # Two members of exactly the per-member limit (64 MiB each, 130 KB once deflated) and the
    # metadata: more than 128 MiB in all.
    metadata = {METADATA_MEMBER: zip_members(logreg.artifact)[METADATA_MEMBER]}
    bomb = with_zeros(metadata, {MODEL_MEMBER: 64 * 2**20, COMPILED_MEMBER: 64 * 2**20})
    with pytest.raises(ArtifactFormatError) as caught:
        read_metadata(bomb, compute_version(bomb))
    total = 128 * 2**20 + len(metadata[METADATA_MEMBER])
    assert caught.value.message == (
        f"not a valid loanapp artifact: artifact declares {total} bytes inflated in all, "
        "more than the limit of 134217728"
    )


def test_a_member_that_inflates_past_its_declared_size_is_refused(
    logreg: TrainingResult,
) -> None:
    lying = patch_header(zip_bomb(logreg.artifact, 8 * 2**20), MODEL_MEMBER, "size", 1024)
    with pytest.raises(ArtifactFormatError) as caught:
        load_model(lying, compute_version(lying))
    assert caught.value.message.startswith(
        "not a valid loanapp artifact: artifact member 'model.skops' is not readable (Bad CRC-32"
    )


class _CountingStream:
    """A stream over another that counts the bytes it hands out."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.handed_out = 0

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.handed_out += len(data)
        return data


def test_the_bounded_reader_never_takes_more_than_its_limit_from_a_member() -> None:
    # The member holds 8 MiB, and zipfile would inflate all of it in one read; the limit is 1 MiB.
    data = with_zeros({}, {"zeros": 8 * 2**20})
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("zeros") as member:
        counting = _CountingStream(member)
        with pytest.raises(ArtifactFormatError) as caught:
            read_bounded(counting, 2**20, "member 'zeros'")
    assert caught.value.message == (
        "not a valid loanapp artifact: member 'zeros' inflates to more than 1048576 bytes"
    )
    assert counting.handed_out == 2**20 + 1


def test_the_bounded_reader_returns_a_member_within_its_limit() -> None:
    data = with_zeros({}, {"zeros": 3 * 2**20})
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("zeros") as member:
        assert read_bounded(member, 3 * 2**20, "member 'zeros'") == bytes(3 * 2**20)
