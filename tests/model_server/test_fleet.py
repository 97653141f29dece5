"""The fleet view's memory: bounded, forgetting, and what it says of each worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loanapp.model_server.fleet import Fleet, describe_fleet
from loanapp.store.registry import AliasChange, AliasRecord
from loanapp.worker_identity import WorkerReport

START = datetime(2026, 1, 1, tzinfo=UTC)
OLD, NEW = "a" * 64, "b" * 64


class Clock:
    """A wall clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def alias_moved_to_new_at(moment: datetime) -> AliasRecord:
    history = (
        AliasChange(revision=1, action="promote", version=OLD, previous=None, at=START, by="t"),
        AliasChange(revision=2, action="promote", version=NEW, previous=OLD, at=moment, by="t"),
    )
    return AliasRecord(name="loan", alias="production", version=NEW, history=history)


def test_the_fleet_keeps_the_last_report_of_each_worker() -> None:
    fleet = Fleet(clock=Clock())
    fleet.observe("loan", WorkerReport("b", 2, OLD))
    fleet.observe("loan", WorkerReport("a", 1, OLD))
    fleet.observe("loan", WorkerReport("a", 1, NEW))
    assert [(e.report.worker, e.report.version) for e in fleet.entries()] == [
        ("a/1", NEW),
        ("b/2", OLD),
    ]


def test_past_the_cap_the_worker_seen_longest_ago_makes_room() -> None:
    clock = Clock()
    fleet = Fleet(max_workers=2, clock=clock)
    for pid in (1, 2):
        fleet.observe("loan", WorkerReport("h", pid))
        clock.now += timedelta(seconds=1)
    fleet.observe("loan", WorkerReport("h", 1))  # seen again: now the most recent
    fleet.observe("loan", WorkerReport("h", 3))
    assert [e.report.worker for e in fleet.entries()] == ["h/1", "h/3"]


def test_a_worker_not_seen_for_a_while_is_forgotten() -> None:
    clock = Clock()
    fleet = Fleet(forget_after_seconds=60, clock=clock)
    fleet.observe("loan", WorkerReport("h", 1))
    clock.now += timedelta(seconds=30)
    fleet.observe("loan", WorkerReport("h", 2))
    clock.now += timedelta(seconds=40)  # h/1 last seen 70 s ago, h/2 40 s ago
    assert [e.report.worker for e in fleet.entries()] == ["h/2"]
    clock.now += timedelta(seconds=21)
    assert fleet.entries() == []


def test_each_worker_is_described_against_the_alias() -> None:
    clock = Clock()
    moved = START + timedelta(seconds=100)
    fleet = Fleet(clock=clock)
    clock.now = moved
    fleet.observe("loan", WorkerReport("h", 1, NEW, moved + timedelta(seconds=2.5), "trees"))
    fleet.observe("loan", WorkerReport("h", 2, OLD, START, "trees"))
    fleet.observe("loan", WorkerReport("h", 3, OLD, START, "trees", last_error="refused"))
    fleet.observe("loan", WorkerReport("h", 4))
    fleet.observe("other", WorkerReport("h", 5, OLD, START))
    clock.now = moved + timedelta(seconds=10)
    described = describe_fleet(fleet.entries(), {"loan": alias_moved_to_new_at(moved)}, clock.now)
    assert [(w["worker"], w["status"], w["took_seconds"]) for w in described] == [
        ("h/1", "current", 2.5),
        ("h/2", "behind", None),
        ("h/3", "update failing", None),
        ("h/4", "no model", None),
        ("h/5", "serving", None),  # its model's alias is unknown here
    ]
    assert described[0]["seconds_since_seen"] == 10.0
