"""`loanapp compare` and `loanapp report`: how good a version is, and against which other.

`compare` reads only metadata (no pandas, scipy or scikit-learn); `report` recomputes the
out-of-fold and holdout predictions and draws them, so it imports those, and matplotlib.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from loanapp.artifacts import ArtifactMetadata, compute_version, read_metadata
from loanapp.cli.base import CommandContext, json_option, main, name_option, pass_context
from loanapp.comparison import GATE_THRESHOLD, Comparison, PairedDelta, compare


def _load_metadata(
    context: CommandContext, name: str, reference: str
) -> tuple[str, ArtifactMetadata]:
    """A version's id and metadata: an artifact file if `reference` is one, else a version of
    the model in the store (full hash or unique prefix)."""
    path = Path(reference)
    if path.is_file():
        data = path.read_bytes()
        version = compute_version(data)
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
