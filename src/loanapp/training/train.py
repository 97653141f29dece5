"""The train entry: fit, evaluate, choose the threshold and package the result as an artifact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from loanapp.artifacts import (
    ArtifactMetadata,
    DecisionRule,
    FoldPlan,
    FoldScores,
    Metrics,
    ReferenceRows,
    TargetInfo,
    TrainingData,
    build_artifact,
    compute_version,
    library_versions,
)
from loanapp.compiled import CompiledModel
from loanapp.monitoring.profile import TrainingProfile, build_profile
from loanapp.schema import FeatureValue, InputSchema
from loanapp.training.compile import compile_pipeline
from loanapp.training.data import CLASSES, POSITIVE_CLASS, TARGET_COLUMN, Dataset
from loanapp.training.evaluation import (
    CrossValidation,
    bootstrap_roc_auc_interval,
    choose_threshold,
    confusion_matrix_at,
    cross_validate,
    score,
)
from loanapp.training.money import RULE_FEATURE, Costs, best_cutoff, money_figures
from loanapp.training.options import TrainingOptions
from loanapp.training.pipelines import fit_pipeline

REFERENCE_ROWS = 8
# A reloaded model with the same library versions reproduces its probabilities bit for bit;
# the tolerance only absorbs float formatting in the JSON metadata.
REFERENCE_TOLERANCE = 1e-9
OUT_OF_FOLD = "out-of-fold predictions of the training part, averaged over the repeats"
THRESHOLD_RULE = (
    "least expected cost on out-of-fold training predictions: "
    "cost_of_default x missed defaults + cost_of_rejected_good x rejected good loans"
)


@dataclass(frozen=True)
class TrainingResult:
    """A trained model as artifact bytes, with its version id and metadata."""

    artifact: bytes
    version: str
    metadata: ArtifactMetadata


def split_holdout(
    dataset: Dataset, holdout_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Training part and holdout (features, then targets), stratified; the same for the same
    data, fraction and seed, so a report can rebuild a model's holdout."""
    train_x, holdout_x, train_y, holdout_y = train_test_split(
        dataset.features,
        dataset.target,
        test_size=holdout_fraction,
        stratify=dataset.target,
        random_state=seed,
    )
    return train_x, holdout_x, train_y, holdout_y


def train_model(
    dataset: Dataset,
    options: TrainingOptions,
    progress: Callable[[str], None] = lambda _message: None,
) -> TrainingResult:
    """Cross-validate, pick the threshold, fit on the training part, evaluate on the holdout."""
    schema = InputSchema.from_frame(dataset.features)
    train_x, holdout_x, train_y, holdout_y = split_holdout(
        dataset, options.holdout_fraction, options.seed
    )

    def fit(rows: pd.DataFrame, target: npt.NDArray[np.int64]) -> Pipeline:
        return fit_pipeline(options.model_type, schema, options.seed, rows, target)

    progress(
        f"cross-validating {options.model_type}: {options.folds} folds x {options.repeats} "
        f"repeats on {len(train_y)} rows"
    )
    cross_validation = cross_validate(
        fit,
        train_x,
        train_y,
        folds=options.folds,
        repeats=options.repeats,
        seed=options.seed,
        progress=progress,
    )
    threshold = _threshold(train_y, cross_validation, options)

    progress(f"fitting on {len(train_y)} rows, evaluating on {len(holdout_y)} held-out rows")
    model = fit(train_x, train_y)
    holdout_probability = model.predict_proba(holdout_x)[:, 1]
    metrics = Metrics(
        cross_validation=cross_validation.summary,
        holdout=score(holdout_y, holdout_probability),
        holdout_confusion_matrix=confusion_matrix_at(holdout_y, holdout_probability, threshold),
        train_rows=len(train_y),
        holdout_rows=len(holdout_y),
        cross_validation_folds=f"{options.folds} x {options.repeats} repeated stratified",
        holdout_roc_auc_interval=bootstrap_roc_auc_interval(
            holdout_y, holdout_probability, options.seed
        ),
        **_paired_figures(
            dataset,
            options,
            threshold,
            cross_validation,
            (train_x, train_y),
            (holdout_x, holdout_y, holdout_probability),
        ),
    )
    compiled = _compile_checked(model, train_x, holdout_x, progress)
    metadata = _describe(model, schema, dataset, options, threshold, metrics, compiled, holdout_x)
    metadata = metadata.model_copy(
        update={"training_profile": _profile(dataset, cross_validation, threshold)}
    )
    artifact = build_artifact(model, metadata, compiled)
    return TrainingResult(artifact=artifact, version=compute_version(artifact), metadata=metadata)


def _threshold(
    train_y: npt.NDArray[np.int64], cross_validation: CrossValidation, options: TrainingOptions
) -> float:
    """The cost-based threshold, chosen on the out-of-fold scores of every repeat."""
    return choose_threshold(
        np.tile(train_y, options.repeats),
        cross_validation.out_of_fold.ravel(),
        cost_of_default=options.cost_of_default,
        cost_of_rejected_good=options.cost_of_rejected_good,
    )


def _profile(
    dataset: Dataset, cross_validation: CrossValidation, threshold: float
) -> TrainingProfile:
    """What live rows are compared with: every row of the data, and out-of-fold scores (a fitted
    model's scores of its own training rows are more confident than any live row's)."""
    return build_profile(dataset.features, cross_validation.out_of_fold.ravel(), threshold)


