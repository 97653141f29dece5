"""Verified artifacts on local disk, so a predict-API worker can start while the server is down."""

from __future__ import annotations

import logging
from pathlib import Path

from loanapp.artifacts import check_version_id, verify_bytes
from loanapp.errors import ArtifactIntegrityError, InvalidInputError
from loanapp.files import write_atomically

logger = logging.getLogger(__name__)

DEFAULT_KEEP_VERSIONS = 4


class ArtifactCache:
    """A folder of artifacts named by version, plus a pointer to the last version served per model.

    Only verified bytes are written, every read is verified again, and every write is on disk
    before it appears, all at once (temporary file, fsync, rename), so several workers can share
    the folder and a crash never leaves a torn file.
    """

    def __init__(self, folder: Path, keep_versions: int = DEFAULT_KEEP_VERSIONS) -> None:
        self.folder = folder
        self.keep_versions = keep_versions

    def save(self, name: str, version: str, data: bytes) -> None:
        """Keep verified bytes and mark the version as the last one served for `name`."""
        verify_bytes(data, version)
        try:
            write_atomically(self.folder / check_version_id(version), data)
            write_atomically(self.folder / f"{name}.current", version.encode())
            self._evict()
        except OSError as exc:  # a full or read-only disk must not stop serving
            logger.warning("could not cache version %s in %s: %s", version, self.folder, exc)

    def load_last(self, name: str) -> tuple[str, bytes] | None:
        """The last version served for `name` and its verified bytes, if the cache holds them."""
        try:
            version = check_version_id((self.folder / f"{name}.current").read_text().strip())
            data = (self.folder / version).read_bytes()
            verify_bytes(data, version)
        except FileNotFoundError:
            return None
        except (OSError, InvalidInputError, ArtifactIntegrityError) as exc:
            logger.warning("ignoring the local cache for %s: %s", name, exc)
            return None
        return version, data

    def _evict(self) -> None:
        pinned = {p.read_text().strip() for p in self.folder.glob("*.current")}
        artifacts = sorted(
            (p for p in self.folder.iterdir() if len(p.name) == 64 and p.name not in pinned),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for stale in artifacts[max(0, self.keep_versions - len(pinned)) :]:
            stale.unlink(missing_ok=True)
