"""`loanapp compare` and `loanapp report`: how good a version is, and against which other.

`compare` reads only metadata (no pandas, scipy or scikit-learn); `report` recomputes the
out-of-fold and holdout predictions and draws them, so it imports those, and matplotlib.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

import click

from loanapp.artifacts import ArtifactMetadata, compute_version, read_metadata
from loanapp.cli.base import CommandContext, json_option, main, name_option, pass_context
from loanapp.comparison import GATE_THRESHOLD, Comparison, PairedDelta, compare
from loanapp.errors import InvalidInputError


def _load_metadata(
    context: CommandContext, name: str, reference: str
) -> tuple[str, ArtifactMetadata]:
    """A version's id and metadata: an artifact file if `reference` is one, else a version of
    the model in the store (full hash or unique prefix, its record only)."""
    if Path(reference).is_file():
        data, version = _load_artifact(context, name, reference)
        return version, read_metadata(data, version)
    record = context.registry.get_version(name, reference)
    return record.version, record.metadata


@main.command(name="compare")
@click.argument("candidate")
@click.argument("current")
@name_option
@json_option
@pass_context
def compare_command(
    context: CommandContext, candidate: str, current: str, name: str | None, as_json: bool
) -> None:
    """Compare CANDIDATE with CURRENT on the cross-validation folds both recorded at training.

    Each is a version in the store (hash or unique prefix) or an artifact file. Prints ΔAUC and
    Δcost per applicant (candidate minus current) with corrected 95 % intervals, which is better,
    and what the promotion gate would do.
    """
    model = context.model_name(name)
    new_version, new = _load_metadata(context, model, candidate)
    old_version, old = _load_metadata(context, model, current)
    comparison = compare(new_version, new, old_version, old)
    if as_json:
        click.echo(json.dumps(_as_dict(comparison), indent=2))
        return
    for line in _describe(comparison, new, old):
        click.echo(line)


def _as_dict(comparison: Comparison) -> dict[str, object]:
    return asdict(comparison) | {
        "verdict": comparison.verdict,
        "gate": comparison.gate_refuses() or "passes",
        "threshold": GATE_THRESHOLD,
    }


def _describe(comparison: Comparison, new: ArtifactMetadata, old: ArtifactMetadata) -> list[str]:
    """The comparison as lines a person reads."""
    new_id, old_id = comparison.candidate[:12], comparison.current[:12]
    lines = [
        f"candidate  {new_id}  {new.model_type:<8}  CV ROC-AUC {_auc(new)}",
        f"current    {old_id}  {old.model_type:<8}  CV ROC-AUC {_auc(old)}",
    ]
    if comparison.delta_auc is None or new.metrics.folds is None:
        lines.append(f"not comparable: {comparison.not_comparable}")
    else:
        plan = new.metrics.folds.plan
        lines += [
            f"folds      {comparison.delta_auc.folds} paired ({plan.folds} x {plan.repeats} "
            f"repeated stratified on {plan.train_rows} rows, seed {plan.seed})",
            f"ΔAUC       {_delta(comparison.delta_auc, '.4f')}; candidate ahead in "
            f"{comparison.delta_auc.ahead} of {comparison.delta_auc.folds} folds",
        ]
        if comparison.delta_cost is None:
            lines.append("Δcost      not comparable: trained with different costs")
        else:
            lines.append(
                f"Δcost      {_delta(comparison.delta_cost, '.5f')} per applicant (loan units); "
                f"candidate cheaper in {comparison.delta_cost.ahead} of "
                f"{comparison.delta_cost.folds} folds"
            )
    verdicts = {
        "better": "the candidate is better (the ΔAUC interval is above zero)",
        "worse": "the candidate is worse (the ΔAUC interval is below zero)",
        "equivalent": "no difference shown (the ΔAUC interval holds zero)",
        "not_comparable": "none: the fold scores cannot be paired",
    }
    refusal = comparison.gate_refuses()
    gate = "passes" if refusal is None else f"refuses ({refusal.replace('_', ' ')})"
    lines += [
        f"verdict    {verdicts[comparison.verdict]}",
        f"gate       {gate}: it refuses when the ΔAUC lower bound is below {GATE_THRESHOLD}",
    ]
    return lines


def _auc(metadata: ArtifactMetadata) -> str:
    summary = metadata.metrics.cross_validation["roc_auc"]
    return f"{summary.mean:.4f} ± {summary.std:.4f}"


def _delta(delta: PairedDelta, spec: str) -> str:
    return f"{delta.mean:+{spec}} (corrected 95 % CI {delta.low:+{spec}} to {delta.high:+{spec}})"


@main.command()
@click.argument("version")
@name_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write into [default: report-<first 12 hex digits of the version>].",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="The loan CSV the version was trained on [default: the shipped Lending Club sample].",
)
@pass_context
def report(
    context: CommandContext, version: str, name: str | None, out: Path | None, data: Path | None
) -> None:
    """Write an HTML evaluation report of VERSION (store version or artifact file) with PNG plots.

    ROC, precision-recall, calibration, score distribution by outcome, cost by threshold; a
    ten-band score table; the top reasons across declines; the stored metrics and money with
    their intervals. The curves come from the version's holdout, rebuilt from its training data.
    """
    if importlib.util.find_spec("matplotlib") is None:
        raise click.ClickException(
            "loanapp report draws its plots with matplotlib, which is not installed: "
            "pip install 'loanapp[report]'"
        )
    from loanapp.report.figures import score_holdout
    from loanapp.report.page import PAGE, render_page
    from loanapp.report.plots import draw_plots
    from loanapp.training.data import load_dataset

    artifact, version_id = _load_artifact(context, context.model_name(name), version)
    holdout = score_holdout(artifact, version_id, load_dataset(data))
    folder = out or Path(f"report-{version_id[:12]}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for plot in draw_plots(holdout, folder):
            click.echo(f"wrote {plot}")
        (folder / PAGE).write_text(render_page(holdout), encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot write the report into {folder}: {exc.strerror}") from exc
    click.echo(f"wrote {folder / PAGE}")


def _load_artifact(context: CommandContext, name: str, reference: str) -> tuple[bytes, str]:
    """Artifact bytes and version id: a file if `reference` is one, else a stored version."""
    path = Path(reference)
    if path.is_file():
        data = path.read_bytes()
        return data, compute_version(data)
    version = context.registry.resolve_version(name, reference)
    return context.registry.load_artifact_bytes(version), version
