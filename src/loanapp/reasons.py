"""Reason codes: the principal reasons given with a decline, and the features never named.

US adverse-action notices (Equal Credit Opportunity Act, Regulation B) must state the principal
reasons for a decline. The reasons here are the features that raised this applicant's risk most,
by their contribution in log-odds (loanapp.explain), never one of `NEVER_NAMED`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

MAX_REASONS: Final = 4
"""Most reasons given with one decline (Regulation B: more than four is not helpful)."""

NEVER_NAMED: Final[Mapping[str, str]] = MappingProxyType(
    {
        "addr_state": (
            "state of residence: geography stands in for race and national origin (redlining), "
            "which fair-lending law forbids as a basis for credit, and an applicant cannot act "
            "on it"
        ),
        "verification_status": (
            "whether the lender verified the stated income: a step of the lender's own process, "
            "not a fact about the applicant's credit, so no reason an applicant could act on"
        ),
    }
)
"""Features that are not a lawful or meaningful reason to give, with why. Their contributions
still count in the score and appear in full explanations; they are only never named as reasons."""


def principal_reasons(
    features: Sequence[str],
    contributions: Sequence[float],
    columns: Mapping[str, Sequence[Any]],
    row: int,
) -> list[dict[str, Any]]:
    """Up to MAX_REASONS features that raised row `row`'s risk most, largest first.

    Only positive contributions count, and no feature of NEVER_NAMED; ties keep the features'
    order. Each reason names the feature, the applicant's value and the contribution in log-odds.
    """
    raising = [
        (contribution, feature)
        for feature, contribution in zip(features, contributions, strict=True)
        if contribution > 0 and feature not in NEVER_NAMED
    ]
    raising.sort(key=itemgetter(0), reverse=True)  # stable: ties keep the features' order
    return [
        {"feature": feature, "value": columns[feature][row], "contribution": contribution}
        for contribution, feature in raising[:MAX_REASONS]
    ]


def principal_reasons_of_rows(
    features: Sequence[str],
    contributions: npt.NDArray[np.float64],
    columns: Mapping[str, Sequence[Any]],
    rows: Sequence[int],
) -> list[list[dict[str, Any]]]:
    """`principal_reasons` of many rows at once: `contributions` has one line per row of `rows`.

    The same reasons in the same order, ranked by numpy: a batch then costs a few array calls and
    the reasons' dictionaries, instead of a Python loop over every feature of every row.
    """
    nameable = np.array([feature not in NEVER_NAMED for feature in features])
    ranked = np.where(nameable & (contributions > 0), contributions, 0.0)
    order = np.argsort(-ranked, axis=1, kind="stable")[:, :MAX_REASONS]  # stable: ties in order
    largest = np.take_along_axis(ranked, order, axis=1)
    return [
        [
            {"feature": features[at], "value": columns[features[at]][row], "contribution": value}
            for at, value in zip(positions, values, strict=True)
            if value > 0
        ]
        for row, positions, values in zip(rows, order.tolist(), largest.tolist(), strict=True)
    ]
