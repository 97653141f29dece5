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

The zip archives (the artifact, and compiled.npz and model.skops inside it) are read within limits:
each member's declared size, the archive's declared total and its member count are checked before
a byte is inflated, and members are inflated a chunk at a time, so a zip bomb, or a header that
lies about its size, is refused before it can take a worker's memory.

`load_servable` is the one load path of the predict API (the compiled form when it reproduces the
reference rows, else scikit-learn); `load_publishable`, the publish gate, runs it and the full
scikit-learn load, so that a published version is one every predict-API worker can serve.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
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

from loanapp.archives import check_inner_archive, read_member
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
    quoted,
)
from loanapp.monitoring.profile import TrainingProfile
from loanapp.schema import FeatureValue, InputSchema
from loanapp.validation import validate_request

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

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

MAX_METADATA_BYTES = 2**20  # parsed JSON takes several times its size in memory
MAX_METADATA_DEPTH = 32  # pydantic re-reads version records only up to about 200 levels


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


class Estimate(_Frozen):
    """A figure with its 95 % bootstrap interval."""

    value: float
    low: float
    high: float


class MoneyFigures(_Frozen):
    """Expected cost per applicant, in loan units, of the model at its threshold and of two
    trivial rules: approve everyone, and decline from an `int_rate` cutoff up."""

    basis: str
    """Which predictions: the training part's out-of-fold ones, or the holdout's."""
    applicants: int
    int_rate_cutoff: float
    """The int_rate rule declines from this rate up (inf: it declines nobody)."""
    model: Estimate
    approve_everyone: Estimate
    int_rate_rule: Estimate
    saving_vs_approve_everyone: Estimate
    saving_vs_int_rate_rule: Estimate


class FoldPlan(_Frozen):
    """What fixes the cross-validation folds: two models with equal plans were scored on the same
    rows in every fold, so their fold scores can be compared pair by pair."""

    data_sha256: str
    data_rows: int
    holdout_fraction: float
    seed: int
    folds: int
    repeats: int
    train_rows: int


class FoldScores(_Frozen):
    """Per-fold figures on the plan's folds (in the splitter's order): what the promotion gate and
    `loanapp compare` pair, so neither has to retrain."""

    plan: FoldPlan
    roc_auc: tuple[float, ...]
    cost_per_applicant: tuple[float, ...]
    """Cost per applicant of the fold's test rows at the model's decision threshold."""


class Metrics(_Frozen):
    """Evaluation of the model: k-fold CV on the training part and the held-out split."""

    cross_validation: dict[str, MetricSummary]
    holdout: dict[str, float]
    holdout_confusion_matrix: ConfusionMatrix
    train_rows: int
    holdout_rows: int
    cross_validation_folds: str | None = None
    """How the CV was run, e.g. "5 x 5 repeated stratified"; None in older artifacts."""
    holdout_roc_auc_interval: tuple[float, float] | None = None
    """95 % percentile-bootstrap interval of the holdout ROC-AUC; None in older artifacts."""
    folds: FoldScores | None = None
    """Per-fold scores for paired comparisons; None in older artifacts (not comparable)."""
    money: MoneyFigures | None = None
    """Cost per applicant on the training part's out-of-fold predictions; None in older ones."""
    holdout_money: MoneyFigures | None = None
    """The same on the holdout (too few applicants to tell rules apart; shown for honesty)."""


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
    training_profile: TrainingProfile | None = None
    """The training data's distribution, for `loanapp monitor`; None in older artifacts."""


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
            f"{quoted(version)} is not a SHA-256 version id (64 lowercase hex digits)"
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
    return _parse_metadata(read_member(data, METADATA_MEMBER, MAX_METADATA_BYTES))


def read_compiled(data: bytes, metadata: ArtifactMetadata) -> CompiledModel | None:
    """The compiled form in already verified artifact bytes, or None if it has none."""
    if metadata.compiled is None:
        return None
    check_compatible(metadata)
    compiled = read_member(data, COMPILED_MEMBER)
    check_inner_archive(compiled, COMPILED_MEMBER, "numpy .npz archive")
    return CompiledModel.from_bytes(compiled)


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
    model_bytes = read_member(data, MODEL_MEMBER)
    check_inner_archive(model_bytes, MODEL_MEMBER, "skops file")
    try:
        untrusted = [
            t for t in skops.io.get_untrusted_types(data=model_bytes) if t not in TRUSTED_TYPES
        ]
    except _SKOPS_ERRORS as exc:
        raise ArtifactFormatError(f"{MODEL_MEMBER} is not a skops file ({exc})") from exc
    if untrusted:
        raise UntrustedArtifactError(untrusted)
    try:
        estimator = skops.io.loads(model_bytes, trusted=list(TRUSTED_TYPES))
    except _SKOPS_ERRORS as exc:
        raise ArtifactFormatError(f"{MODEL_MEMBER} cannot be loaded ({exc})") from exc
    loaded = LoadedModel(version=expected_version, metadata=metadata, estimator=estimator)
    check_reference_rows(metadata, loaded.predict_rows)
    return loaded


