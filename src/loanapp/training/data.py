"""Loading the Lending Club loan data shipped with loanapp (or a CSV of the same shape)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from loanapp.errors import InvalidInputError

TARGET_COLUMN = "Class"
NEGATIVE_CLASS = "good"
POSITIVE_CLASS = "bad"
"""The class the model scores: a loan that was charged off, defaulted or is 21-120 days late."""
CLASSES = (NEGATIVE_CLASS, POSITIVE_CLASS)
DEFAULT_DATA_NAME = "lending_club.csv.gz"


@dataclass(frozen=True)
class Dataset:
    """Applicant features, the target as 0/1 (1 = POSITIVE_CLASS) and where they came from."""

    features: pd.DataFrame
    target: npt.NDArray[np.int64]
    source: str
    sha256: str


def load_dataset(path: Path | None = None) -> Dataset:
    """Read a loan CSV (gzip allowed); the shipped Lending Club sample when `path` is None."""
    if path is None:
        raw = resources.files("loanapp.training").joinpath("data", DEFAULT_DATA_NAME).read_bytes()
        source = f"loanapp/training/data/{DEFAULT_DATA_NAME}"
    else:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read training data {path}: {exc.strerror}") from exc
        source = str(path)
    try:
        frame = pd.read_csv(io.BytesIO(raw), compression="infer" if path else "gzip")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"training data {source} is not a readable CSV: {exc}") from exc
    _check_frame(frame, source)
    return Dataset(
        features=frame.drop(columns=[TARGET_COLUMN]),
        target=(frame[TARGET_COLUMN] == POSITIVE_CLASS).to_numpy().astype(np.int64),
        source=source,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def _check_frame(frame: pd.DataFrame, source: str) -> None:
    if TARGET_COLUMN not in frame:
        raise InvalidInputError(f"training data {source} has no {TARGET_COLUMN!r} column")
    unexpected = set(frame[TARGET_COLUMN].unique()) - set(CLASSES)
    if unexpected:
        raise InvalidInputError(
            f"column {TARGET_COLUMN!r} of {source} holds {sorted(map(str, unexpected))}; "
            f"expected only {list(CLASSES)}"
        )
    missing = frame.columns[frame.isna().any()].tolist()
    if missing:
        raise InvalidInputError(f"training data {source} has missing values in {missing}")
