"""The traffic summary used by the demo and the integration tests."""

from __future__ import annotations

from loanapp.dev.traffic import Reply, summarize


def test_summary_orders_versions_by_majority_per_window() -> None:
    replies = [Reply(at=0.1 * i, status=200, version="a") for i in range(10)]
    # Around a swap the workers disagree for a moment: a, b, a, b ... then only b.
    replies += [Reply(at=1.0 + 0.05 * i, status=200, version="ab"[i % 2]) for i in range(4)]
    replies += [Reply(at=1.5 + 0.1 * i, status=200, version="b") for i in range(10)]
    replies += [Reply(at=2.6, status=503, version=None)]
    summary = summarize(replies)
    assert summary.versions_in_order == ["a", "b"]
    assert summary.sent == 25
    assert summary.failed == 1
