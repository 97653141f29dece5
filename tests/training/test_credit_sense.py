"""The models follow credit sense on the shipped data: no excluded input, every directed feature
moving the risk its way."""

from __future__ import annotations

import numpy as np
import pytest

from loanapp.artifacts import load_model
from loanapp.schema import InputSchema
from loanapp.training.data import load_dataset
from loanapp.training.pipelines import (
    RISK_DIRECTION,
    UNUSED_FEATURES,
    build_pipeline,
    fit_pipeline,
    wrong_signs,
)
from loanapp.training.train import TrainingResult

DATA = load_dataset()
SCHEMA = InputSchema.from_frame(DATA.features)


def used_features(pipeline: object) -> set[str]:
    """The inputs a fitted pipeline's column transformer feeds its classifier."""
    transformer = pipeline.steps[0][1]  # type: ignore[attr-defined]
    return {
        name
        for step_name, _step, names in transformer.transformers_
        if step_name != "remainder"
        for name in names
    }


def test_the_logistic_regression_on_the_shipped_data_has_credit_sense_signs() -> None:
    pipeline = fit_pipeline("logreg", SCHEMA, 42, DATA.features, DATA.target)
    used = used_features(pipeline)
    assert not used & set(UNUSED_FEATURES)
    assert wrong_signs(pipeline) == {}
    _name, _scaler, numeric = pipeline.steps[0][1].transformers_[0]
    coefficients = dict(zip(numeric, pipeline.steps[1][1].coef_[0], strict=False))
    directed = [name for name in numeric if name in RISK_DIRECTION]
    assert "int_rate" in directed  # the strongest risk factor is kept
    for name in directed:
        assert coefficients[name] * RISK_DIRECTION[name] > 0, name
    # Without the sign rule, correlated inputs take signs a credit officer would reject.
    plain = build_pipeline("logreg", SCHEMA, 42).fit(DATA.features, DATA.target)
    assert wrong_signs(plain)


@pytest.mark.parametrize("result_name", ["logreg", "gbm"])
def test_raising_a_directed_feature_never_moves_the_risk_the_wrong_way(
    result_name: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    pipeline = load_model(result.artifact, result.version).estimator
    assert not used_features(pipeline) & set(UNUSED_FEATURES)
    rows = DATA.features.sample(300, random_state=0).reset_index(drop=True)
    base = pipeline.predict_proba(rows)[:, 1]
    for name, direction in RISK_DIRECTION.items():
        if name not in used_features(pipeline):
            continue
        step = float(DATA.features[name].std())
        moved = pipeline.predict_proba(rows.assign(**{name: rows[name] + step}))[:, 1]
        assert np.all((moved - base) * direction >= -1e-12), name
