"""The targets checked against a run (PASS/FAIL), and the ratios shown beside them."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.inprocess import REASONS_STEP, Timing
from bench.results import (
    API,
    DEFAULT_MODEL,
    EXPLAIN,
    FLOOR,
    GUNICORN_FLOOR,
    MODELS,
    QUIET_API,
    SEED,
    V2_INFER,
    HttpRun,
    Report,
)
from loanapp.dev.slow_clients import GoodClientRun

# The bar of the move to granian, per model: /predict req/s at c16 over the gunicorn floor's,
# p50 at c1 over the gunicorn floor's, and batch rows/s (logreg only).
MIN_OVER_GUNICORN_FLOOR = {"logreg": 1.5, "gbm": 1.3}
MAX_P50_OVER_GUNICORN_FLOOR = {"logreg": 1.0, "gbm": 1.2}
MIN_BATCH_ROWS_PER_SECOND = {"logreg": 250_000}
MIN_SHARE_OF_FLOOR = 0.70
# The same share with the metrics, request lines and prediction log on (the defaults), per model.
MIN_SHARE_OF_FLOOR_RECORDING = {"logreg": 0.80, "gbm": 0.65}
MAX_RSS_MB = 150.0
# A good client's p99 while 64 slow-header and 64 idle connections are held.
MAX_P99_BESIDE_SLOW_CLIENTS_MS = 100.0
MAX_REASONS_US_PER_ROW = 20.0


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
    """API over the seed baseline and over both floors, per model; c64 over c16; batch rows/s."""
    found = []
    gunicorn1, gunicorn16 = report.predict_runs(GUNICORN_FLOOR, None)
    floor1, floor16 = report.predict_runs(FLOOR, None)
    found.append(_ratio("framework floor: granian / gunicorn, req/s at c16", floor16, gunicorn16))
    for model in MODELS:
        api1, api16 = report.predict_runs(API, model)
        seed1, seed16 = report.predict_runs(SEED, model)
        found += [
            _ratio(f"{model}: API / seed baseline, req/s at c16", api16, seed16),
            _ratio(f"{model}: API / seed baseline, p50 at c1", api1, seed1, "p50"),
            _ratio(f"{model}: API / gunicorn floor, req/s at c16", api16, gunicorn16),
            _ratio(f"{model}: API / gunicorn floor, p50 at c1", api1, gunicorn1, "p50"),
            _ratio(f"{model}: API / granian floor, req/s at c16", api16, floor16),
            _ratio(f"{model}: API / granian floor, p50 at c1", api1, floor1, "p50"),
        ]
        api64 = report.predict_run_c64(API, model)
        if api64 is not None:
            found.append(_ratio(f"{model}: API req/s at c64 / at c16", api64, api16))
        with contextlib.suppress(KeyError):  # runs from before the explain endpoint was measured
            explain1 = report.find(API, model, EXPLAIN, "c1")
            explain16 = report.find(API, model, EXPLAIN, "c16")
            found += [
                _ratio(f"{model}: {EXPLAIN} / /predict, req/s at c16", explain16, api16),
                _ratio(f"{model}: {EXPLAIN} / /predict, p50 at c1", explain1, api1, "p50"),
            ]
        with contextlib.suppress(KeyError):  # runs from before logs off was measured
            quiet1, quiet16 = report.predict_runs(QUIET_API, model)
            found += [
                _ratio(f"{model}: logs off / on, req/s at c16", quiet16, api16),
                _ratio(f"{model}: logs off / granian floor, req/s at c16", quiet16, floor16),
                _ratio(f"{model}: logs off / on, p50 at c1", quiet1, api1, "p50"),
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


def _ratio(name: str, top: HttpRun, bottom: HttpRun, what: str = "rps") -> Finding:
    if what == "rps":
        a, b, unit = top.requests_per_second, bottom.requests_per_second, "req/s"
    else:
        a, b, unit = top.p50_ms, bottom.p50_ms, "ms"
    value = a / b if b else float("inf")
    return Finding(name, value, f"{a:,.2f} {unit} / {b:,.2f} {unit}")


def checks(report: Report) -> list[Finding]:
    """The targets, each PASS or FAIL."""
    found = []
    for model in MODELS:
        found += _throughput_checks(report, model)
        found += _latency_checks(report, model)
        if model in MIN_BATCH_ROWS_PER_SECOND:
            found.append(_batch_check(report, model, MIN_BATCH_ROWS_PER_SECOND[model]))
    v2 = _v2_check(report)
    if v2 is not None:
        found.append(v2)
    found += [_reasons_check(timing) for timing in report.timings if timing.step == REASONS_STEP]
    found += [_errors_check(report), _rss_check(report)]
    found += [_slow_clients_check(service, run) for service, run in report.slow_clients.items()]
    return found


def _v2_check(report: Report) -> Finding | None:
    """V2 inference of one row at c16 against the granian floor (default model), if measured."""
    try:
        v2 = report.find(API, DEFAULT_MODEL, V2_INFER, "c16")
    except KeyError:
        return None
    floor16 = report.predict_runs(FLOOR, None)[1]
    share = v2.requests_per_second / floor16.requests_per_second
    return Finding(
        f"V2 infer req/s at c16 >= {MIN_SHARE_OF_FLOOR:.0%} of the granian floor ({DEFAULT_MODEL})",
        share,
        f"{share:.1%}: {v2.requests_per_second:,.0f} vs {floor16.requests_per_second:,.0f} req/s",
        share >= MIN_SHARE_OF_FLOOR,
    )


def _reasons_check(timing: Timing) -> Finding:
    per_row = timing.seconds_per_call * 1e6 / timing.rows
    return Finding(
        f"reasons of a decline add <= {MAX_REASONS_US_PER_ROW:.0f} µs per row, in process "
        f"({timing.model}, {timing.rows} row{'s' if timing.rows > 1 else ''})",
        per_row,
        f"{per_row:.1f} µs per row",
        per_row <= MAX_REASONS_US_PER_ROW,
    )


def _slow_clients_check(service: str, run: GoodClientRun) -> Finding:
    p99 = run.percentile_ms(0.99)
    return Finding(
        f"{service}: a good client's p99 <= {MAX_P99_BESIDE_SLOW_CLIENTS_MS:.0f} ms while slow "
        "and idle clients hold connections",
        p99,
        run.summary(),
        p99 <= MAX_P99_BESIDE_SLOW_CLIENTS_MS and run.still_open == run.held,
    )


def _throughput_checks(report: Report, model: str) -> list[Finding]:
    """/predict at c16 against both floors, and c64 against c16 (no collapse)."""
    api16 = report.predict_runs(API, model)[1]
    gunicorn16 = report.predict_runs(GUNICORN_FLOOR, None)[1]
    floor16 = report.predict_runs(FLOOR, None)[1]
    times = api16.requests_per_second / gunicorn16.requests_per_second
    share = api16.requests_per_second / floor16.requests_per_second
    least = MIN_OVER_GUNICORN_FLOOR[model]
    found = [
        Finding(
            f"/predict req/s at c16 >= {least}x the gunicorn floor ({model})",
            times,
            f"{times:.2f}x: {api16.requests_per_second:,.0f} vs "
            f"{gunicorn16.requests_per_second:,.0f} req/s",
            times >= least,
        ),
        Finding(
            f"/predict req/s at c16 >= {MIN_SHARE_OF_FLOOR:.0%} of the granian floor ({model})",
            share,
            f"{share:.1%}: {api16.requests_per_second:,.0f} vs "
            f"{floor16.requests_per_second:,.0f} req/s",
            share >= MIN_SHARE_OF_FLOOR,
        ),
        Finding(
            f"/predict req/s at c16 >= {MIN_SHARE_OF_FLOOR_RECORDING[model]:.0%} of the granian "
            f"floor with metrics, request lines and the prediction log on ({model})",
            share,
            f"{share:.1%}: {api16.requests_per_second:,.0f} vs "
            f"{floor16.requests_per_second:,.0f} req/s",
            share >= MIN_SHARE_OF_FLOOR_RECORDING[model],
        ),
    ]
    api64 = report.predict_run_c64(API, model)
    if api64 is not None:
        found.append(
            Finding(
                f"no collapse at 64 clients: /predict req/s at c64 >= at c16 ({model})",
                api64.requests_per_second / api16.requests_per_second,
                f"{api64.requests_per_second:,.0f} vs {api16.requests_per_second:,.0f} req/s",
                api64.requests_per_second >= api16.requests_per_second,
            )
        )
    return found


def _latency_checks(report: Report, model: str) -> list[Finding]:
    """/predict p50 at one client against the gunicorn floor's."""
    api1 = report.predict_runs(API, model)[0]
    gunicorn1 = report.predict_runs(GUNICORN_FLOOR, None)[0]
    times, most = api1.p50_ms / gunicorn1.p50_ms, MAX_P50_OVER_GUNICORN_FLOOR[model]
    return [
        Finding(
            f"/predict p50 at c1 <= {most}x the gunicorn floor's ({model})",
            times,
            f"{times:.2f}x: {api1.p50_ms:.3f} vs {gunicorn1.p50_ms:.3f} ms",
            times <= most,
        )
    ]


def _batch_check(report: Report, model: str, least: float) -> Finding:
    batch16 = report.find(API, model, "/predict/batch", "c16")
    return Finding(
        f"/predict/batch {batch16.rows} rows >= {least:,.0f} rows/s at c16 ({model})",
        batch16.rows_per_second,
        f"{batch16.rows_per_second:,.0f} rows/s",
        batch16.rows_per_second >= least,
    )


def _errors_check(report: Report) -> Finding:
    measured = [run for run in report.runs if run.target in (API, FLOOR, GUNICORN_FLOOR)]
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
