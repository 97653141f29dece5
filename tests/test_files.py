"""Crash-safe writes: the bytes reach the disk before the file appears under its name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loanapp.files import TEMPORARY_PREFIX, write_atomically
from loanapp.predict_api.cache import ArtifactCache
from loanapp.training.train import TrainingResult


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "folder" / "file"
    write_atomically(target, b"old")
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["file"]


def test_bytes_are_synced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, Path.replace

    def fsync(descriptor: int) -> None:
        events.append("fsync")
        real_fsync(descriptor)

    def replace(self: Path, target: Path) -> Path:
        events.append("rename")
        return real_replace(self, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "replace", replace)
    write_atomically(tmp_path / "file", b"data")
    assert events == ["fsync", "rename"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMPORARY_PREFIX)]


def test_the_predict_api_cache_syncs_what_it_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logreg: TrainingResult
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    ArtifactCache(tmp_path).save("loan", logreg.version, logreg.artifact)
    assert len(synced) == 2  # the artifact, then the pointer to it
    assert ArtifactCache(tmp_path).load_last("loan") == (logreg.version, logreg.artifact)
