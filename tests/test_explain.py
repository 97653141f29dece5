"""Explanations: exact, additive in log-odds on every shipped row, TreeSHAP as the shap library."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone

from loanapp import treeshap
from loanapp.artifacts import load_model, read_compiled
from loanapp.compiled import CompiledModel, LinearScorer, NodeCovers, TreeScorer
from loanapp.explain import (
    PREDATES_EXPLANATIONS,
    Explainer,
    LinearExplainer,
    TreeExplainer,
    load_explainer,
)
from loanapp.reasons import NEVER_NAMED, principal_reasons, principal_reasons_of_rows
from loanapp.training.compile import compile_pipeline
from loanapp.training.data import load_dataset
from loanapp.training.pipelines import UNUSED_FEATURES
from loanapp.training.train import TrainingResult
from tests.factories import larger_trees, small_dataset, without_explanation_data

ALL_ROWS = load_dataset().features
COLUMNS = {name: ALL_ROWS[name].tolist() for name in ALL_ROWS.columns}
FEATURES = list(ALL_ROWS.columns)
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Explained:
    """A trained artifact's scikit-learn pipeline, compiled form and explainer."""

    pipeline: Any
    compiled: CompiledModel
    explainer: Explainer


def explained(result: TrainingResult) -> Explained:
    """The explainer the predict API would serve for `result`."""
    model = load_model(result.artifact, result.version)
    compiled = read_compiled(result.artifact, model.metadata)
    assert compiled is not None
    explainer = load_explainer(compiled, FEATURES, model.metadata.reference.rows)
    assert not isinstance(explainer, str), explainer
    return Explained(model.estimator, compiled, explainer)


@pytest.fixture(scope="module")
def logreg_explained(logreg: TrainingResult) -> Explained:
    """The small logistic regression, explained."""
    return explained(logreg)


@pytest.fixture(scope="module")
def gbm_explained(gbm: TrainingResult) -> Explained:
    """The small gradient-boosted trees, explained."""
    return explained(gbm)


@pytest.fixture(params=["logreg", "gbm"])
def both(request: pytest.FixtureRequest) -> Explained:
    """Each kind of model, explained."""
    result: Explained = request.getfixturevalue(f"{request.param}_explained")
    return result


def shap_library() -> Any:
    """The shap library, imported only by the tests that compare with it (it loads numba)."""
    with warnings.catch_warnings():
        # matplotlib, which shap's plots import when installed, announces its own deprecation.
        warnings.filterwarnings(
            "ignore", "The set_(bad|over|under) function", PendingDeprecationWarning
        )
        import shap
    return shap


def per_feature(pipeline: Any, design_values: np.ndarray) -> np.ndarray:
    """Values per design column of a fitted pipeline summed into its input features (FEATURES
    order), the columns mapped by scikit-learn's own ColumnTransformer."""
    transformer = pipeline.steps[0][1]
    columns: list[str] = []
    for name, step, features in transformer.transformers_:
        if name == "remainder" or not len(features):
            continue
        if hasattr(step, "categories_"):
            for feature, categories in zip(features, step.categories_, strict=True):
                columns += [feature] * len(categories)
        else:
            columns += list(features)
    membership = np.array([[column == feature for feature in FEATURES] for column in columns])
    return np.asarray(design_values @ membership)


def test_contributions_add_up_to_the_log_odds_of_every_shipped_row(both: Explained) -> None:
    log_odds = both.pipeline.decision_function(ALL_ROWS)  # scikit-learn's logit of p(bad)
    p_bad = both.pipeline.predict_proba(ALL_ROWS)[:, 1]
    np.testing.assert_allclose(log_odds, np.log(p_bad / (1 - p_bad)), rtol=0, atol=1e-9)
    together = both.explainer.contributions(COLUMNS, len(ALL_ROWS))
    assert together.shape == (len(ALL_ROWS), len(FEATURES))
    error = np.abs(both.explainer.base_value + together.sum(axis=1) - log_odds)
    assert error.max() <= TOLERANCE


