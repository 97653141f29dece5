"""The written report of a run: `write_report` ties the verdicts, the machine facts, the Markdown
and the chart together.

It writes `results.json` (every raw number), `results.md` (tables, ratios, PASS/FAIL, machine,
versions, commands) and `results.png` (throughput and p99 per HTTP target).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from bench.chart import draw_chart
from bench.machine import environment_shown, library_versions, machine_info
from bench.markdown import render_markdown
from bench.results import Report
from bench.verdicts import checks, ratios


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
        "slow_clients": {
            service: {
                "latencies_ms": run.latencies_ms,
                "held": run.held,
                "still_open": run.still_open,
            }
            for service, run in report.slow_clients.items()
        },
        "ratios": [finding.as_dict() for finding in found_ratios],
        "checks": [finding.as_dict() for finding in found_checks],
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
