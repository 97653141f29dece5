"""Publish-and-promote as one registry operation, and the version summary every listing shows."""

from __future__ import annotations

import pytest

from loanapp.errors import InvalidInputError
from loanapp.store.registry import ModelRegistry, summarize_version
from loanapp.training.train import TrainingResult


def test_publish_with_an_alias_points_it_at_the_new_version(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes
) -> None:
    registry.publish(logreg.artifact, actor="alice", alias="production")
    record = registry.publish(second_logreg, actor="bob", alias="production")
    alias = registry.get_alias("loan", "production")
    assert alias.version == record.version
    assert [(c.action, c.by, c.previous) for c in alias.history] == [
        ("promote", "alice", None),
        ("promote", "bob", logreg.version),
    ]


def test_a_bad_alias_publishes_nothing(registry: ModelRegistry, logreg: TrainingResult) -> None:
    with pytest.raises(InvalidInputError, match="invalid alias 'Bad Alias'"):
        registry.publish(logreg.artifact, actor="alice", alias="Bad Alias")
    assert registry.list_versions("loan") == []
    assert registry.store.list("blobs/") == []


def test_summaries_name_each_versions_aliases(
    registry: ModelRegistry, logreg: TrainingResult, second_logreg: bytes
) -> None:
    first = registry.publish(logreg.artifact, actor="alice", alias="production")
    second = registry.publish(second_logreg, actor="bob", alias="staging")
    registry.promote("loan", second.version, actor="bob", alias="canary")
    summaries = registry.version_summaries("loan")
    assert [(s["version"], s["aliases"]) for s in summaries] == [
        (first.version, ["production"]),
        (second.version, ["canary", "staging"]),
    ]
    metrics = logreg.metadata.metrics
    assert summaries[0] == summarize_version(first, ["production"])
    assert summaries[0]["cv_roc_auc"] == metrics.cross_validation["roc_auc"].mean
    assert summaries[0]["holdout_roc_auc"] == metrics.holdout["roc_auc"]
    assert summaries[0]["threshold"] == logreg.metadata.decision.threshold
    assert summaries[0]["published_by"] == "alice"
    assert summaries[0]["size"] == len(logreg.artifact)
