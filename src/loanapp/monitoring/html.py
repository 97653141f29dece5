"""The drift report as one HTML page with plots drawn as inline SVG (no plotting library)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

STATUS_COLOURS = {"stable": "#3a7d44", "watch": "#d89614", "act": "#c0392b"}
BAR_HEIGHT = 16
CHART_WIDTH = 420


def _bars(items: list[tuple[str, float, str]], scale: float, label: str) -> str:
    """Horizontal bars: (name, value, colour) each, `scale` the value of the full width."""
    height = BAR_HEIGHT * len(items) + 24
    parts = [f'<svg width="{CHART_WIDTH + 260}" height="{height}" role="img" aria-label="{label}">']
    for index, (name, value, colour) in enumerate(items):
        y = index * BAR_HEIGHT
        width = max(1.0, CHART_WIDTH * min(value / scale, 1.0)) if scale > 0 else 1.0
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="12">{html.escape(name)}</text>'
            f'<rect x="200" y="{y + 2}" width="{width:.1f}" height="{BAR_HEIGHT - 4}" '
            f'fill="{colour}"/><text x="{205 + width:.1f}" y="{y + 12}" font-size="11">'
            f"{value:.3f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _feature_chart(report: dict[str, Any]) -> str:
    ranked = sorted(report["features"].items(), key=lambda kv: -kv[1]["psi"])
    items = [(name, e["psi"], STATUS_COLOURS[e["status"]]) for name, e in ranked]
    scale = max([0.3, *(value for _, value, _ in items)])
    return _bars(items, scale, "PSI per feature")


def _daily_chart(report: dict[str, Any], key: str, colour: str) -> str:
    items = [(day["date"], day[key], colour) for day in report["days"]]
    return _bars(items, max([1e-9, *(value for _, value, _ in items)]), key)


def _score_chart(rows: pd.DataFrame) -> str:
    """A histogram of the logged p(bad), twenty bins over [0, 1]."""
    import numpy as np

    counts, _ = np.histogram(rows["p_bad"].to_numpy(dtype=np.float64), bins=20, range=(0, 1))
    items = [
        (f"{i / 20:.2f}-{(i + 1) / 20:.2f}", float(c), "#34699a") for i, c in enumerate(counts)
    ]
    return _bars(items, max(1.0, float(counts.max())), "p(bad) histogram")


def render_html(report: dict[str, Any], rows: pd.DataFrame) -> str:
    """The whole page."""
    score = report["score"]
    table = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{e['psi']:.3f}</td><td>{e['status']}</td></tr>"
        for name, e in sorted(report["features"].items(), key=lambda kv: -kv[1]["psi"])
    )
    skipped = "".join(
        f"<li>{html.escape(v[:12])}: {html.escape(r)}</li>" for v, r in report["skipped"].items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>loanapp drift report</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:left}"
        "</style></head><body>"
        f"<h1>Drift report</h1><p>{report['rows']} rows, versions "
        f"{', '.join(html.escape(v[:12]) for v in report['versions'])}</p>"
        + (f"<p>Skipped:</p><ul>{skipped}</ul>" if skipped else "")
        + "<h2>Population stability index per feature</h2>"
        "<p>stable below 0.1, watch to 0.25, act above</p>"
        + _feature_chart(report)
        + f"<table><tr><th>feature</th><th>PSI</th><th>status</th></tr>{table}</table>"
        + f"<h2>Score p(bad)</h2><p>PSI {score['psi']:.3f} ({score['status']}); mean "
        f"{score['mean_p_bad']:.3f} (training {score['training_mean_p_bad']:.3f}); approved "
        f"{score['approval_rate']:.1%} (training {score['training_approval_rate']:.1%})</p>"
        + _score_chart(rows)
        + "<h2>Approval rate per day</h2>"
        + _daily_chart(report, "approval_rate", "#3a7d44")
        + "<h2>Mean p(bad) per day</h2>"
        + _daily_chart(report, "mean_p_bad", "#c0392b")
        + "</body></html>"
    )


def write_html_report(report: dict[str, Any], rows: pd.DataFrame, folder: Path) -> Path:
    """Write index.html into `folder` (created); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "index.html"
    page.write_text(render_html(report, rows), encoding="utf-8")
    return page
