"""What a benchmark run measured, the issue's targets checked against it, and the written report.

`write_report` writes `results.json` (every raw number), `results.md` (tables, ratios, PASS/FAIL,
machine, versions, commands) and `results.png` (throughput and p99 per HTTP target).
"""

from __future__ import annotations

import os
import platform
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from bench.inprocess import Timing
from bench.procs import CpuUse
from bench.wrkrun import WrkResult

FLOOR, API, SEED = "framework floor", "predict API", "seed baseline"
TARGETS = (FLOOR, API, SEED)
DEFAULT_MODEL = "logreg"
MODELS = ("logreg", "gbm")
MIN_SHARE_OF_FLOOR = 0.60
MAX_P50_OVER_FLOOR = 1.5
MIN_BATCH_ROWS_PER_SECOND = 50_000
MAX_RSS_MB = 150.0
# CPU that other processes may use during a measured run (% of one core) before it is flagged.
MAX_OTHER_CPU_PERCENT = 10.0
# A c16 run where one worker used this share of the workers' CPU time is flagged as lopsided.
LOPSIDED_WORKER_SHARE = 0.8
PACKAGES = (
    "loanapp",
    "scikit-learn",
    "numpy",
    "pandas",
    "gunicorn",
    "flask",
    "werkzeug",
    "orjson",
    "threadpoolctl",
    "urllib3",
    "matplotlib",
)
ENVIRONMENT_SHOWN = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "MKL_NUM_THREADS",
    "LOANAPP_MODEL_THREADS",
    "LOANAPP_MAX_BATCH_ROWS",
    "GUNICORN_CMD_ARGS",
)


@dataclass(frozen=True)
class HttpRun:
    """One measured wrk run against one target, and its workers' RSS right after it."""

    target: str
    model: str | None
    endpoint: str
    rows: int
    concurrency: str
    result: WrkResult
    worker_rss_mb: dict[int, float]
    cpu: CpuUse = field(default_factory=CpuUse)
    """CPU seconds used during the measured run, by whom."""

    @property
    def name(self) -> str:
        """Short label: target, model, endpoint, concurrency."""
        parts = [self.target, self.model or "", self.endpoint, self.concurrency]
        return " ".join(part for part in parts if part)

    @property
    def requests_per_second(self) -> float:
        """Completed requests per second."""
        return self.result.requests_per_second

    @property
    def rows_per_second(self) -> float:
        """Applicants answered per second."""
        return self.requests_per_second * self.rows

    @property
    def p50_ms(self) -> float:
        """Median latency in milliseconds."""
        return self.result.latency_us["p50"] / 1000

    @property
    def p99_ms(self) -> float:
        """99th-percentile latency in milliseconds."""
        return self.result.latency_us["p99"] / 1000

    @property
    def errors(self) -> int:
        """Answers with status >= 400, plus socket errors and timeouts."""
        return self.result.status_errors + self.result.socket_errors

    @property
    def cpu_ms_per_request(self) -> float:
        """CPU time the services spent per completed request, in ms (all processes, all cores)."""
        requests = self.result.requests
        return self.cpu.services_s * 1000 / requests if requests else 0.0

    @property
    def other_cpu_percent(self) -> float:
        """CPU used by other work on the machine during the run, in % of one core."""
        seconds = self.result.duration_s
        return self.cpu.other_s * 100 / seconds if seconds else 0.0

    @property
    def busiest_worker_share(self) -> float:
        """The share of the workers' CPU time that the busiest worker used (1.0: it did all)."""
        total = sum(self.cpu.workers_s.values())
        return max(self.cpu.workers_s.values()) / total if total > 0 else 0.0

    @property
    def max_rss_mb(self) -> float:
        """The largest worker's RSS in MiB (0 if none was found)."""
        return max(self.worker_rss_mb.values(), default=0.0)

    def summary_line(self) -> str:
        """One line for the progress log."""
        return (
            f"{self.name}: {self.requests_per_second:,.0f} req/s, "
            f"{self.rows_per_second:,.0f} rows/s, p50 {self.p50_ms:.2f} ms, "
            f"p99 {self.p99_ms:.2f} ms, errors {self.errors}, RSS {self.max_rss_mb:.0f} MiB, "
            f"CPU {self.cpu_ms_per_request:.2f} ms/req, other load {self.other_cpu_percent:.0f}%"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived numbers."""
        return {
            "name": self.name,
            "target": self.target,
            "model": self.model,
            "endpoint": self.endpoint,
            "rows_per_request": self.rows,
            "concurrency": self.concurrency,
            "requests_per_second": self.requests_per_second,
            "rows_per_second": self.rows_per_second,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "errors": self.errors,
            "worker_rss_mb": {str(pid): size for pid, size in self.worker_rss_mb.items()},
            "cpu_seconds": asdict(self.cpu)
            | {"workers_s": {str(pid): used for pid, used in self.cpu.workers_s.items()}},
            "service_cpu_ms_per_request": self.cpu_ms_per_request,
            "other_cpu_percent_of_a_core": self.other_cpu_percent,
            "wrk": self.result.as_dict(),
        }


@dataclass(frozen=True)
class Report:
    """Everything one run measured, and how."""

    runs: list[HttpRun]
    timings: list[Timing]
    model_versions: dict[str, str]
    commands: dict[str, list[str]]
    samples: dict[str, Any]
    wrk_version: str
    duration_s: int
    warmup_s: int
    started_at: datetime
    elapsed_s: float
    load_average: dict[str, str]
    """/proc/loadavg before and after the run: other work on the machine skews every number."""

    def find(self, target: str, model: str | None, endpoint: str, concurrency: str) -> HttpRun:
        """The run of `target` with these settings; KeyError if it was not measured."""
        for run in self.runs:
            if (run.target, run.model, run.endpoint, run.concurrency) == (
                target,
                model,
                endpoint,
                concurrency,
            ):
                return run
        raise KeyError(f"no run of {target} {model} {endpoint} {concurrency}")


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


def ratios(report: Report) -> list[Finding]:
    """API / seed baseline and API / framework floor, per model; batch rows/s."""
    found = []
    floor16 = report.find(FLOOR, None, "/predict", "c16")
    floor1 = report.find(FLOOR, None, "/predict", "c1")
    for model in MODELS:
        api16 = report.find(API, model, "/predict", "c16")
        api1 = report.find(API, model, "/predict", "c1")
        seed16 = report.find(SEED, model, "/predict", "c16")
        seed1 = report.find(SEED, model, "/predict", "c1")
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
    """The issue's targets, each PASS or FAIL."""
    floor16 = report.find(FLOOR, None, "/predict", "c16")
    floor1 = report.find(FLOOR, None, "/predict", "c1")
    found = []
    for model in MODELS:
        api16 = report.find(API, model, "/predict", "c16")
        api1 = report.find(API, model, "/predict", "c1")
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


def machine_info() -> dict[str, str]:
    """CPU model, cores, memory, OS."""
    cpu = "unknown"
    memory = "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": platform.platform(),
    }


