"""Model artifacts: one file per model version, named by the SHA-256 of its bytes.

An artifact is a zip archive with two or three members:

- ``metadata.json``: what the model is (schema, classes, decision threshold, metrics, training data
  hash, library versions, reference rows with their expected probabilities);
- ``model.skops``: the fitted scikit-learn pipeline in skops format, which rebuilds objects from an
  allow-list of types instead of executing pickled code;
- ``compiled.npz`` (optional): the same model as plain arrays (see loanapp.compiled), which the
  predict API evaluates without scikit-learn.

Reading follows one order, so that no unverified byte is ever deserialised: hash the bytes and
compare with the expected version, then parse the JSON metadata, then refuse a scikit-learn version
other than the installed one, then refuse any type outside the allow-list, then load the model and
check that its reference rows still give the recorded probabilities.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata as package_metadata
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError

from loanapp.compiled import COMPILED_MEMBER, CompiledModel
from loanapp.errors import (
    ArtifactBehaviourError,
    ArtifactFormatError,
    ArtifactIntegrityError,
    IncompatibleArtifactError,
    InvalidInputError,
    PayloadTooLargeError,
    RequestValidationError,
    UntrustedArtifactError,
)
from loanapp.schema import FeatureValue, InputSchema
from loanapp.validation import validate_request

if TYPE_CHECKING:
    import pandas as pd

# scikit-learn, skops and pandas are imported only where a function needs them: the predict API
# serves compiled models and never loads them, which keeps its workers small and quick to start.

ARTIFACT_FORMAT: Literal["loanapp-artifact/1"] = "loanapp-artifact/1"
METADATA_MEMBER = "metadata.json"
MODEL_MEMBER = "model.skops"
# Shortest version prefix accepted wherever a person names a version, as with git's short hashes.
MIN_VERSION_PREFIX = 6
# Fixed member timestamps: the archive's bytes, hence its version, depend on its content only.
_ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)

# Types skops does not trust by default but our pipelines legitimately contain. Anything else in an
# artifact is refused by name, so a tampered or foreign model cannot smuggle in a callable.
TRUSTED_TYPES = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TargetInfo(_Frozen):
    """The outcome the model predicts. `predict_proba` columns follow `classes` in order."""

    name: str
    classes: tuple[str, str]
    positive_class: str

    @property
    def positive_index(self) -> int:
        """Column of `predict_proba` that holds the positive class."""
        return self.classes.index(self.positive_class)


class DecisionRule(_Frozen):
    """How a probability becomes a label: positive when p(positive) >= threshold."""

    threshold: float
    rule: str
    cost_of_default: float
    cost_of_rejected_good: float


class MetricSummary(_Frozen):
    """Mean and standard deviation of one metric over cross-validation folds."""

    mean: float
    std: float


class ConfusionMatrix(_Frozen):
    """Counts at the decision threshold; positive = the positive class."""

    true_negative: int
    false_positive: int
    false_negative: int
    true_positive: int


class Metrics(_Frozen):
    """Evaluation of the model: k-fold CV on the training part and the held-out split."""

    cross_validation: dict[str, MetricSummary]
    holdout: dict[str, float]
    holdout_confusion_matrix: ConfusionMatrix
    train_rows: int
    holdout_rows: int


class TrainingData(_Frozen):
    """Which data the model was fitted on."""

    source: str
    sha256: str
    rows: int


class ReferenceRows(_Frozen):
    """Raw applicant rows and the probabilities the model gave them when it was trained."""

    rows: tuple[dict[str, FeatureValue], ...]
    probabilities: tuple[tuple[float, float], ...]
    tolerance: float


class ArtifactMetadata(_Frozen):
    """Everything known about a model version besides its fitted parameters."""

    format: Literal["loanapp-artifact/1"] = ARTIFACT_FORMAT
    name: str
    model_type: str
    created_at: datetime
    input_schema: InputSchema
    target: TargetInfo
    decision: DecisionRule
    metrics: Metrics
    training_data: TrainingData
    training_options: dict[str, Any]
    libraries: dict[str, str]
    reference: ReferenceRows
    compiled: str | None = None
    """Kind of the compiled form in the artifact ("linear", "trees"), None if it has none."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model's behaviour, as recorded in artifacts."""
    return {
        "python": platform.python_version(),
        "scikit-learn": package_metadata.version("scikit-learn"),
        "numpy": np.__version__,
        "skops": package_metadata.version("skops"),
    }


