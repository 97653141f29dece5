"""`loanapp train`: fit, evaluate and write an artifact (scikit-learn is imported only here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from loanapp.artifacts import Estimate, MoneyFigures
from loanapp.cli.base import CommandContext, main, name_option, pass_context
from loanapp.errors import InvalidInputError
from loanapp.training.options import (
    DEFAULT_COST_OF_DEFAULT,
    DEFAULT_COST_OF_REJECTED_GOOD,
    DEFAULT_MODEL_TYPE,
    DEFAULT_REPEATS,
    DEFAULT_SEED,
    TRAINABLE_MODEL_TYPES,
    TrainingOptions,
)

OptionTarget = TypeVar("OptionTarget", bound=Callable[..., Any])


def _cost_option(flag: str, default: float, when: str) -> Callable[[OptionTarget], OptionTarget]:
    """A positive cost, as a share of the loan, that the decision threshold weighs."""
    return click.option(
        flag,
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=True,
        help=f"Cost when {when} (share of the loan).",
    )


@main.command()
@click.option(
    "--model",
    "model_type",
    type=click.Choice(TRAINABLE_MODEL_TYPES),
    help="What to fit; baseline gives everyone the base rate (the reference to beat).",
    default=DEFAULT_MODEL_TYPE,
    show_default=True,
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Loan CSV [default: the shipped Lending Club sample].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where to write the artifact.",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=DEFAULT_REPEATS,
    show_default=True,
    help="Rounds of 5-fold cross-validation, each with other folds (1 is quicker).",
)
@_cost_option("--cost-of-default", DEFAULT_COST_OF_DEFAULT, "an approved applicant defaults")
@_cost_option(
    "--cost-of-rejected-good", DEFAULT_COST_OF_REJECTED_GOOD, "a good applicant is rejected"
)
@name_option
@pass_context
def train(
    context: CommandContext,
    model_type: Any,
    data: Path | None,
    out: Path,
    seed: int,
    repeats: int,
    cost_of_default: float,
    cost_of_rejected_good: float,
    name: str | None,
) -> None:
    """Fit, evaluate and write a model artifact; print its metrics and version (SHA-256)."""
    from loanapp.training.data import load_dataset
    from loanapp.training.train import train_model

    options = TrainingOptions(
        model_type=model_type,
        name=context.model_name(name),
        seed=seed,
        repeats=repeats,
        cost_of_default=cost_of_default,
        cost_of_rejected_good=cost_of_rejected_good,
    )
    dataset = load_dataset(data)
    click.echo(f"training {model_type} on {dataset.source} ({len(dataset.target)} rows)", err=True)
    result = train_model(dataset, options, progress=lambda message: click.echo(message, err=True))
    try:
        out.write_bytes(result.artifact)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {out}: {exc.strerror}") from exc
    metrics = result.metadata.metrics
    width = max(len("metric"), *map(len, metrics.cross_validation))
    click.echo(f"{'metric':<{width}} {'cv mean':>9} {'cv std':>8} {'holdout':>9}")
    for metric, summary in metrics.cross_validation.items():
        click.echo(
            f"{metric:<{width}} {summary.mean:>9.4f} {summary.std:>8.4f} "
            f"{metrics.holdout[metric]:>9.4f}"
        )
    if metrics.holdout_roc_auc_interval is not None:
        low, high = metrics.holdout_roc_auc_interval
        click.echo(f"holdout roc_auc 95% bootstrap interval {low:.4f} to {high:.4f}")
    matrix = metrics.holdout_confusion_matrix
    decision = result.metadata.decision
    click.echo(
        f"threshold {decision.threshold:g} (p(bad) >= threshold rejects); on the holdout: "
        f"{matrix.true_positive} defaults caught, {matrix.false_negative} missed, "
        f"{matrix.false_positive} good loans rejected, {matrix.true_negative} approved"
    )
    for money in (metrics.money, metrics.holdout_money):
        if money is not None:
            click.echo(_money_line(money))
    click.echo(f"version {result.version}")
    click.echo(f"wrote {out} ({len(result.artifact)} bytes)")


def _money_line(money: MoneyFigures) -> str:
    """Cost per applicant and the savings against the two trivial rules, with intervals."""

    def figure(estimate: Estimate) -> str:
        return f"{estimate.value:+.5f} ({estimate.low:+.5f} to {estimate.high:+.5f})"

    basis = "out-of-fold" if money.basis != "holdout" else "holdout"
    return (
        f"money ({basis}, {money.applicants} applicants, loan units per applicant, 95% "
        f"bootstrap): cost {figure(money.model)}; saves {figure(money.saving_vs_approve_everyone)} "
        f"vs approving everyone, {figure(money.saving_vs_int_rate_rule)} vs int_rate >= "
        f"{money.int_rate_cutoff:g}"
    )