def library_versions(wrk_version: str) -> dict[str, str]:
    """Python, the packages that matter here, and wrk."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["wrk"] = wrk_version
    return versions


def environment_shown() -> dict[str, str]:
    """The environment variables that change how the services compute, as this run had them."""
    return {name: os.environ.get(name, "unset") for name in ENVIRONMENT_SHOWN}


def write_report(report: Report, out: Path) -> list[Path]:
    """Write results.json, results.md and results.png into `out`; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    found_ratios, found_checks = ratios(report), checks(report)
    machine, versions = machine_info(), library_versions(report.wrk_version)
    environment = environment_shown()
    paths = [out / "results.json", out / "results.md", out / "results.png"]
    raw = {
        "started_at": report.started_at.isoformat(),
        "elapsed_s": report.elapsed_s,
        "load_average": report.load_average,
        "duration_s": report.duration_s,
        "warmup_s": report.warmup_s,
        "machine": machine,
        "versions": versions,
        "environment": environment,
        "model_versions": report.model_versions,
        "commands": report.commands,
        "in_process": [timing.as_dict() for timing in report.timings],
        "http": [run.as_dict() for run in report.runs],
        "ratios": [_finding_dict(f) for f in found_ratios],
        "checks": [_finding_dict(f) for f in found_checks],
        "sample_answers": _trimmed(report.samples),
    }
    paths[0].write_bytes(orjson.dumps(raw, option=orjson.OPT_INDENT_2) + b"\n")
    markdown = render_markdown(report, found_ratios, found_checks, machine, versions, environment)
    paths[1].write_text(markdown)
    draw_chart(report.runs, paths[2])
    return paths


def _trimmed(value: Any, items: int = 3) -> Any:
    """`value` with every list cut to its first `items` entries (batch answers are long)."""
    if isinstance(value, dict):
        return {key: _trimmed(item, items) for key, item in value.items()}
    if isinstance(value, list):
        return [_trimmed(item, items) for item in value[:items]]
    return value


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "name": finding.name,
        "value": finding.value,
        "detail": finding.detail,
        "verdict": finding.verdict or None,
    }


def verdict_lines(found_checks: Sequence[Finding]) -> list[str]:
    """`PASS  name: detail` per target."""
    return [f"{f.verdict}  {f.name}: {f.detail}" for f in found_checks]


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
        "## Targets (issue 6)\n\n" + "\n".join(f"- {line}" for line in verdict_lines(found_checks)),
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
        "# Benchmark: predict API vs framework floor, in-process floor and seed design\n\n"
        f"Run {report.started_at:%Y-%m-%d %H:%M UTC}, {report.elapsed_s:.0f} s in all, by "
        f"`python bench/run.py --duration {report.duration_s} --warmup {report.warmup_s}` "
        "(`make bench`). One machine, loopback only, the same model artifacts and the same "
        "applicant rows for every target. Each HTTP number is one wrk run of "
        f"{report.duration_s} s after a discarded {report.warmup_s} s warm-up at the same "
        "concurrency; c1 = `wrk -t1 -c1`, c16 = `wrk -t2 -c16`.\n\n"
        f"Load average before the run: {report.load_average.get('before', '?')}. "
        + _contention_note(report.runs)
        + _balance_note(report.runs)
    )


