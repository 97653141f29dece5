"""The scikit-learn pipelines loanapp can train; preprocessing lives inside, so raw rows go in.

Both kinds of model follow credit sense: no input in `UNUSED_FEATURES` is used, and a feature of
`RISK_DIRECTION` can only move the risk its way (`fit_pipeline`). The choices were made by paired
5 x 5 repeated stratified cross-validation on the shipped data (README, "Model improvement").
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from loanapp.schema import InputSchema
from loanapp.training.options import ModelType

UNUSED_FEATURES: Final = MappingProxyType(
    {
        "addr_state": "geography stands in for race and national origin (redlining)",
        "verification_status": "a step of the lender's own process, not a fact about credit",
        "sub_grade": "the lender's grade, which int_rate carries (correlation 0.999)",
    }
)
"""Inputs the models never use, with why. Requests still carry them (the schema is the data's)."""

RISK_DIRECTION: Final = MappingProxyType(
    {
        "int_rate": 1,
        "delinq_2yrs": 1,
        "acc_now_delinq": 1,
        "delinq_amnt": 1,
        "inq_last_6mths": 1,
        "inq_last_12m": 1,
        "inq_fi": 1,
        "revol_util": 1,
        "all_util": 1,
        "annual_inc": -1,
    }
)
"""Numeric features whose growth can only raise (+1) or only lower (-1) the risk: more
delinquencies, inquiries, utilisation and a higher rate never lower it; more income never raises
it. Other inputs (loan size, instalment accounts, employment length) have no agreed direction."""


def build_pipeline(
    model_type: ModelType,
    schema: InputSchema,
    seed: int,
    features: Sequence[str] | None = None,
) -> Pipeline:
    """An unfitted pipeline for `features` (the schema's, less UNUSED_FEATURES, by default).

    - ``logreg``: one-hot categories, standardised numbers, L2-regularised logistic regression
      (C=0.05, chosen by 5-fold CV ROC-AUC on the training part).
    - ``gbm``: one-hot categories and raw numbers (no scaling: trees do not need it), into a
      histogram gradient-boosting classifier with shallow, slow-learning, regularised trees, since
      the defaults overfit these 8,000 imbalanced rows; monotone in RISK_DIRECTION's features.
    - ``baseline``: the prior-only model, which gives every applicant the training base rate.

    The encoders are given the schema's categories, so an unseen category is encoded as all zeros
    (the same as any rare category) instead of failing.
    """
    used = set(features) if features is not None else set(schema.names) - set(UNUSED_FEATURES)
    numeric = [f.name for f in schema.features if f.kind != "category" and f.name in used]
    categorical = [f for f in schema.features if f.kind == "category" and f.name in used]
    category_names = [f.name for f in categorical]
    category_values = [list(f.categories or ()) for f in categorical]
    if model_type == "baseline":
        # No input at all: DummyClassifier ignores the rows and answers the training base rate.
        return Pipeline([("classifier", DummyClassifier(strategy="prior"))])
    if model_type == "logreg":
        return _logistic_regression(numeric, category_names, category_values)
    return _gradient_boosting(numeric, category_names, category_values, seed)


def _logistic_regression(
    numeric: list[str], category_names: list[str], category_values: list[list[str]]
) -> Pipeline:
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            (
                "category",
                OneHotEncoder(categories=category_values, handle_unknown="ignore"),
                category_names,
            ),
        ]
    )
    return Pipeline(
        [("preprocess", preprocess), ("classifier", LogisticRegression(C=0.05, max_iter=5000))]
    )


def _gradient_boosting(
    numeric: list[str], category_names: list[str], category_values: list[list[str]], seed: int
) -> Pipeline:
    preprocess = ColumnTransformer(
        [
            (
                "category",
                OneHotEncoder(
                    categories=category_values,
                    handle_unknown="ignore",
                    sparse_output=False,
                    dtype=np.float32,
                ),
                category_names,
            ),
            ("numeric", "passthrough", numeric),
        ]
    )
    width = sum(len(values) for values in category_values)
    classifier = HistGradientBoostingClassifier(
        learning_rate=0.03,
        max_iter=300,
        max_leaf_nodes=8,
        min_samples_leaf=50,
        l2_regularization=1.0,
        monotonic_cst=[0] * width + [RISK_DIRECTION.get(name, 0) for name in numeric],
        random_state=seed,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def fit_pipeline(
    model_type: ModelType,
    schema: InputSchema,
    seed: int,
    rows: pd.DataFrame,
    target: npt.NDArray[np.int64],
) -> Pipeline:
    """The fitted pipeline of `model_type`, every RISK_DIRECTION feature it uses moving the risk
    its way.

    Trees are fitted under monotone constraints. A logistic regression is fitted, then, while a
    coefficient has the wrong sign (correlated inputs share one effect and can take opposite
    signs), the most wrong feature is dropped and the rest refitted: what a fit with its
    coefficients bounded at zero reaches when the bound is active, with plain scikit-learn parts.
    """
    features = [name for name in schema.names if name not in UNUSED_FEATURES]
    while True:
        pipeline = build_pipeline(model_type, schema, seed, features).fit(rows, target)
        wrong = wrong_signs(pipeline) if model_type == "logreg" else {}
        if not wrong:
            return pipeline
        features.remove(max(wrong, key=wrong.__getitem__))


def wrong_signs(pipeline: Pipeline) -> dict[str, float]:
    """A fitted logistic regression's RISK_DIRECTION features whose coefficient (on the
    standardised value) has the wrong sign, with its size."""
    _name, _scaler, numeric = pipeline.steps[0][1].transformers_[0]
    coefficients = pipeline.steps[1][1].coef_[0][: len(numeric)]
    return {
        name: abs(float(coefficient))
        for name, coefficient in zip(numeric, coefficients, strict=True)
        if RISK_DIRECTION.get(name, 0) * coefficient < 0
    }
