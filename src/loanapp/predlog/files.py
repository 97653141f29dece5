"""The prediction log's files of one worker: open one part at a time, finish it atomically.

A part is `<name>.part` beside its final name; finishing it flushes the gzip stream, syncs the
file to disk and renames it into place (an atomic rename in one folder). A crash loses only the
open part's name (its bytes stay readable as a `.part`), never a finished file.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

FINISHED_SUFFIX = ".jsonl.gz"
PART_SUFFIX = ".part"
# The fastest level: the writer shares the worker's CPU (and GIL) with its requests, and JSON lines
# of the same fields shrink well even so.
COMPRESS_LEVEL = 1


def partition(root: Path, model: str, day: str) -> Path:
    """The folder of one model's rows of one day."""
    return root / f"model={model}" / f"date={day}"


class _OpenPart:
    """The part being written: its paths, gzip stream, size so far and when it was opened."""

    def __init__(self, final: Path, key: tuple[str, str]) -> None:
        self.final = final
        self.path = final.with_name(final.name + PART_SUFFIX)
        self.key = key
        self.opened = time.monotonic()
        self.size = 0
        final.parent.mkdir(parents=True, exist_ok=True)
        self.raw: BinaryIO = self.path.open("wb")
        self.stream = gzip.GzipFile(fileobj=self.raw, mode="wb", compresslevel=COMPRESS_LEVEL)

    def finish(self) -> Path:
        self.stream.close()
        self.raw.flush()
        os.fsync(self.raw.fileno())
        self.raw.close()
        self.path.replace(self.final)
        return self.final


class RotatingFiles:
    """Writes lines into one part per (model, day); finishes it by size, age or a new day."""

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int,
        max_seconds: float,
        on_finished: Callable[[Path], None] = lambda _path: None,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.on_finished = on_finished
        self._part: _OpenPart | None = None
        self._count = 0

    def write(self, model: str, day: str, lines: bytes) -> None:
        """Append lines to the part of (model, day), first finishing a part that is done."""
        part = self._part
        if part is not None and part.key != (model, day):
            self.finish()
            part = None
        if part is None:
            part = self._part = self._open(model, day)
        part.stream.write(lines)
        part.size += len(lines)
        if part.size >= self.max_bytes:
            self.finish()

    def finish_if_old(self) -> None:
        """Finish the open part if it was opened `max_seconds` ago or more."""
        if self._part is not None and time.monotonic() - self._part.opened >= self.max_seconds:
            self.finish()

    def finish(self) -> None:
        """Finish the open part, if any: it becomes a file readers see."""
        part, self._part = self._part, None
        if part is not None:
            self.on_finished(part.finish())

    def abandon(self) -> None:
        """Give up the open part after a write failed: it stays a `.part`, never finished."""
        part, self._part = self._part, None
        if part is not None:
            with contextlib.suppress(OSError):  # the failure that got us here is reported
                part.raw.close()

    def _open(self, model: str, day: str) -> _OpenPart:
        self._count += 1
        opened = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        # The PID of the process writing (a worker, after the fork): one writer per file.
        writer = f"predictions-{socket.gethostname()}-{os.getpid()}"
        name = f"{writer}-{opened}-{self._count:04d}{FINISHED_SUFFIX}"
        return _OpenPart(partition(self.root, model, day) / name, (model, day))
