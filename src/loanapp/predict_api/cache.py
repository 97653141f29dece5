"""Verified artifacts on local disk, so a predict-API worker can start while the server is down."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
from pydantic import ValidationError

from loanapp.artifacts import check_version_id, verify_bytes
from loanapp.errors import ArtifactIntegrityError, InvalidInputError
from loanapp.files import write_atomically
from loanapp.signing import VersionSignature

logger = logging.getLogger(__name__)

DEFAULT_KEEP_VERSIONS = 4
# Pointers live in one subfolder per model server, named by a hash of its normalised URL.
POINTERS_FOLDER = "servers"
SIGNATURES_FOLDER = "signatures"  # <sha256>.json: what the model server gave with each version
SERVER_KEY_LENGTH = 16  # hex digits: never 64 long, so never taken for an artifact's name
DEFAULT_PORTS = {"http": 80, "https": 443}


class ArtifactCache:
    """Verified artifacts by version, and the last version served per model server and model.

        <folder>/<sha256>                            artifact bytes, named by their SHA-256
        <folder>/servers/<key>/<name>.current        last version of `name` served from the model
                                                     server whose normalised URL hashes to <key>
        <folder>/signatures/<sha256>.json            the signatures that came with a version

    Two deployments that share the folder (a mounted volume, a common default path) thus never
    start on each other's models; the bytes themselves are content-addressed, so sharing them is
    safe. Only verified bytes are written, every read is verified again, and every write is on
    disk before it appears, all at once (temporary file, fsync, rename), so several workers can
    share the folder and a crash never leaves a torn file.

    A pointer of the older layout, `<folder>/<name>.current`, does not say which model server it
    followed: it is never served (nor deleted, since an older release may still read it).
    """

    def __init__(
        self, folder: Path, model_server_url: str = "", keep_versions: int = DEFAULT_KEEP_VERSIONS
    ) -> None:
        """A cache in `folder` for the model server at `model_server_url`.

        The empty URL, for tools and tests that follow no model server, has a key of its own.
        """
        self.folder = folder
        self.keep_versions = keep_versions
        self.pointers = folder / POINTERS_FOLDER / get_model_server_key(model_server_url)

    def save(self, name: str, version: str, data: bytes) -> None:
        """Keep verified bytes and mark the version as the last one served for `name`."""
        verify_bytes(data, version)
        try:
            write_atomically(self.folder / check_version_id(version), data)
            write_atomically(self.pointers / f"{name}.current", version.encode())
            self._evict()
        except OSError as exc:  # a full or read-only disk must not stop serving
            logger.warning("could not cache version %s in %s: %s", version, self.folder, exc)

    def save_signatures(self, version: str, signatures: Sequence[VersionSignature]) -> None:
        """Keep a version's signatures, so a start from the cache can check them again."""
        data = orjson.dumps([signature.model_dump() for signature in signatures])
        try:
            write_atomically(
                self.folder / SIGNATURES_FOLDER / f"{check_version_id(version)}.json", data
            )
        except OSError as exc:
            logger.warning("could not cache the signatures of %s: %s", version, exc)

    def load_signatures(self, version: str) -> list[VersionSignature]:
        """The signatures kept for a version; none if they were never saved or cannot be read."""
        path = self.folder / SIGNATURES_FOLDER / f"{check_version_id(version)}.json"
        try:
            return [
                VersionSignature.model_validate(item) for item in orjson.loads(path.read_bytes())
            ]
        except FileNotFoundError:
            return []
        except (OSError, orjson.JSONDecodeError, TypeError, ValidationError) as exc:
            logger.warning("ignoring the cached signatures of %s: %s", version, exc)
            return []

    def load_last(self, name: str) -> tuple[str, bytes] | None:
        """The last version served for `name` from this model server, verified, if cached."""
        try:
            version = check_version_id((self.pointers / f"{name}.current").read_text().strip())
            data = (self.folder / version).read_bytes()
            verify_bytes(data, version)
        except FileNotFoundError:
            if (self.folder / f"{name}.current").is_file():
                logger.info(
                    "ignoring %s: written before the cache was kept per model server",
                    self.folder / f"{name}.current",
                )
            return None
        except (OSError, InvalidInputError, ArtifactIntegrityError) as exc:
            logger.warning("ignoring the local cache for %s: %s", name, exc)
            return None
        return version, data

    def _evict(self) -> None:
        # Every model server's pointers pin their version, and so do old-layout pointers, which
        # an older release sharing the folder may still start from.
        pointers = [
            *self.folder.glob(f"{POINTERS_FOLDER}/*/*.current"),
            *self.folder.glob("*.current"),
        ]
        pinned = {p.read_text().strip() for p in pointers}
        artifacts = sorted(
            (p for p in self.folder.iterdir() if len(p.name) == 64 and p.name not in pinned),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for stale in artifacts[max(0, self.keep_versions - len(pinned)) :]:
            stale.unlink(missing_ok=True)


def get_model_server_key(url: str) -> str:
    """Name of the cache subfolder for a model server: a hash of its normalised URL."""
    normalised = normalise_model_server_url(url)
    return hashlib.sha256(normalised.encode()).hexdigest()[:SERVER_KEY_LENGTH]


def normalise_model_server_url(url: str) -> str:
    """`url` without what does not change the server it names.

    Scheme and host in lower case; no default port, credentials, query, fragment or trailing
    slash. Host names are not resolved: `localhost` and `127.0.0.1` stay two servers.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: keep what was written, so the key is still stable
        netloc = parts.netloc.rpartition("@")[2].lower()
    else:
        netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))
