"""Metrics of the model server: held long-polls, store errors, writes, the version of each alias."""

from __future__ import annotations

from typing import Final, Literal

from prometheus_client import Counter, Gauge

LONG_POLLS_HELD: Final = Gauge(
    "loanapp_long_polls_held",
    "Long-polls on the current version held open now (live workers summed).",
    multiprocess_mode="livesum",
)
STORE_ERRORS: Final = Counter(
    "loanapp_store_errors",
    "Polls of the model store that failed (the server answered from memory meanwhile).",
)
PUBLISHES: Final = Counter(
    "loanapp_publishes",
    "Versions published through this server, by model.",
    ["model"],
)
ALIAS_CHANGES: Final = Counter(
    "loanapp_alias_changes",
    "Alias changes made through this server, by model, alias and action (promote, rollback).",
    ["model", "alias", "action"],
)
ALIAS_INFO: Final = Gauge(
    "loanapp_alias_info",
    "1 for the version a live worker names as an alias's current one, 0 for earlier ones.",
    ["model", "alias", "version"],
    multiprocess_mode="livemax",
)


def record_alias_version(model: str, alias: str, version: str, previous: str | None) -> None:
    """This worker now names `version` as the current one of `alias` (and `previous` no more)."""
    if previous is not None and previous != version:
        ALIAS_INFO.labels(model, alias, previous).set(0)
    ALIAS_INFO.labels(model, alias, version).set(1)


def record_alias_change(model: str, alias: str, action: Literal["promote", "rollback"]) -> None:
    """Count one alias change this server made."""
    ALIAS_CHANGES.labels(model, alias, action).inc()
