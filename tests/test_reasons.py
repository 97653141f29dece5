"""Reason codes: the features that raised the risk most, largest first, never an excluded one."""

from __future__ import annotations

from typing import Any

import pytest

from loanapp.reasons import MAX_REASONS, NEVER_NAMED, principal_reasons

FEATURES = ["int_rate", "addr_state", "term", "revol_util", "annual_inc", "verification_status"]
ROW: dict[str, list[Any]] = {
    "int_rate": [13.99],
    "addr_state": ["CT"],
    "term": ["term_60"],
    "revol_util": [67.4],
    "annual_inc": [35000.0],
    "verification_status": ["Not_Verified"],
}


def named(contributions: list[float]) -> list[str]:
    """The features principal_reasons names for ROW with these contributions."""
    return [reason["feature"] for reason in principal_reasons(FEATURES, contributions, ROW, 0)]


def test_reasons_are_the_positive_contributions_largest_first() -> None:
    reasons = principal_reasons(FEATURES, [0.2, 0.0, 0.5, -0.3, 0.1, 0.0], ROW, 0)
    assert reasons == [
        {"feature": "term", "value": "term_60", "contribution": 0.5},
        {"feature": "int_rate", "value": 13.99, "contribution": 0.2},
        {"feature": "annual_inc", "value": 35000.0, "contribution": 0.1},
    ]


@pytest.mark.parametrize(
    ("contributions", "expected"),
    [
        ([0.2, 0.9, 0.5, 0.3, 0.1, 0.8], ["term", "revol_util", "int_rate", "annual_inc"]),
        ([0.1, 0.9, 0.1, 0.1, 0.1, 0.8], ["int_rate", "term", "revol_util", "annual_inc"]),
        ([-0.1, 0.9, -0.2, -0.3, -0.4, 0.8], []),
        ([0.0] * 6, []),
    ],
    ids=["at-most-four", "ties-keep-the-feature-order", "only-excluded-ones-raise", "none-raise"],
)
def test_excluded_features_are_never_named_even_when_largest(
    contributions: list[float], expected: list[str]
) -> None:
    assert named(contributions) == expected
    assert len(expected) <= MAX_REASONS


def test_state_and_income_verification_are_never_named_and_say_why() -> None:
    assert set(NEVER_NAMED) == {"addr_state", "verification_status"}
    assert all(len(why) > 40 for why in NEVER_NAMED.values())
    with pytest.raises(TypeError):
        NEVER_NAMED["emp_length"] = "not changeable at run time"  # type: ignore[index]


def test_a_row_other_than_the_first_reports_its_own_values() -> None:
    columns = {name: [*values, values[0]] for name, values in ROW.items()}
    columns["int_rate"][1] = 7.5
    reasons = principal_reasons(FEATURES, [1.0, 0, 0, 0, 0, 0], columns, 1)
    assert reasons == [{"feature": "int_rate", "value": 7.5, "contribution": 1.0}]
