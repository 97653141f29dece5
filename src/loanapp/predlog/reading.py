"""Reading the prediction log back: the finished files of a folder, as one pandas frame."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from loanapp.errors import InvalidInputError
from loanapp.predlog.files import FINISHED_SUFFIX
from loanapp.store.objects import StoredObject

if TYPE_CHECKING:
    import pandas as pd


def log_files(root: Path, since: str | None = None) -> list[Path]:
    """Finished files under `root`, of partitions dated `since` (YYYY-MM-DD) or later."""
    if not root.is_dir():
        raise InvalidInputError(f"prediction log {root} is not a folder")
    return sorted(
        path
        for path in root.glob(f"model=*/date=*/*{FINISHED_SUFFIX}")
        if since is None or path.parent.name.removeprefix("date=") >= since
    )


class Downloads(Protocol):
    """An object store's listing and reads (loanapp.store's backends)."""

    def list(self, prefix: str) -> list[str]:
        """Keys starting with `prefix`, sorted."""
        ...

    def get(self, key: str) -> StoredObject:
        """An object's bytes."""
        ...


def download_log(store: Downloads, into: Path, since: str | None = None) -> Path:
    """Copy the shipped files (of partitions dated `since` or later) into a folder; the folder."""
    for key in store.list("model="):
        parts = key.split("/")
        if len(parts) != 3 or not parts[1].startswith("date=") or not key.endswith(FINISHED_SUFFIX):
            continue
        if since is not None and parts[1].removeprefix("date=") < since:
            continue
        target = into.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(key).data)
    return into


def read_records(paths: list[Path], since: str | None = None) -> Iterator[dict[str, Any]]:
    """Each logged row of `paths` (at `since` or later), its input flattened to `input.<name>`."""
    for path in paths:
        try:
            with gzip.open(path, "rb") as lines:
                for line in lines:
                    record = orjson.loads(line)
                    if since is not None and record["time"][:10] < since:
                        continue
                    features = record.pop("input")
                    record.pop("reasons", None)
                    record.update({f"input.{name}": value for name, value in features.items()})
                    yield record
        except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
            raise InvalidInputError(f"prediction log file {path} cannot be read: {exc}") from exc


def read_frame(root: Path, since: str | None = None) -> pd.DataFrame:
    """The logged rows under `root` as a frame (one column per field and per input feature)."""
    import pandas as pd

    return pd.DataFrame.from_records(read_records(log_files(root, since), since))
