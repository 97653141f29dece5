"""The targets checked against a run (PASS/FAIL), and the ratios shown beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.results import API, DEFAULT_MODEL, FLOOR, MODELS, SEED, HttpRun, Report

MIN_SHARE_OF_FLOOR = 0.60
MAX_P50_OVER_FLOOR = 1.5
MIN_BATCH_ROWS_PER_SECOND = 50_000
MAX_RSS_MB = 150.0


@dataclass(frozen=True)
class Finding:
    """A ratio, or a target with its verdict (`passed` is None for a plain ratio)."""

    name: str
    value: float
    detail: str
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        """PASS, FAIL, or an empty string for a ratio."""
        if self.passed is None:
            return ""
        return "PASS" if self.passed else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: a plain ratio has the verdict None."""
        return {
            "name": self.name,
            "value": self.value,
            "detail": self.detail,
            "verdict": self.verdict or None,
        }


def ratios(report: Report) -> list[Finding]:
    """API / seed baseline and API / framework floor, per model; batch rows/s."""
    found = []
    floor1, floor16 = report.predict_runs(FLOOR, None)
    for model in MODELS:
        api1, api16 = report.predict_runs(API, model)
        seed1, seed16 = report.predict_runs(SEED, model)
        found += [
            _ratio(f"{model}: API / seed baseline, req/s at c16", api16, seed16, "rps"),
            _ratio(f"{model}: API / seed baseline, p50 at c1", api1, seed1, "p50"),
            _ratio(f"{model}: API / framework floor, req/s at c16", api16, floor16, "rps"),
            _ratio(f"{model}: API / framework floor, p50 at c1", api1, floor1, "p50"),
        ]
        for concurrency in ("c1", "c16"):
            batch = report.find(API, model, "/predict/batch", concurrency)
            found.append(
                Finding(
                    f"{model}: /predict/batch ({batch.rows} rows) rows/s at {concurrency}",
                    batch.rows_per_second,
                    f"{batch.requests_per_second:,.1f} req/s",
                )
            )
    return found


def _ratio(name: str, top: HttpRun, bottom: HttpRun, what: str) -> Finding:
    if what == "rps":
        a, b, unit = top.requests_per_second, bottom.requests_per_second, "req/s"
    else:
        a, b, unit = top.p50_ms, bottom.p50_ms, "ms"
    value = a / b if b else float("inf")
    return Finding(name, value, f"{a:,.2f} {unit} / {b:,.2f} {unit}")


def checks(report: Report) -> list[Finding]:
    """The targets, each PASS or FAIL."""
    floor1, floor16 = report.predict_runs(FLOOR, None)
    found = []
    for model in MODELS:
        api1, api16 = report.predict_runs(API, model)
        batch16 = report.find(API, model, "/predict/batch", "c16")
        share = api16.requests_per_second / floor16.requests_per_second
        found.append(
            Finding(
                f"/predict req/s at c16 >= {MIN_SHARE_OF_FLOOR:.0%} of the framework floor "
                f"({model})",
                share,
                f"{share:.1%}: {api16.requests_per_second:,.0f} vs "
                f"{floor16.requests_per_second:,.0f} req/s",
                share >= MIN_SHARE_OF_FLOOR,
            )
        )
        times = api1.p50_ms / floor1.p50_ms
        found.append(
            Finding(
                f"/predict p50 at c1 <= {MAX_P50_OVER_FLOOR}x the framework floor ({model})",
                times,
                f"{times:.2f}x: {api1.p50_ms:.3f} vs {floor1.p50_ms:.3f} ms",
                times <= MAX_P50_OVER_FLOOR,
            )
        )
        found.append(
            Finding(
                f"/predict/batch 100 rows >= {MIN_BATCH_ROWS_PER_SECOND:,} rows/s at c16 ({model})",
                batch16.rows_per_second,
                f"{batch16.rows_per_second:,.0f} rows/s",
                batch16.rows_per_second >= MIN_BATCH_ROWS_PER_SECOND,
            )
        )
        found.append(
            Finding(
                f"no collapse at 16 clients: /predict req/s at c16 >= at c1 ({model})",
                api16.requests_per_second / api1.requests_per_second,
                f"{api16.requests_per_second:,.0f} vs {api1.requests_per_second:,.0f} req/s",
                api16.requests_per_second >= api1.requests_per_second,
            )
        )
    found += [_errors_check(report), _rss_check(report)]
    return found


def _errors_check(report: Report) -> Finding:
    measured = [run for run in report.runs if run.target in (API, FLOOR)]
    failing = [f"{run.name}: {run.errors}" for run in measured if run.errors]
    total = sum(run.errors for run in measured)
    return Finding(
        "zero errors in every predict API and framework floor run",
        total,
        "; ".join(failing) or f"0 errors in {len(measured)} runs",
        total == 0,
    )


def _rss_check(report: Report) -> Finding:
    measured = [run for run in report.runs if run.target == API and run.model == DEFAULT_MODEL]
    largest = max((run.max_rss_mb for run in measured), default=0.0)
    return Finding(
        f"RSS per predict API worker with the default model ({DEFAULT_MODEL}) <= {MAX_RSS_MB:.0f}"
        " MiB",
        largest,
        f"largest worker {largest:.1f} MiB",
        0 < largest <= MAX_RSS_MB,
    )


def verdict_lines(found_checks: Sequence[Finding]) -> list[str]:
    """`PASS  name: detail` per target."""
    return [f"{f.verdict}  {f.name}: {f.detail}" for f in found_checks]