def _balance_note(runs: Sequence[HttpRun]) -> str:
    """c16 runs where one gunicorn worker did most of the work (the other idled)."""
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
        "## Headline (the issue's table, measured here)",
        "",
        "| system | req/s, 1 row, 16 clients | p50 at 1 client | p99 at 16 clients | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    systems = [(FLOOR, None)] + [(t, m) for t in (API, SEED) for m in MODELS]
    for target, model in systems:
        c16 = report.find(target, model, "/predict", "c16")
        c1 = report.find(target, model, "/predict", "c1")
        label = target + (f", {model}" if model else "")
        lines.append(
            f"| {label} | {_rate(c16.requests_per_second)} | {c1.p50_ms:.2f} ms "
            f"| {c16.p99_ms:.2f} ms | {c1.errors + c16.errors} |"
        )
    return "\n".join(lines)


def _ratio_table(found: Sequence[Finding]) -> str:
    lines = ["## Ratios", "", "| ratio | value | from |", "|---|---:|---|"]
    for finding in found:
        value = _rate(finding.value) if "rows/s" in finding.name else f"{finding.value:.3g}x"
        lines.append(f"| {finding.name} | {value} | {finding.detail} |")
    return "\n".join(lines)


def _in_process_table(timings: Sequence[Timing]) -> str:
    lines = [
        "## In-process floor",
        "",
        "What a predict API worker runs per request, minus HTTP, in the benchmark process: "
        "`validate_request` and `ServingModel.predict_proba` as the views call them, on the model "
        "built by `load_serving_model` (what the watcher calls), math threads limited as in the "
        "workers. Best of 5 timeit repeats, one core.",
        "",
        "| model | predictor | rows | step | µs per call | calls/s | rows/s |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for t in timings:
        lines.append(
            f"| {t.model} | {t.predictor} | {t.rows} | {t.step} | {t.seconds_per_call * 1e6:,.1f} "
            f"| {_rate(t.calls_per_second)} | {_rate(t.rows_per_second)} |"
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
            f"| {_rate(run.requests_per_second)} | {_rate(run.rows_per_second)} "
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
        "- bodies: applicant row 0 of `loanapp.traffic.sample_rows()` as a JSON object (predict "
        'API, framework floor), the same row in columnar form `{"feature": [value]}` (seed '
        "baseline), rows 0-99 as a JSON list (/predict/batch).\n"
        "- RSS: VmRSS of each gunicorn worker (children of the master PID) right after each "
        "measured run.\n"
        "- CPU s per worker: CPU seconds each worker of the target used during the run.\n"
        "- service CPU ms/req: user + system CPU time of the target's gunicorn master and "
        "workers (plus the model server's, for the predict API and the seed baseline) during "
        "the measured run, per completed request. other load: CPU time used on the machine "
        "by anything but the services, wrk and the benchmark process, in % of one core; above "
        f"{MAX_OTHER_CPU_PERCENT:.0f}% the run is flagged at the top of this file.\n"
        "- The seed baseline asks the same model server the predict API follows; production "
        "names the seed's model while it is measured.\n\n"
        f"Models (artifact SHA-256):\n\n{models}\n\n"
        "Environment of the run (inherited by every service):\n\n"
        + "\n".join(f"- {key}={value}" for key, value in environment.items())
        + f"\n\nCommand lines:\n\n{commands}"
    )


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def draw_chart(runs: Sequence[HttpRun], path: Path) -> None:
    """Two panels, one bar per HTTP run: throughput (req/s) and p99 latency (ms), log scales."""
    from matplotlib.figure import Figure  # a bench-only dependency: imported when drawing

    colours = {FLOOR: "#4c72b0", API: "#55a868", SEED: "#c44e52"}
    labels = [run.name for run in runs]
    positions = list(range(len(runs)))
    figure = Figure(figsize=(13, 0.42 * len(runs) + 1.8), layout="constrained")
    throughput, latency = figure.subplots(1, 2, sharey=True)
    bar_colours = [colours[run.target] for run in runs]
    rates = [max(run.requests_per_second, 0.01) for run in runs]  # log scales: no zeros
    p99s = [max(run.p99_ms, 0.001) for run in runs]
    throughput.barh(positions, rates, color=bar_colours)
    latency.barh(positions, p99s, color=bar_colours)
    for position, rate, p99 in zip(positions, rates, p99s, strict=True):
        throughput.text(rate, position, f" {_rate(rate)}", va="center", fontsize=8)
        latency.text(p99, position, f" {p99:.2f}", va="center", fontsize=8)
    throughput.set_yticks(positions, labels, fontsize=8)
    throughput.invert_yaxis()
    throughput.set_xscale("log")
    latency.set_xscale("log")
    throughput.set_xlabel("requests/s (log scale)")
    latency.set_xlabel("p99 latency, ms (log scale)")
    throughput.set_title("Throughput")
    latency.set_title("p99 latency")
    for axes in (throughput, latency):
        axes.grid(axis="x", which="both", alpha=0.3)
        axes.margins(x=0.12)  # room for the value labels
    figure.savefig(path, dpi=110)
