"""The promotion gate in the registry: refusals, forced promotions in the history, rollback."""

from __future__ import annotations

from typing import Any

import pytest

from loanapp.errors import MissingReasonError, PromotionRefusedError
from loanapp.store.registry import AliasChange, ModelRegistry
from loanapp.training.train import TrainingResult
from tests.factories import rebuild


def test_the_first_promotion_of_an_alias_is_not_gated(
    registry: ModelRegistry, baseline: TrainingResult
) -> None:
    record = registry.publish(baseline.artifact, actor="alice", alias="production")
    assert registry.get_alias("loan").version == record.version
    assert registry.get_alias("loan").history[-1].forced is False


def test_the_baseline_is_refused_with_both_figures(
    registry: ModelRegistry, logreg: TrainingResult, baseline: TrainingResult
) -> None:
    registry.publish(logreg.artifact, actor="alice", alias="production")
    registry.publish(baseline.artifact, actor="alice")
    with pytest.raises(PromotionRefusedError) as refused:
        registry.promote("loan", baseline.version, actor="bob")
    auc = logreg.metadata.metrics.cross_validation["roc_auc"].mean
    message = refused.value.message
    assert message.startswith(
        f"promotion refused: candidate {baseline.version[:12]} has CV ROC-AUC 0.5000 and "
        f"production {logreg.version[:12]} has {auc:.4f}, and ΔAUC {0.5 - auc:+.4f} (95 % CI "
    )
    assert "below -0.005; use force with a reason to promote anyway" in message
    gate: Any = refused.value.to_dict()["gate"]
    assert gate["candidate"] == baseline.version
    assert gate["current"] == logreg.version
    assert gate["delta_auc"] == pytest.approx(0.5 - auc)
    assert gate["delta_auc_ci"][0] < -0.005 < gate["delta_auc_ci"][1]
    assert (gate["threshold"], gate["why"]) == (-0.005, "worse")
    assert refused.value.status_code == 409
    assert registry.get_alias("loan").version == logreg.version  # nothing moved
    assert len(registry.get_alias("loan").history) == 1


def test_a_forced_promotion_is_recorded_with_who_and_why(
    registry: ModelRegistry, logreg: TrainingResult, baseline: TrainingResult
) -> None:
    registry.publish(logreg.artifact, actor="alice", alias="production")
    registry.publish(baseline.artifact, actor="alice")
    for reason in (None, "", "   "):
        with pytest.raises(MissingReasonError, match="a forced promotion needs a reason"):
            registry.promote("loan", baseline.version, actor="bob", force=True, reason=reason)
    record = registry.promote(
        "loan", baseline.version, actor="bob", force=True, reason=" incident 42: back to prior "
    )
    change = record.history[-1]
    assert (change.version, change.by, change.forced) == (baseline.version, "bob", True)
    assert change.reason == "incident 42: back to prior"
    assert registry.get_alias("loan").history[-1] == change  # stored, not only returned


def test_rollback_is_never_gated(
    registry: ModelRegistry, logreg: TrainingResult, baseline: TrainingResult, second_logreg: bytes
) -> None:
    registry.publish(baseline.artifact, actor="alice", alias="production")
    registry.publish(logreg.artifact, actor="alice")
    registry.promote("loan", logreg.version, actor="alice", force=True, reason="better model")
    record = registry.rollback("loan", actor="bob")  # back to the baseline, which the gate refuses
    assert record.version == baseline.version
    assert (record.history[-1].action, record.history[-1].forced) == ("rollback", False)


def test_an_equivalent_version_passes_and_a_reason_without_force_is_kept(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes
) -> None:
    registry.publish(logreg.artifact, actor="alice", alias="production")
    second = registry.publish(second_logreg, actor="alice").version
    record = registry.promote("loan", second, actor="bob", reason="same model, new metadata")
    assert record.version == second
    assert record.history[-1].forced is False
    assert record.history[-1].reason == "same model, new metadata"


def test_a_version_without_fold_scores_is_not_comparable(
    registry: ModelRegistry, logreg: TrainingResult
) -> None:
    metrics = logreg.metadata.metrics.model_copy(update={"folds": None})
    older = rebuild(logreg.artifact, model_type="older", metrics=metrics.model_dump())
    registry.publish(logreg.artifact, actor="alice", alias="production")
    version = registry.publish(older, actor="alice").version
    with pytest.raises(PromotionRefusedError) as refused:
        registry.promote("loan", version, actor="bob")
    assert refused.value.gate["why"] == "not_comparable"
    assert refused.value.gate["delta_auc"] is None
    assert refused.value.gate["delta_auc_ci"] is None
    assert "cannot be compared on the same folds: the candidate records no per-fold scores" in (
        refused.value.message
    )


def test_histories_written_before_the_gate_still_parse() -> None:
    change = AliasChange.model_validate(
        {
            "revision": 1,
            "action": "promote",
            "version": "a" * 64,
            "previous": None,
            "at": "2026-01-01T00:00:00Z",
            "by": "alice",
        }
    )
    assert (change.forced, change.reason) == (False, None)
