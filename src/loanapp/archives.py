"""Zip archives read within limits: an artifact, and the zips inside it, can never make a worker
inflate more than the limits allow, whatever their headers claim."""

from __future__ import annotations

import io
import zipfile
import zlib
from typing import Protocol

from loanapp.errors import ArtifactFormatError, quoted

# Limits on what reading an archive may inflate. The largest artifact we train (gradient boosting,
# 300 trees) inflates to 2.2 MB: a 2.1 MB model.skops of 1,028 members, an 81 KB compiled.npz and a
# 13 KB metadata.json nested 5 levels deep. The limits leave room for models 30 times larger, and
# keep what a worker can be made to allocate by a small upload far below its memory.
MAX_MEMBER_BYTES = 64 * 2**20
MAX_INFLATED_BYTES = 128 * 2**20
MAX_MEMBERS = 16_384  # a skops file holds about 3.4 members per tree
# zipfile builds an object per central-directory entry before any member count can be checked.
MAX_DIRECTORY_BYTES = 4 * 2**20
# Inflating a chunk at a time bounds memory even where a member's header lies about its size.
_READ_CHUNK_BYTES = 2**20
_READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ENCRYPTED_FLAGS = 0x0041  # traditional (bit 0) or strong (bit 6) encryption
_PATCHED_DATA_FLAG = 0x0020
_END_OF_DIRECTORY = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"


def read_member(data: bytes, member: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
    """One member of a zip archive, inflated within `limit`; ArtifactFormatError if it cannot be."""
    what = member_label("artifact", member)
    with open_archive(data, "artifact") as archive:
        try:
            info = archive.getinfo(member)
        except KeyError as exc:
            raise ArtifactFormatError(f"{what} is missing") from exc
        _check_declared_size(what, info.file_size, limit)
        return _inflate(archive, info, what)


def check_inner_archive(data: bytes, what: str, kind: str) -> None:
    """Inflate every member of a zip held in the artifact once, within the limits, and discard it.

    numpy and skops read these archives with zipfile's unbounded reads: after this pass each member
    is known to inflate to exactly its declared size, which the limits have already bounded.
    """
    with open_archive(data, what, kind) as archive:
        for info in archive.infolist():
            _inflate(archive, info, member_label(what, info.filename))


def open_archive(data: bytes, what: str, kind: str = "readable zip archive") -> zipfile.ZipFile:
    """A zip archive whose members can all be read within the limits; ArtifactFormatError if not."""
    _check_directory(data, what)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise ArtifactFormatError(f"{what} is not a {kind} ({exc})") from exc
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise ArtifactFormatError(
            f"{what} has {len(members)} members, more than the limit of {MAX_MEMBERS}"
        )
    for info in members:
        _check_member(info, member_label(what, info.filename))
    total = sum(info.file_size for info in members)
    if total > MAX_INFLATED_BYTES:
        raise ArtifactFormatError(
            f"{what} declares {total} bytes inflated in all, more than the limit of "
            f"{MAX_INFLATED_BYTES}"
        )
    return archive


class Readable(Protocol):
    """A binary stream, such as a zip member opened for reading."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to `size` bytes; b"" at the end."""
        ...


def read_bounded(stream: Readable, limit: int, what: str) -> bytes:
    """Everything `stream` gives, a chunk at a time; ArtifactFormatError past `limit` bytes.

    It never asks the stream for more than `limit` + 1 bytes in all, so a decompressor behind it
    never inflates much past the limit, whatever the archive's headers say.
    """
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(min(_READ_CHUNK_BYTES, limit + 1 - total)):
        total += len(chunk)
        if total > limit:
            raise ArtifactFormatError(f"{what} inflates to more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_directory(data: bytes, what: str) -> None:
    """Refuse a central directory larger than any artifact needs, before zipfile parses it."""
    end = data.rfind(_END_OF_DIRECTORY, max(0, len(data) - 22 - 0xFFFF))
    if end < 0 or len(data) < end + 22:
        return  # no end record: zipfile refuses the bytes itself
    if data[max(0, end - 20) : end].startswith(_ZIP64_LOCATOR):
        # Artifacts are far below 4 GiB and 65,535 members; zip64 records only hide the sizes.
        raise ArtifactFormatError(f"{what} is a zip64 archive, which loanapp does not read")
    directory_bytes = int.from_bytes(data[end + 12 : end + 16], "little")
    if directory_bytes > MAX_DIRECTORY_BYTES:
        raise ArtifactFormatError(
            f"{what} has a central directory of {directory_bytes} bytes, more than the limit of "
            f"{MAX_DIRECTORY_BYTES}"
        )


def _check_member(info: zipfile.ZipInfo, what: str) -> None:
    """Refuse a member zipfile cannot read, or one that declares more than a member may hold."""
    if info.flag_bits & _ENCRYPTED_FLAGS:
        raise ArtifactFormatError(f"{what} is encrypted")
    if info.flag_bits & _PATCHED_DATA_FLAG:
        raise ArtifactFormatError(f"{what} holds compressed patched data")
    if info.compress_type not in _READABLE_METHODS:
        raise ArtifactFormatError(
            f"{what} uses compression method {info.compress_type}; only stored (0) and "
            "deflated (8) members are read"
        )
    _check_declared_size(what, info.file_size, MAX_MEMBER_BYTES)


def _check_declared_size(what: str, size: int, limit: int) -> None:
    if size > limit:
        raise ArtifactFormatError(
            f"{what} declares {size} bytes inflated, more than the limit of {limit}"
        )


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> bytes:
    """A member's bytes, never more than it declares (checked against the limits already)."""
    try:
        with archive.open(info) as stream:
            return read_bounded(stream, info.file_size, what)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:
        raise ArtifactFormatError(f"{what} is not readable ({exc})") from exc
    except NotImplementedError as exc:  # a local header that contradicts the central directory
        raise ArtifactFormatError(
            f"{what} uses a zip feature loanapp does not read ({exc})"
        ) from exc


def member_label(archive: str, member: str) -> str:
    """How a message names a member: its name comes from the uploaded bytes, so it is bounded."""
    return f"{archive} member {quoted(member)}"
