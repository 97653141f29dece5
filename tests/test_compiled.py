"""Compiled predictors: the same probabilities as scikit-learn, without scikit-learn at serving."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from loanapp.artifacts import build_artifact, compute_version, load_model, read_compiled
from loanapp.compiled import (
    COMPILED_MEMBER,
    PATTERN_TABLE_WIDTH,
    CompiledModel,
    LinearScorer,
    TreeScorer,
)
from loanapp.errors import ArtifactFormatError
from loanapp.predict_api.serving_model import load_serving_model
from loanapp.schema import InputSchema
from loanapp.store.registry import ModelRegistry
from loanapp.training.compile import compile_pipeline
from loanapp.training.data import load_dataset
from loanapp.training.pipelines import build_pipeline
from loanapp.training.train import TrainingResult
from tests.factories import (
    larger_trees,
    npy_bytes,
    small_dataset,
    with_compiled_arrays,
    zip_members,
)

ALL_ROWS = load_dataset().features


@pytest.mark.parametrize(("result_name", "kind"), [("logreg", "linear"), ("gbm", "trees")])
def test_compiled_equals_scikit_learn_on_every_row(
    result_name: str, kind: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    model = load_model(result.artifact, result.version)
    compiled = read_compiled(result.artifact, model.metadata)
    assert compiled is not None
    assert compiled.kind == kind
    columns = {name: ALL_ROWS[name].tolist() for name in ALL_ROWS.columns}
    expected = model.estimator.predict_proba(ALL_ROWS)
    actual = compiled.predict_proba(columns, len(ALL_ROWS))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)


def test_round_trip_through_bytes(gbm: TrainingResult) -> None:
    compiled = compile_pipeline(load_model(gbm.artifact, gbm.version).estimator)
    assert compiled is not None
    again = CompiledModel.from_bytes(compiled.to_bytes())
    columns = {name: ALL_ROWS[name].head(50).tolist() for name in ALL_ROWS.columns}
    np.testing.assert_array_equal(
        again.predict_proba(columns, 50), compiled.predict_proba(columns, 50)
    )


@pytest.mark.parametrize("result_name", ["logreg", "gbm"])
def test_round_trip_keeps_what_explanations_need(
    result_name: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    compiled = read_compiled(result.artifact, load_model(result.artifact, result.version).metadata)
    assert compiled is not None
    again = CompiledModel.from_bytes(compiled.to_bytes())
    if isinstance(compiled.scorer, LinearScorer):
        assert isinstance(again.scorer, LinearScorer)
        assert compiled.scorer.design_mean is not None
        assert again.scorer.design_mean is not None
        np.testing.assert_array_equal(again.scorer.design_mean, compiled.scorer.design_mean)
    else:
        assert isinstance(compiled.scorer, TreeScorer)
        assert isinstance(again.scorer, TreeScorer)
        assert compiled.scorer.covers is not None
        assert again.scorer.covers is not None
        for name in ("left", "right", "subtree_mask"):
            expected = getattr(compiled.scorer.covers, name)
            np.testing.assert_array_equal(getattr(again.scorer.covers, name), expected)


def test_the_trees_carry_their_training_counts(gbm: TrainingResult) -> None:
    model = load_model(gbm.artifact, gbm.version)
    compiled = read_compiled(gbm.artifact, model.metadata)
    assert compiled is not None
    assert isinstance(compiled.scorer, TreeScorer)
    assert compiled.scorer.covers is not None
    first = model.estimator.steps[1][1]._predictors[0][0].nodes
    root = compiled.scorer.covers
    assert (root.left[0], root.right[0]) == (
        first["count"][first["left"][0]],
        first["count"][first["right"][0]],
    )
    leaves = int(first["is_leaf"].sum())
    assert int(root.subtree_mask[0]) == 2**leaves - 1  # every leaf lies under the root


def test_a_linear_form_stores_the_mean_of_its_training_design() -> None:
    rows = small_dataset().features
    target = small_dataset().target
    schema = InputSchema.from_frame(rows)
    pipeline = build_pipeline("logreg", schema, seed=0).fit(rows, target)
    compiled = compile_pipeline(pipeline, rows)
    assert compiled is not None
    assert isinstance(compiled.scorer, LinearScorer)
    assert compiled.scorer.design_mean is not None
    design = pipeline.steps[0][1].transform(rows)
    design = np.asarray(design.todense() if hasattr(design, "todense") else design)
    np.testing.assert_allclose(compiled.scorer.design_mean, design.mean(axis=0), atol=1e-12)
    without_rows = compile_pipeline(pipeline)
    assert without_rows is not None
    assert isinstance(without_rows.scorer, LinearScorer)
    assert without_rows.scorer.design_mean is None


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"design_mean": np.zeros(2)}, "design_mean is not one value per coefficient"),
        (
            {"left_cover": np.zeros(2)},
            "the node arrays left_cover, right_cover, subtree_mask are not one value per node",
        ),
    ],
)
def test_explanation_data_that_does_not_fit_is_malformed(
    logreg: TrainingResult, gbm: TrainingResult, arrays: dict[str, np.ndarray], message: str
) -> None:
    result = logreg if "design_mean" in arrays else gbm
    replaced = {name: npy_bytes(array) for name, array in arrays.items()}
    damaged = zip_members(with_compiled_arrays(result.artifact, **replaced))[COMPILED_MEMBER]
    with pytest.raises(ArtifactFormatError, match=message):
        CompiledModel.from_bytes(damaged)


def test_unsupported_pipelines_have_no_compiled_form(logreg: TrainingResult) -> None:
    pipeline = load_model(logreg.artifact, logreg.version).estimator
    tree = Pipeline([pipeline.steps[0], ("classifier", DecisionTreeClassifier())])
    assert compile_pipeline(tree) is None
    assert compile_pipeline(pipeline.steps[1][1]) is None


def test_malformed_compiled_member_is_a_format_error() -> None:
    with pytest.raises(ArtifactFormatError, match=r"compiled\.npz is malformed"):
        CompiledModel.from_bytes(b"not an npz")


@pytest.mark.parametrize(("result_name", "kind"), [("logreg", "linear"), ("gbm", "trees")])
def test_the_api_serves_the_compiled_form(
    result_name: str, kind: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    serving = load_serving_model(result.artifact, result.version, "test")
    assert serving.predictor_kind == f"compiled {kind}"


def test_a_compiled_form_that_drifted_falls_back_to_scikit_learn(
    logreg: TrainingResult, registry: ModelRegistry
) -> None:
    model = load_model(logreg.artifact, logreg.version)
    compiled = read_compiled(logreg.artifact, model.metadata)
    assert compiled is not None
    assert isinstance(compiled.scorer, LinearScorer)
    shifted = dataclasses.replace(
        compiled, scorer=LinearScorer(compiled.scorer.coef, compiled.scorer.intercept + 0.5)
    )
    artifact = build_artifact(model.estimator, model.metadata, shifted)
    serving = load_serving_model(artifact, compute_version(artifact), "test")
    assert serving.predictor_kind == "scikit-learn"
    # The API serves it (by scikit-learn), so the publish gate, which runs the same load, takes it.
    assert registry.publish(artifact, actor="test").version == compute_version(artifact)
    rows = list(model.metadata.reference.rows)
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    np.testing.assert_allclose(
        serving.predict_proba(columns, len(rows)), model.metadata.reference.probabilities
    )


def test_an_artifact_without_compiled_form_is_served_by_scikit_learn(
    logreg: TrainingResult,
) -> None:
    model = load_model(logreg.artifact, logreg.version)
    metadata = model.metadata.model_copy(update={"compiled": None})
    artifact = build_artifact(model.estimator, metadata)
    serving = load_serving_model(artifact, compute_version(artifact), "test")
    assert serving.predictor_kind == "scikit-learn"


def test_serving_a_compiled_model_imports_no_scikit_learn(
    logreg: TrainingResult, tmp_path: Path
) -> None:
    path = tmp_path / "m.bin"
    path.write_bytes(logreg.artifact)
    script = (
        "import sys\n"
        "from loanapp.predict_api.app import create_app\n"
        "from loanapp.predict_api.serving_model import load_serving_model\n"
        f"data = open({str(path)!r}, 'rb').read()\n"
        f"serving = load_serving_model(data, {logreg.version!r}, 'test')\n"
        "print(serving.predictor_kind)\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'pandas', 'skops') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.splitlines() == ["compiled linear", "[]"]


@pytest.mark.integration  # a process that loads scikit-learn
def test_a_scikit_learn_fallback_runs_with_capped_math_threads(
    logreg: TrainingResult, tmp_path: Path
) -> None:
    model = load_model(logreg.artifact, logreg.version)
    artifact = build_artifact(model.estimator, model.metadata.model_copy(update={"compiled": None}))
    path = tmp_path / "m.bin"
    path.write_bytes(artifact)
    script = (
        "from threadpoolctl import threadpool_info\n"
        "from loanapp.predict_api.app import limit_math_threads\n"
        "from loanapp.predict_api.serving_model import load_serving_model\n"
        "limit_math_threads(1)\n"
        f"data = open({str(path)!r}, 'rb').read()\n"
        f"print(load_serving_model(data, {compute_version(artifact)!r}, 'test').predictor_kind)\n"
        "print(sorted({(p['internal_api'], p['num_threads']) for p in threadpool_info()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    kind, pools = result.stdout.splitlines()
    assert kind == "scikit-learn"
    assert "('openmp', 1)" in pools  # loaded by scikit-learn after the cap, capped all the same
    assert ", 2)" not in pools


@pytest.mark.parametrize("result_name", ["logreg", "gbm"])
def test_one_row_at_a_time_equals_scikit_learn(
    result_name: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    model = load_model(result.artifact, result.version)
    compiled = read_compiled(result.artifact, model.metadata)
    assert compiled is not None
    sample = ALL_ROWS.sample(200, random_state=0)
    expected = model.estimator.predict_proba(sample)
    for index, (_, row) in enumerate(sample.iterrows()):
        columns = {name: [row[name]] for name in sample.columns}
        np.testing.assert_allclose(
            compiled.predict_proba(columns, 1)[0], expected[index], rtol=0, atol=1e-12
        )


def test_trees_too_large_for_pattern_tables_equal_scikit_learn(gbm: TrainingResult) -> None:
    pipeline, compiled = larger_trees(gbm)
    assert isinstance(compiled.scorer, TreeScorer)
    assert compiled.scorer.width > PATTERN_TABLE_WIDTH  # its exit leaves come from the masks
    sample = ALL_ROWS.head(300)
    expected = pipeline.predict_proba(sample)
    columns = {name: sample[name].tolist() for name in sample.columns}
    np.testing.assert_allclose(
        compiled.predict_proba(columns, len(sample)), expected, rtol=0, atol=1e-12
    )
    first = {name: values[:1] for name, values in columns.items()}
    np.testing.assert_allclose(compiled.predict_proba(first, 1), expected[:1], rtol=0, atol=1e-12)