def test_one_row_at_a_time_gives_the_same_contributions(both: Explained) -> None:
    together = both.explainer.contributions(COLUMNS, len(ALL_ROWS))
    alone = np.concatenate(
        [
            both.explainer.contributions({name: [COLUMNS[name][row]] for name in FEATURES}, 1)
            for row in range(len(ALL_ROWS))
        ]
    )
    np.testing.assert_allclose(alone, together, rtol=0, atol=1e-12)


@pytest.mark.parametrize("rows", [1, 2, 300])
def test_reusing_what_scoring_computed_gives_the_same_contributions(
    both: Explained, rows: int
) -> None:
    columns = {name: values[:rows] for name, values in COLUMNS.items()}
    scored = both.compiled.score(columns, rows)
    np.testing.assert_array_equal(scored.probabilities, both.compiled.predict_proba(columns, rows))
    np.testing.assert_allclose(
        both.explainer.contributions(columns, rows, scored),
        both.explainer.contributions(columns, rows),
        rtol=0,
        atol=1e-12,
    )


def test_tree_shap_equals_the_shap_library_on_every_shipped_row(
    gbm_explained: Explained,
) -> None:
    shap = shap_library()
    trees = gbm_explained
    classifier = trees.pipeline.steps[1][1]
    design = trees.pipeline.steps[0][1].transform(ALL_ROWS)
    reference = shap.TreeExplainer(classifier, feature_perturbation="tree_path_dependent")
    expected = per_feature(trees.pipeline, reference.shap_values(design))
    actual = trees.explainer.contributions(COLUMNS, len(ALL_ROWS))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)
    expected_value = float(np.ravel(reference.expected_value)[0])
    assert trees.explainer.base_value == pytest.approx(expected_value, abs=1e-9)


def test_trees_too_large_for_tables_are_explained_per_request(
    gbm_explained: Explained, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = gbm_explained
    monkeypatch.setattr(treeshap, "MAX_TABLE_BYTES", 0)
    slow = TreeExplainer(fast.compiled, FEATURES)
    assert isinstance(fast.explainer, TreeExplainer)
    assert fast.explainer.shap.tables is not None
    assert slow.shap.tables is None
    columns = {name: values[:500] for name, values in COLUMNS.items()}
    np.testing.assert_allclose(
        slow.contributions(columns, 500),
        fast.explainer.contributions(columns, 500),
        rtol=0,
        atol=1e-12,
    )


def test_larger_deeper_trees_equal_the_shap_library(gbm: TrainingResult) -> None:
    shap = shap_library()
    pipeline, compiled = larger_trees(gbm)
    assert isinstance(compiled.scorer, TreeScorer)
    assert compiled.scorer.width > 20  # far too many patterns for tables
    explainer = TreeExplainer(compiled, FEATURES)
    assert explainer.shap.tables is None
    rows = ALL_ROWS.head(200)
    reference = shap.TreeExplainer(pipeline.steps[1][1], feature_perturbation="tree_path_dependent")
    expected = per_feature(pipeline, reference.shap_values(pipeline.steps[0][1].transform(rows)))
    columns = {name: values[:200] for name, values in COLUMNS.items()}
    actual = explainer.contributions(columns, 200)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)
    log_odds = pipeline.decision_function(rows)
    assert np.abs(explainer.base_value + actual.sum(axis=1) - log_odds).max() <= TOLERANCE


def test_linear_contributions_are_measured_against_the_training_mean(
    logreg: TrainingResult,
) -> None:
    data = small_dataset()
    pipeline = clone(load_model(logreg.artifact, logreg.version).estimator)
    pipeline.fit(data.features, data.target)
    compiled = compile_pipeline(pipeline, data.features)
    assert compiled is not None
    explainer = LinearExplainer(compiled, FEATURES)
    columns = {name: data.features[name].tolist() for name in FEATURES}
    contributions = explainer.contributions(columns, len(data.features))
    # The average training applicant has no contribution at all: base_value is their score.
    np.testing.assert_allclose(contributions.mean(axis=0), 0.0, atol=1e-12)
    classifier = pipeline.steps[1][1]
    design = pipeline.steps[0][1].transform(data.features)
    average = np.asarray(design.mean(axis=0)).ravel() @ classifier.coef_[0]
    assert explainer.base_value == pytest.approx(average + classifier.intercept_[0], abs=1e-12)


