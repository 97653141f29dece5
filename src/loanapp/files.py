"""Crash-safe file writes: a reader sees the old bytes or the new bytes, never a mix or a hole."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMPORARY_PREFIX = ".tmp-"


def write_temporary(folder: Path, data: bytes) -> Path:
    """Write `data` to a new temporary file in `folder`, flushed to disk; return its path.

    In the target's own folder, so that the final rename or link never crosses file systems.
    """
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one rename, after the bytes are on disk."""
    write_temporary(path.parent, data).replace(path)
