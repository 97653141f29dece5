"""What the dashboard's pages show, worked out from the catalog's records (no Flask here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from loanapp.errors import InvalidInputError, quoted
from loanapp.store.registry import AliasRecord

SHORT_VERSION_CHARS: Final = 12
SORT_KEYS: Final = (
    "published_at",
    "published_by",
    "model_type",
    "cv_roc_auc",
    "holdout_roc_auc",
    "threshold",
    "version",
)
"""Columns the versions table sorts by (the summary fields of GET /v1/models/{name}/versions)."""
DEFAULT_SORT: Final = "published_at"


def short_version(version: str | None) -> str:
    """The leading hex digits people read and type, as git shows commits."""
    return version[:SHORT_VERSION_CHARS] if version else "none"


def moment(value: str | datetime | None) -> str:
    """A time as people read it on the page: to the second, in UTC, saying so."""
    if value is None:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    """A worker's time to take a version, in ms below a second (a small model swaps that fast)."""
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def resolve_sort(key: str | None, order: str | None) -> tuple[str, bool]:
    """(column, descending) the versions table asked for; InvalidInputError on unknown ones.

    By default newest first; a column asked without an order sorts ascending.
    """
    key = key or DEFAULT_SORT
    if key not in SORT_KEYS:
        raise InvalidInputError(f"sort must be one of {', '.join(SORT_KEYS)}, got {quoted(key)}")
    if order not in (None, "asc", "desc"):
        raise InvalidInputError(f"order must be asc or desc, got {quoted(order)}")
    return key, order == "desc" if order else key == DEFAULT_SORT


def sort_versions(
    summaries: list[dict[str, Any]], key: str = DEFAULT_SORT, descending: bool = True
) -> list[dict[str, Any]]:
    """Version summaries sorted by one of SORT_KEYS."""
    return sorted(summaries, key=lambda summary: summary[key], reverse=descending)


def aliases_of(summaries: list[dict[str, Any]]) -> dict[str, str]:
    """Alias name -> version, from the summaries' alias lists."""
    return {alias: s["version"] for s in summaries for alias in s["aliases"]}


def timeline(record: AliasRecord) -> list[dict[str, Any]]:
    """The alias's changes, newest first, as the page words them.

    `forced` and `reason` show when the records carry them (a promotion gate writes them), and
    are absent, not an error, in records written before it.
    """
    entries = []
    for change in reversed(record.history):
        fields = change.model_dump(mode="json")
        forced = bool(fields.get("forced"))
        entries.append(
            {
                "revision": change.revision,
                "what": f"forced {change.action}" if forced else change.action,
                "forced": forced,
                "reason": fields.get("reason"),
                "at": fields["at"],
                "by": change.by,
                "previous": change.previous,
                "version": change.version,
            }
        )
    return entries
