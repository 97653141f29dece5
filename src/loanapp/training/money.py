"""What a model is worth in money: expected cost per applicant, against two trivial rules.

Costs are in units of the loan amount. Approving an applicant who defaults costs
`cost_of_default`; declining one who would have repaid costs `cost_of_rejected_good` (the lost
margin). The model is compared with approving everyone and with the best `int_rate`-only rule
(decline from one interest rate up), each figure with a 95 % percentile-bootstrap interval over
applicants, the three rules resampled together so that the savings are paired.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loanapp.artifacts import Estimate, MoneyFigures

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BOOTSTRAP_SAMPLES = 1000
RULE_FEATURE = "int_rate"


@dataclass(frozen=True)
class Costs:
    """The lender's two costs, per loan unit."""

    of_default: float
    of_rejected_good: float

    def per_applicant(self, target: IntArray, declined: npt.NDArray[np.bool_]) -> FloatArray:
        """Each applicant's cost under a decision: a missed default or a declined good loan."""
        return np.where(
            declined,
            np.where(target == 0, self.of_rejected_good, 0.0),
            np.where(target == 1, self.of_default, 0.0),
        )


def best_cutoff(values: FloatArray, target: IntArray, costs: Costs) -> float:
    """The cutoff on `values` (decline when value >= cutoff) with the least total cost; infinity
    (decline nobody) when no cutoff beats approving everyone."""
    candidates = np.unique(values)
    declined = values[None, :] >= candidates[:, None]
    total = costs.per_applicant(np.broadcast_to(target, declined.shape), declined).sum(axis=1)
    approve_everyone = costs.of_default * float(target.sum())
    best = int(np.argmin(total))
    return float(candidates[best]) if total[best] < approve_everyone else float("inf")


def money_figures(
    target: IntArray,
    model_cost: FloatArray,
    rule_values: FloatArray,
    rule_cutoff: float,
    costs: Costs,
    *,
    basis: str,
    seed: int,
) -> MoneyFigures:
    """Cost per applicant of the model (`model_cost`, one figure per applicant), of approving
    everyone and of the `int_rate` rule at `rule_cutoff`, with paired bootstrap intervals."""
    approve_everyone = costs.per_applicant(target, np.zeros(len(target), dtype=bool))
    rule = costs.per_applicant(target, rule_values >= rule_cutoff)
    columns = np.column_stack([model_cost, approve_everyone, rule])
    generator = np.random.default_rng(seed)
    means = np.array(
        [
            columns[generator.integers(0, len(target), len(target))].mean(axis=0)
            for _ in range(BOOTSTRAP_SAMPLES)
        ]
    )
    point = columns.mean(axis=0)

    def estimate(value: float, samples: FloatArray) -> Estimate:
        low, high = np.percentile(samples, [2.5, 97.5])
        return Estimate(value=float(value), low=float(low), high=float(high))

    return MoneyFigures(
        basis=basis,
        applicants=len(target),
        int_rate_cutoff=rule_cutoff,
        model=estimate(point[0], means[:, 0]),
        approve_everyone=estimate(point[1], means[:, 1]),
        int_rate_rule=estimate(point[2], means[:, 2]),
        saving_vs_approve_everyone=estimate(point[1] - point[0], means[:, 1] - means[:, 0]),
        saving_vs_int_rate_rule=estimate(point[2] - point[0], means[:, 2] - means[:, 0]),
    )