def compute_version(data: bytes) -> str:
    """Version id of an artifact: the hex SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def is_hex(text: str) -> bool:
    """True if `text` is lowercase hexadecimal digits only (a SHA-256 or a prefix of one)."""
    return all(c in "0123456789abcdef" for c in text)


def check_version_id(version: str) -> str:
    """Return `version` if it is a full hex SHA-256, else raise InvalidInputError."""
    if len(version) != 64 or not is_hex(version):
        raise InvalidInputError(
            f"{version!r} is not a SHA-256 version id (64 lowercase hex digits)"
        )
    return version


def check_version_prefix(reference: str) -> str:
    """`reference` in lowercase if it can name a version (at least six hex digits), else raise."""
    reference = reference.lower()
    if len(reference) < MIN_VERSION_PREFIX or not is_hex(reference):
        raise InvalidInputError(
            f"{reference!r} is not a version: give the SHA-256 or at least "
            f"{MIN_VERSION_PREFIX} of its leading hex digits"
        )
    return reference


def verify_bytes(data: bytes, expected_version: str) -> None:
    """Raise ArtifactIntegrityError unless `data` hashes to `expected_version`."""
    actual = compute_version(data)
    if actual != expected_version:
        raise ArtifactIntegrityError(expected=expected_version, actual=actual)


def build_artifact(
    estimator: Any, metadata: ArtifactMetadata, compiled: CompiledModel | None = None
) -> bytes:
    """Serialise a fitted pipeline, its metadata and its compiled form into artifact bytes."""
    import skops.io

    members = [
        (METADATA_MEMBER, metadata.model_dump_json(indent=2).encode()),
        (MODEL_MEMBER, skops.io.dumps(estimator)),
    ]
    if compiled is not None:
        members.append((COMPILED_MEMBER, compiled.to_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, payload in members:
            info = zipfile.ZipInfo(member, date_time=_ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, payload)
    return buffer.getvalue()


def read_metadata(data: bytes, expected_version: str) -> ArtifactMetadata:
    """Verify the bytes' hash, then parse the metadata; the model itself is not deserialised."""
    verify_bytes(data, expected_version)
    return _parse_metadata(_read_member(data, METADATA_MEMBER))


def read_compiled(data: bytes, metadata: ArtifactMetadata) -> CompiledModel | None:
    """The compiled form in already verified artifact bytes, or None if it has none."""
    if metadata.compiled is None:
        return None
    check_compatible(metadata)
    return CompiledModel.from_bytes(_read_member(data, COMPILED_MEMBER))


@dataclass(frozen=True)
class LoadedModel:
    """A verified, deserialised model version, ready to predict."""

    version: str
    metadata: ArtifactMetadata
    estimator: Any

    def predict_proba(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Class probabilities for each row, columns in `metadata.target.classes` order."""
        return np.asarray(self.estimator.predict_proba(frame), dtype=np.float64)

    def predict_rows(self, rows: list[dict[str, FeatureValue]]) -> npt.NDArray[np.float64]:
        """Class probabilities for raw applicant rows (dicts of feature values)."""
        return self.predict_proba(self.metadata.input_schema.to_frame(rows))


def load_model(data: bytes, expected_version: str) -> LoadedModel:
    """Verify, check and deserialise artifact bytes; raise an ArtifactError if anything is off."""
    import skops.io

    metadata = read_metadata(data, expected_version)
    check_compatible(metadata)
    model_bytes = _read_member(data, MODEL_MEMBER)
    try:
        untrusted = [
            t for t in skops.io.get_untrusted_types(data=model_bytes) if t not in TRUSTED_TYPES
        ]
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise ArtifactFormatError(f"{MODEL_MEMBER} is not a skops file ({exc})") from exc
    if untrusted:
        raise UntrustedArtifactError(untrusted)
    estimator = skops.io.loads(model_bytes, trusted=list(TRUSTED_TYPES))
    loaded = LoadedModel(version=expected_version, metadata=metadata, estimator=estimator)
    check_reference_rows(metadata, loaded.predict_rows)
    return loaded


def check_reference_rows(
    metadata: ArtifactMetadata,
    predict_rows: Callable[[list[dict[str, FeatureValue]]], npt.NDArray[np.float64]],
) -> None:
    """Raise ArtifactBehaviourError unless `predict_rows` reproduces the recorded probabilities.

    The rows are first checked as a request would be, so rows that do not fit the model's own
    schema are an ArtifactFormatError rather than an error from deep inside the predictor.
    """
    reference = metadata.reference
    if not reference.rows:
        return
    rows = list(reference.rows)
    try:
        validate_request(metadata.input_schema, rows, single=False, max_rows=len(rows))
    except (InvalidInputError, PayloadTooLargeError, RequestValidationError) as exc:
        reason = f"reference rows do not fit the input schema: {exc.message}"
        raise ArtifactFormatError(reason) from exc
    actual = predict_rows(rows)
    difference = float(np.max(np.abs(actual - np.asarray(reference.probabilities))))
    if not difference <= reference.tolerance:  # also catches NaN
        raise ArtifactBehaviourError(max_difference=difference, tolerance=reference.tolerance)


def _read_member(data: bytes, member: str) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read(member)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ArtifactFormatError(f"not a readable zip archive ({exc})") from exc
    except KeyError as exc:
        raise ArtifactFormatError(f"member {member!r} is missing") from exc


def _parse_metadata(raw: bytes) -> ArtifactMetadata:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactFormatError(f"{METADATA_MEMBER} is not JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != ARTIFACT_FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise ArtifactFormatError(f"format is {found!r}, expected {ARTIFACT_FORMAT!r}")
    try:
        return ArtifactMetadata.model_validate(document)
    except ValidationError as exc:
        raise ArtifactFormatError(f"{METADATA_MEMBER} is malformed: {exc}") from exc


def check_compatible(metadata: ArtifactMetadata) -> None:
    """Refuse an artifact trained with a scikit-learn version other than the installed one."""
    trained_with = metadata.libraries.get("scikit-learn", "unknown")
    installed = package_metadata.version("scikit-learn")
    if trained_with != installed:
        raise IncompatibleArtifactError("scikit-learn", trained_with, installed)
