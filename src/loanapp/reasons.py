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

    Only positive contributions count, and no feature of NEVER_NAMED. Each reason names the
    feature, the applicant's value and the contribution in log-odds.
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
