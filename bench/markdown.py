"""The Markdown report (results.md): headline, targets, ratios, one table per target, settings."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from bench.inprocess import REASONS_STEP, REPEATS, Timing
from bench.results import (
    API,
    EXPLAIN,
    FLOOR,
    GUNICORN_FLOOR,
    MODELS,
    QUIET_API,
    SEED,
    TARGETS,
    HttpRun,
    Report,
)
from bench.verdicts import Finding, verdict_lines
from bench.wrkrun import WrkResult

# CPU that other processes may use during a measured run (% of one core) before it is flagged.
MAX_OTHER_CPU_PERCENT = 10.0
# A c16 run where one worker used this share of the workers' CPU time is flagged as lopsided.
LOPSIDED_WORKER_SHARE = 0.8


def render_markdown(
    report: Report,
    found_ratios: Sequence[Finding],
    found_checks: Sequence[Finding],
    machine: dict[str, str],
    versions: dict[str, str],
    environment: dict[str, str],
) -> str:
    """The whole results.md."""
    sections = [
        _header(report),
        _headline_table(report),
        "## Targets\n\n" + "\n".join(f"- {line}" for line in verdict_lines(found_checks)),
        _ratio_table(found_ratios),
        _in_process_table(report.timings),
        *(_http_table(report.runs, target, report.samples) for target in TARGETS),
        "## Chart\n\n![Throughput and p99 latency per target](results.png)",
        _key_values("Machine", machine),
        _key_values("Versions", versions),
        _settings_section(report, environment),
    ]
    return "\n\n".join(sections) + "\n"


def _header(report: Report) -> str:
    return (
        "# Benchmark: predict API vs framework floors (granian, gunicorn), in-process floor and "
        "seed design\n\n"
        f"Run {report.started_at:%Y-%m-%d %H:%M UTC}, {report.elapsed_s:.0f} s in all, by "
        f"`python bench/run.py --duration {report.duration_s} --warmup {report.warmup_s}` "
        "(`make bench`). One machine, loopback only, the same model artifacts and the same "
        "applicant rows for every target. Each HTTP number is one wrk run of "
        f"{report.duration_s} s after a discarded {report.warmup_s} s warm-up at the same "
        "concurrency; c1 = `wrk -t1 -c1`, c16 = `wrk -t2 -c16`, c64 = `wrk -t2 -c64` (floors and "
        "one-row /predict only).\n\n"
        f"Load average before the run: {report.load_average.get('before', '?')}. "
        + _contention_note(report.runs)
        + _balance_note(report.runs)
    )


def _balance_note(runs: Sequence[HttpRun]) -> str:
    """Runs with many clients where one worker did most of the work (the other idled)."""
    lopsided = [
        run
        for run in runs
        if run.concurrency != "c1" and run.busiest_worker_share >= LOPSIDED_WORKER_SHARE
    ]
    if not lopsided:
        return ""
    shown = ", ".join(f"{run.name} ({run.busiest_worker_share:.0%})" for run in lopsided)
    return (
        f"\n\nOne worker used {LOPSIDED_WORKER_SHARE:.0%} or more of the workers' CPU time in: "
        f"{shown}. wrk's connections are kept alive for the whole run, so how they were "
        "spread over the workers when they were opened decides how many cores serve them; "
        "compare these runs with care."
    )


def _contention_note(runs: Sequence[HttpRun]) -> str:
    """Whether other work on the machine took CPU during the measured runs (it skews them)."""
    busy = [run for run in runs if run.other_cpu_percent > MAX_OTHER_CPU_PERCENT]
    if not busy:
        worst = max((run.other_cpu_percent for run in runs), default=0.0)
        return f"Other processes used at most {worst:.0f}% of a core during any measured run."
    shown = "; ".join(
        f"{run.name} ({run.other_cpu_percent:.0f}%: {', '.join(run.cpu.busiest_others) or '?'})"
        for run in busy
    )
    return (
        f"**Other processes took more than {MAX_OTHER_CPU_PERCENT:.0f}% of a core during "
        f"{len(busy)} measured run(s): {shown}. Those numbers are skewed; rerun on a quiet "
        "machine.**"
    )


def _headline_table(report: Report) -> str:
    lines = [
        "## Headline (measured here)",
        "",
        "| system | req/s, 1 row, 16 clients | 64 clients | p50 at 1 client | p99 at 16 clients "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    systems: list[tuple[str, str | None, str]] = [
        (GUNICORN_FLOOR, None, "/predict"),
        (FLOOR, None, "/predict"),
    ]
    systems += [
        (t, m, e) for t in (API, QUIET_API, SEED) for m in MODELS for e in ("/predict", EXPLAIN)
    ]
    for target, model, endpoint in systems:
        try:
            c1, c16 = (report.find(target, model, endpoint, c) for c in ("c1", "c16"))
        except KeyError:  # the explain endpoint is the predict API's only
            continue
        c64 = report.predict_run_c64(target, model) if endpoint == "/predict" else None
        label = target + (f", {model}" if model else "")
        label += f", {endpoint}" if endpoint != "/predict" else ""
        errors = sum(run.errors for run in (c1, c16, c64) if run is not None)
        lines.append(
            f"| {label} | {format_rate(c16.requests_per_second)} "
            f"| {format_rate(c64.requests_per_second) if c64 else '-'} | {c1.p50_ms:.2f} ms "
            f"| {c16.p99_ms:.2f} ms | {errors} |"
        )
    return "\n".join(lines)


def _ratio_table(found: Sequence[Finding]) -> str:
    lines = ["## Ratios", "", "| ratio | value | from |", "|---|---:|---|"]
    for finding in found:
        value = format_rate(finding.value) if "rows/s" in finding.name else f"{finding.value:.3g}x"
        lines.append(f"| {finding.name} | {value} | {finding.detail} |")
    return "\n".join(lines)


def _in_process_table(timings: Sequence[Timing]) -> str:
    lines = [
        "## In-process floor",
        "",
        "What a predict API worker runs per request, minus HTTP, in the benchmark process: "
        "`validate_request` and `ServingModel.predict_proba` as the views call them, on the model "
        "built by `load_serving_model` (what the watcher calls), math threads limited as in the "
        f"workers; `{REASONS_STEP}` is what answering those rows as declines adds (their "
        "explanation from what scoring computed, then the ranked reasons). Best of "
        f"{REPEATS} timeit runs of about 50 ms, one core.",
        "",
        "| model | predictor | rows | step | µs per call | calls/s | rows/s |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for t in timings:
        lines.append(
            f"| {t.model} | {t.predictor} | {t.rows} | {t.step} | {t.seconds_per_call * 1e6:,.1f} "
            f"| {format_rate(t.calls_per_second)} | {format_rate(t.rows_per_second)} |"
        )
    return "\n".join(lines)


def _http_table(runs: Sequence[HttpRun], target: str, samples: dict[str, Any]) -> str:
    lines = [f"## {target[0].upper()}{target[1:]}", ""]
    served = [
        f"{key.removeprefix(API + ' ').removesuffix(' /model')}: {value.get('predictor')}"
        for key, value in samples.items()
        if target == API and key.endswith("/model") and isinstance(value, dict)
    ]
    if served:
        lines += [f"Predictor serving each model (GET /model): {'; '.join(served)}.", ""]
    lines += [
        "| model | endpoint | rows/request | clients | req/s | rows/s | p50 ms | p99 ms | max ms "
        "| non-2xx | socket errors | RSS per worker (MiB) | CPU s per worker | service CPU ms/req "
        "| other load |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for run in (r for r in runs if r.target == target):
        rss = ", ".join(f"{size:.0f}" for size in run.worker_rss_mb.values()) or "?"
        lines.append(
            f"| {run.model or '-'} | {run.endpoint} | {run.rows} | {run.concurrency} "
            f"| {format_rate(run.requests_per_second)} | {format_rate(run.rows_per_second)} "
            f"| {run.p50_ms:.2f} | {run.p99_ms:.2f} | {run.result.latency_us['max'] / 1000:.1f} "
            f"| {run.result.status_errors} | {_socket_errors(run.result)} | {rss} "
            f"| {', '.join(f'{used:.2f}' for used in run.cpu.workers_s.values()) or '?'} "
            f"| {run.cpu_ms_per_request:.3f} | {run.other_cpu_percent:.0f}% |"
        )
    return "\n".join(lines)


def _socket_errors(result: WrkResult) -> str:
    if not result.socket_errors:
        return "0"
    parts = (f"{k} {v}" for k, v in result.errors.items() if k != "status" and v)
    return f"{result.socket_errors} ({', '.join(parts)})"


def _key_values(title: str, values: dict[str, str]) -> str:
    return f"## {title}\n\n" + "\n".join(f"- {key}: {value}" for key, value in values.items())


def _settings_section(report: Report, environment: dict[str, str]) -> str:
    commands = "\n\n".join(
        f"{name}:\n\n```\n{shlex.join(command)}\n```" for name, command in report.commands.items()
    )
    models = "\n".join(
        f"- {model}: `{version}`" for model, version in report.model_versions.items()
    )
    return (
        "## Settings and commands\n\n"
        "- wrk: `wrk -tT -cC -dDs --timeout=10s --latency -s bench/post.lua URL` with "
        "BENCH_BODY_FILE naming the body; `post.lua`'s `done()` prints requests, duration, "
        "errors and latency percentiles as JSON. non-2xx = answers with status >= 400 (wrk's "
        "count); socket errors = connect + read + write + timeouts (10 s).\n"
        "- bodies: applicant row 0 of `loanapp.dev.traffic.sample_rows()` as a JSON object "
        '(predict API, framework floor), the same row in columnar form `{"feature": [value]}` '
        "(seed baseline), rows 0-99 as a JSON list (/predict/batch).\n"
        "- RSS: VmRSS of each worker (children of the server's main process) right after each "
        "measured run.\n"
        "- CPU s per worker: CPU seconds each worker of the target used during the run.\n"
        "- service CPU ms/req: user + system CPU time of the target's main process and "
        "workers (plus the model server's, for the predict API and the seed baseline) during "
        "the measured run, per completed request. other load: CPU time used on the machine "
        "by anything but the services, wrk and the benchmark process, in % of one core; above "
        f"{MAX_OTHER_CPU_PERCENT:.0f}% the run is flagged at the top of this file.\n"
        "- servers: the granian floor, the predict API, the model server and the seed baseline "
        "run under granian with the services' settings (`loanapp.services`); the gunicorn floor "
        "under the predict API's gunicorn settings from before granian (`bench/servers.py`).\n"
        "- The seed baseline asks the same model server the predict API follows; production "
        "names the seed's model while it is measured.\n\n"
        f"Models (artifact SHA-256):\n\n{models}\n\n"
        "Environment of the run (inherited by every service):\n\n"
        + "\n".join(f"- {key}={value}" for key, value in environment.items())
        + f"\n\nCommand lines:\n\n{commands}"
    )


def format_rate(value: float) -> str:
    """A rate as the tables and the chart write it: no decimals from 100 up, one below."""
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
