"""What can be trained, and with which options (no scikit-learn here: the CLI shows them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from loanapp.defaults import DEFAULT_MODEL_NAME

ModelType = Literal["logreg", "gbm", "baseline"]
BASELINE_MODEL_TYPE: ModelType = "baseline"
"""The prior-only model: every applicant gets the training base rate. The reference row of every
comparison, and a model the promotion gate refuses."""
TRAINABLE_MODEL_TYPES: tuple[ModelType, ...] = get_args(ModelType)
MODEL_TYPES: tuple[ModelType, ...] = tuple(
    kind for kind in TRAINABLE_MODEL_TYPES if kind != BASELINE_MODEL_TYPE
)
"""The models that learn from the applicants' features (the ones the demo and bench serve)."""
DEFAULT_MODEL_TYPE: ModelType = "logreg"

DEFAULT_SEED = 42
DEFAULT_FOLDS = 5
DEFAULT_REPEATS = 5
# Where training is a means (the demo, the benchmark, a fresh store's first model), one round of
# folds: 5x5 CV of the trees takes minutes on two cores, and those runs choose no model.
QUICK_REPEATS = 1
DEFAULT_HOLDOUT_FRACTION = 0.2
# Costs in units of the loan amount: most of a defaulted loan is lost, while rejecting a good
# applicant forfeits only the interest margin the loan would have earned.
DEFAULT_COST_OF_DEFAULT = 0.6
DEFAULT_COST_OF_REJECTED_GOOD = 0.1


@dataclass(frozen=True)
class TrainingOptions:
    """What to train and how; the same options and data always give the same model and metrics."""

    model_type: ModelType = DEFAULT_MODEL_TYPE
    name: str = DEFAULT_MODEL_NAME
    seed: int = DEFAULT_SEED
    folds: int = DEFAULT_FOLDS
    repeats: int = DEFAULT_REPEATS
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION
    cost_of_default: float = DEFAULT_COST_OF_DEFAULT
    cost_of_rejected_good: float = DEFAULT_COST_OF_REJECTED_GOOD
