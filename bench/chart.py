"""The chart (results.png): throughput and p99 latency per HTTP run, drawn with matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.markdown import format_rate
from bench.results import API, FLOOR, GUNICORN_FLOOR, QUIET_API, SEED, HttpRun


def draw_chart(runs: Sequence[HttpRun], path: Path) -> None:
    """Two panels, one bar per HTTP run: throughput (req/s) and p99 latency (ms), log scales."""
    from matplotlib.figure import Figure  # a bench-only dependency: imported when drawing

    colours = {
        GUNICORN_FLOOR: "#8172b2",
        FLOOR: "#4c72b0",
        API: "#55a868",
        QUIET_API: "#8fd19e",
        SEED: "#c44e52",
    }
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
        throughput.text(rate, position, f" {format_rate(rate)}", va="center", fontsize=8)
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