def _paired_figures(
    dataset: Dataset,
    options: TrainingOptions,
    threshold: float,
    cross_validation: CrossValidation,
    train: tuple[pd.DataFrame, npt.NDArray[np.int64]],
    holdout: tuple[pd.DataFrame, npt.NDArray[np.int64], npt.NDArray[np.float64]],
) -> dict[str, Any]:
    """The fold scores the promotion gate pairs, and the money on out-of-fold and holdout
    predictions (no money without an int_rate column to build the reference rule from)."""
    train_x, train_y = train
    holdout_x, holdout_y, holdout_probability = holdout
    costs = Costs(options.cost_of_default, options.cost_of_rejected_good)
    out_of_fold = cross_validation.out_of_fold
    fold_costs = [
        float(
            costs.per_applicant(
                train_y[rows], out_of_fold[i // options.folds, rows] >= threshold
            ).mean()
        )
        for i, rows in enumerate(cross_validation.test_rows)
    ]
    plan = FoldPlan(
        data_sha256=dataset.sha256,
        data_rows=len(dataset.target),
        holdout_fraction=options.holdout_fraction,
        seed=options.seed,
        folds=options.folds,
        repeats=options.repeats,
        train_rows=len(train_y),
    )
    folds = FoldScores(
        plan=plan,
        roc_auc=tuple(s["roc_auc"] for s in cross_validation.fold_scores),
        cost_per_applicant=tuple(fold_costs),
    )
    if RULE_FEATURE not in train_x:
        return {"folds": folds}
    rule_train = train_x[RULE_FEATURE].to_numpy(dtype=np.float64)
    cutoff = best_cutoff(rule_train, train_y, costs)
    # Each applicant's model cost averaged over the repeats: one figure per applicant to resample.
    model_cost = np.mean(
        [costs.per_applicant(train_y, row >= threshold) for row in out_of_fold], axis=0
    )
    holdout_cost = costs.per_applicant(holdout_y, holdout_probability >= threshold)
    return {
        "folds": folds,
        "money": money_figures(
            train_y, model_cost, rule_train, cutoff, costs, basis=OUT_OF_FOLD, seed=options.seed
        ),
        "holdout_money": money_figures(
            holdout_y,
            holdout_cost,
            holdout_x[RULE_FEATURE].to_numpy(dtype=np.float64),
            cutoff,
            costs,
            basis="holdout",
            seed=options.seed,
        ),
    }


def _describe(
    model: Pipeline,
    schema: InputSchema,
    dataset: Dataset,
    options: TrainingOptions,
    threshold: float,
    metrics: Metrics,
    compiled: CompiledModel | None,
    holdout_x: pd.DataFrame,
) -> ArtifactMetadata:
    """The metadata stored with a fitted model, reference rows from the holdout included."""
    return ArtifactMetadata(
        name=options.name,
        model_type=options.model_type,
        created_at=datetime.now(UTC),
        input_schema=schema,
        target=TargetInfo(name=TARGET_COLUMN, classes=CLASSES, positive_class=POSITIVE_CLASS),
        decision=DecisionRule(
            threshold=threshold,
            rule=THRESHOLD_RULE,
            cost_of_default=options.cost_of_default,
            cost_of_rejected_good=options.cost_of_rejected_good,
        ),
        metrics=metrics,
        training_data=TrainingData(
            source=dataset.source, sha256=dataset.sha256, rows=len(dataset.target)
        ),
        training_options=asdict(options),
        libraries=library_versions(),
        compiled=compiled.kind if compiled else None,
        reference=_reference_rows(model, schema, holdout_x),
    )


def _reference_rows(model: Pipeline, schema: InputSchema, frame: pd.DataFrame) -> ReferenceRows:
    """The first rows of `frame` and the probabilities the fitted model gives them."""
    rows = cast(list[dict[str, FeatureValue]], frame.head(REFERENCE_ROWS).to_dict("records"))
    probabilities = np.asarray(model.predict_proba(schema.to_frame(rows)))
    return ReferenceRows(
        rows=tuple(rows),
        probabilities=tuple((float(p[0]), float(p[1])) for p in probabilities),
        tolerance=REFERENCE_TOLERANCE,
    )


def _compile_checked(
    model: Pipeline,
    train_x: pd.DataFrame,
    frame: pd.DataFrame,
    progress: Callable[[str], None],
) -> CompiledModel | None:
    """The compiled form of `model` (fitted on `train_x`) if it matches scikit-learn on every row
    of `frame`."""
    compiled = compile_pipeline(model, train_x)
    if compiled is None:
        progress("this pipeline has no compiled form; the API will use scikit-learn")
        return None
    columns = {name: frame[name].tolist() for name in frame.columns}
    difference = np.max(
        np.abs(compiled.predict_proba(columns, len(frame)) - model.predict_proba(frame))
    )
    if not difference <= REFERENCE_TOLERANCE:
        progress(f"compiled form differs from scikit-learn by {difference:.3g}; not included")
        return None
    progress(f"compiled form ({compiled.kind}) matches scikit-learn within {difference:.1g}")
    return compiled