# What skops raises on a file it cannot rebuild: it parses JSON and zip members and then calls
# the constructors and __setstate__ of allow-listed types with whatever the file holds.
_SKOPS_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    LookupError,
    ValueError,
    TypeError,
    AttributeError,
    ImportError,
    RuntimeError,  # RecursionError on deeply nested JSON among them
    MemoryError,
)


@dataclass(frozen=True)
class ServableModel:
    """Verified artifact bytes in the form the predict API serves: compiled, else scikit-learn."""

    version: str
    metadata: ArtifactMetadata
    form: CompiledModel | LoadedModel

    @property
    def kind(self) -> str:
        """What answers: 'compiled linear', 'compiled trees' or 'scikit-learn'."""
        if isinstance(self.form, CompiledModel):
            return f"compiled {self.form.kind}"
        return "scikit-learn"


def load_servable(data: bytes, expected_version: str) -> ServableModel:
    """Load artifact bytes exactly as every predict-API worker does; the publish gate runs it too.

    The compiled form is served if it reproduces the reference rows; one that answers differently
    is logged and the scikit-learn model is loaded instead, with all of `load_model`'s checks. A
    malformed compiled form, or one that fails on the rows, is refused: no worker would serve it.
    Only the fallback imports scikit-learn.
    """
    metadata = read_metadata(data, expected_version)
    compiled = read_compiled(data, metadata)
    if compiled is not None:
        try:
            check_reference_rows(
                metadata,
                lambda rows: compiled.predict_proba(rows_to_columns(rows), len(rows)),
                COMPILED_MEMBER,
            )
        except ArtifactBehaviourError as exc:
            logger.warning("compiled form of %s not used: %s", expected_version, exc.message)
        else:
            return ServableModel(expected_version, metadata, compiled)
    return ServableModel(expected_version, metadata, load_model(data, expected_version))


def load_publishable(data: bytes, expected_version: str) -> LoadedModel:
    """The publish gate: what every predict-API worker loads, and the full scikit-learn load.

    A version is published only if the predict API can serve it (`load_servable`) and its
    scikit-learn model loads too (pinned mode and the predict API's fallback need it).
    """
    servable = load_servable(data, expected_version)
    if isinstance(servable.form, LoadedModel):
        return servable.form
    return load_model(data, expected_version)


def rows_to_columns(rows: list[dict[str, FeatureValue]]) -> dict[str, list[FeatureValue]]:
    """Applicant rows as columns, the shape compiled models and the predict API work on."""
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


def check_reference_rows(
    metadata: ArtifactMetadata,
    predict_rows: Callable[[list[dict[str, FeatureValue]]], npt.NDArray[np.float64]],
    member: str = MODEL_MEMBER,
) -> None:
    """Raise ArtifactBehaviourError unless `predict_rows` reproduces the recorded probabilities.

    The rows are first checked as a request would be, so rows that do not fit the model's own
    schema are an ArtifactFormatError rather than an error from deep inside the predictor; a
    predictor that fails on them is an ArtifactFormatError too, named by its `member`.
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
    try:
        actual = np.asarray(predict_rows(rows), dtype=np.float64)
        difference = float(np.max(np.abs(actual - np.asarray(reference.probabilities))))
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, ArithmeticError) as exc:
        reason = f"{member} fails on the reference rows ({type(exc).__name__}: {exc})"
        raise ArtifactFormatError(reason) from exc
    if not difference <= reference.tolerance:  # also catches NaN
        raise ArtifactBehaviourError(max_difference=difference, tolerance=reference.tolerance)


def _parse_metadata(raw: bytes) -> ArtifactMetadata:
    try:
        document = json.loads(raw)
    except RecursionError as exc:
        raise ArtifactFormatError(_too_deep()) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactFormatError(f"{METADATA_MEMBER} is not JSON ({exc})") from exc
    if _nesting_depth(document) > MAX_METADATA_DEPTH:
        raise ArtifactFormatError(_too_deep())
    if not isinstance(document, dict) or document.get("format") != ARTIFACT_FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise ArtifactFormatError(f"format is {found!r}, expected {ARTIFACT_FORMAT!r}")
    try:
        return ArtifactMetadata.model_validate(document)
    except ValidationError as exc:
        raise ArtifactFormatError(f"{METADATA_MEMBER} is malformed: {exc}") from exc


def _nesting_depth(document: object) -> int:
    """How many levels of arrays and objects a parsed JSON document has (without recursion)."""
    depth = 0
    level = [document] if isinstance(document, dict | list) else []
    while level:
        depth += 1
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    return depth


def _too_deep() -> str:
    return f"{METADATA_MEMBER} is nested more than {MAX_METADATA_DEPTH} levels deep"


def check_compatible(metadata: ArtifactMetadata) -> None:
    """Refuse an artifact trained with a scikit-learn version other than the installed one."""
    trained_with = metadata.libraries.get("scikit-learn", "unknown")
    installed = package_metadata.version("scikit-learn")
    if trained_with != installed:
        raise IncompatibleArtifactError("scikit-learn", trained_with, installed)