@pytest.mark.parametrize("result_name", ["logreg", "gbm"])
def test_a_compiled_form_written_before_explanations_predicts_the_same_and_explains_nothing(
    result_name: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    metadata = load_model(result.artifact, result.version).metadata
    current = read_compiled(result.artifact, metadata)
    before = read_compiled(without_explanation_data(result.artifact), metadata)
    assert current is not None
    assert before is not None
    scorer = before.scorer
    assert (scorer.design_mean if isinstance(scorer, LinearScorer) else scorer.covers) is None
    columns = {name: values[:200] for name, values in COLUMNS.items()}
    np.testing.assert_array_equal(
        before.predict_proba(columns, 200), current.predict_proba(columns, 200)
    )
    assert load_explainer(before, FEATURES, metadata.reference.rows) == PREDATES_EXPLANATIONS


def with_covers(compiled: CompiledModel, **changes: np.ndarray) -> CompiledModel:
    """The compiled trees with some node-cover arrays replaced."""
    scorer = compiled.scorer
    assert isinstance(scorer, TreeScorer)
    assert scorer.covers is not None
    covers = vars(scorer.covers) | changes
    trees = TreeScorer(
        feature=scorer.feature,
        threshold=scorer.threshold,
        missing_left=scorer.missing_left,
        right_mask=scorer.right_mask,
        tree_starts=scorer.tree_starts,
        leaf_values=scorer.leaf_values,
        baseline=scorer.baseline,
        covers=NodeCovers(**covers),
    )
    return CompiledModel(compiled.encoder, trees, compiled.kind)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda covers: {"left": np.zeros_like(covers.left)},
            "its compiled form's explanation data is unusable (node 0 has covers 0.0 and",
        ),
        (
            lambda covers: {"subtree_mask": covers.subtree_mask >> np.uint64(1)},
            "its explanations do not add up to its log-odds on the reference rows (off by ",
        ),
    ],
    ids=["a-cover-of-zero", "subtrees-that-miss-their-leaves"],
)
def test_damaged_node_covers_explain_nothing(
    gbm: TrainingResult, gbm_explained: Explained, change: Any, reason: str
) -> None:
    trees = gbm_explained
    scorer = trees.compiled.scorer
    assert isinstance(scorer, TreeScorer)
    damaged = with_covers(trees.compiled, **change(scorer.covers))
    metadata = load_model(gbm.artifact, gbm.version).metadata
    answer = load_explainer(damaged, FEATURES, metadata.reference.rows)
    assert isinstance(answer, str)
    assert answer.startswith(reason)


def test_features_outside_the_schema_explain_nothing(logreg_explained: Explained) -> None:
    answer = load_explainer(logreg_explained.compiled, FEATURES[1:], [])
    assert answer == f"its compiled form uses features outside its schema: {[FEATURES[0]]}"


def test_reasons_of_every_shipped_row_never_name_an_excluded_feature(both: Explained) -> None:
    contributions = both.explainer.contributions(COLUMNS, len(ALL_ROWS))
    unused = [FEATURES.index(name) for name in UNUSED_FEATURES]
    assert set(NEVER_NAMED) <= set(UNUSED_FEATURES)
    assert not contributions[:, unused].any()  # the models do not use them at all
    together = principal_reasons_of_rows(FEATURES, contributions, COLUMNS, range(len(ALL_ROWS)))
    named = {reason["feature"] for reasons in together for reason in reasons}
    assert not named & set(NEVER_NAMED)
    assert len(named) > 4
    one_by_one = [
        principal_reasons(FEATURES, row.tolist(), COLUMNS, index)
        for index, row in enumerate(contributions)
    ]
    assert together == one_by_one
