"""The report's HTML page: metrics with their intervals, the plots, the bands and the reasons."""

from __future__ import annotations

from html import escape

from loanapp.artifacts import Estimate, Metrics, MoneyFigures
from loanapp.report.figures import Holdout, score_bands
from loanapp.report.plots import PLOTS

PAGE = "index.html"
STYLE = (
    "body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:right}th:first-child,td:first-child{text-align:left}"
    "figure{display:inline-block;margin:.5em}"
)


def render_page(holdout: Holdout) -> str:
    """The whole page; plots are the PNG files of PLOTS, next to it."""
    metadata = holdout.metadata
    title = f"{metadata.name} {holdout.version[:12]} ({metadata.model_type})"
    sections = [
        f"<h1>Evaluation report: {escape(title)}</h1>",
        f"<p>Version <code>{holdout.version}</code>, trained {metadata.created_at:%Y-%m-%d} on "
        f"{escape(metadata.training_data.source)} ({metadata.training_data.rows} rows). "
        f"Declines when p(bad) &ge; {metadata.decision.threshold:g} (cost of a default "
        f"{metadata.decision.cost_of_default:g}, of a declined good loan "
        f"{metadata.decision.cost_of_rejected_good:g}, in loan units).</p>",
        "<h2>Metrics</h2>",
        _metrics_table(metadata.metrics),
        "<h2>Money: cost per applicant</h2>",
        *(
            _money_table(money)
            for money in (metadata.metrics.money, metadata.metrics.holdout_money)
            if money is not None
        ),
        f"<h2>Plots (holdout, {len(holdout.target)} applicants)</h2>",
        *(
            f'<figure><img src="{name}" alt="{escape(plot)}"><figcaption>{escape(plot)}'
            "</figcaption></figure>"
            for name, plot in PLOTS.items()
        ),
        "<h2>Score bands (holdout, riskiest first)</h2>",
        _bands_table(holdout),
        f"<h2>Top reasons across the {holdout.declines} declined holdout applicants</h2>",
        _reasons_table(holdout),
    ]
    body = "\n".join(sections)
    return (
        f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>{escape(title)}"
        f"</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    lines = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{lines}</table>"


def _metrics_table(metrics: Metrics) -> str:
    rows = [
        [name, f"{summary.mean:.4f} ± {summary.std:.4f}", f"{metrics.holdout[name]:.4f}"]
        for name, summary in metrics.cross_validation.items()
    ]
    if metrics.holdout_roc_auc_interval is not None:
        low, high = metrics.holdout_roc_auc_interval
        rows.append(["roc_auc, holdout 95 % bootstrap interval", "", f"{low:.4f} to {high:.4f}"])
    folds = metrics.cross_validation_folds or "k-fold"
    return _table(["metric", f"CV mean ± sd ({folds})", "holdout"], rows)


def _money_table(money: MoneyFigures) -> str:
    def cell(figure: Estimate) -> str:
        return f"{figure.value:+.5f} ({figure.low:+.5f} to {figure.high:+.5f})"

    cutoff = f"int_rate ≥ {money.int_rate_cutoff:g}"
    rows = [
        ["the model", cell(money.model)],
        ["approve everyone", cell(money.approve_everyone)],
        [f"int_rate rule ({cutoff})", cell(money.int_rate_rule)],
        ["saving vs approving everyone", cell(money.saving_vs_approve_everyone)],
        ["saving vs the int_rate rule", cell(money.saving_vs_int_rate_rule)],
    ]
    caption = f"{money.basis}, {money.applicants} applicants"
    return f"<p>{escape(caption)}</p>" + _table(
        ["rule", "cost per applicant (95 % bootstrap interval)"], rows
    )


def _bands_table(holdout: Holdout) -> str:
    rows = [
        [
            str(number),
            f"{band['lowest_score']:.4f}",
            str(int(band["applicants"])),
            str(int(band["defaults"])),
            f"{band['bad_rate']:.1%}",
            f"{band['cumulative_defaults_caught']:.1%}",
            f"{band['approval_rate']:.1%}",
        ]
        for number, band in enumerate(score_bands(holdout), start=1)
    ]
    header = ["band", "lowest p(bad)", "applicants", "defaults", "bad rate"]
    return _table([*header, "defaults caught (cumulative)", "approval rate"], rows)


def _reasons_table(holdout: Holdout) -> str:
    if not holdout.reasons:
        return "<p>No reasons: nobody is declined, or this model gives no explanations.</p>"
    rows = [
        [feature, str(count), f"{count / holdout.declines:.0%}"]
        for feature, count in holdout.reasons.most_common()
    ]
    return _table(["feature", "declines naming it", "share of declines"], rows)
