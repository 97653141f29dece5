"""Registry commands: push, versions, show, promote, rollback, history, verify.

None of them imports pandas, scipy or scikit-learn; `push` loads the artifact's model through the
artifact loader, because the publish gate must prove that it loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from loanapp.artifacts import compute_version
from loanapp.cli.base import (
    CommandContext,
    alias_option,
    json_option,
    main,
    name_option,
    pass_context,
)
from loanapp.cli.signing import sign, sign_key_option
from loanapp.store.registry import AliasRecord
from loanapp.store.verify import verify_store


@main.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@name_option
@click.option(
    "--alias", default=None, help="Also point this alias at the version (e.g. production)."
)
@sign_key_option
@pass_context
def push(
    context: CommandContext, path: Path, name: str | None, alias: str | None, sign_key: Path | None
) -> None:
    """Publish an artifact file to the store (verified and test-loaded first)."""
    data = path.read_bytes()
    signatures = [] if sign_key is None else [sign(compute_version(data), sign_key)]
    record = context.registry.publish(
        data, actor=context.settings.actor, name=name, alias=alias, signatures=signatures
    )
    click.echo(f"published {record.name} {record.version}")
    for signature in signatures:
        click.echo(f"signed by key {signature.key_id}")
    if alias:
        click.echo(f"{alias} -> {record.version}")


@main.command()
@name_option
@json_option
@pass_context
def versions(context: CommandContext, name: str | None, as_json: bool) -> None:
    """List the versions of a model with their metrics and aliases."""
    name = context.model_name(name)
    summaries = context.registry.version_summaries(name)
    if as_json:
        click.echo(json.dumps(summaries, indent=2))
        return
    if not summaries:
        click.echo(f"no versions of {name!r} in {context.registry.store.uri}", err=True)
        return
    header = ("version", "published (UTC)", "type", "cv auc", "holdout auc", "aliases", "signed by")
    click.echo("{:<64}  {:<19}  {:<6}  {:>6}  {:>11}  {:<10}  {}".format(*header))
    for summary in summaries:
        published = summary["published_at"][:19].replace("T", " ")
        click.echo(
            f"{summary['version']}  {published}  {summary['model_type']:<6}  "
            f"{summary['cv_roc_auc']:>6.4f}  {summary['holdout_roc_auc']:>11.4f}  "
            f"{','.join(summary['aliases']):<10}  {','.join(summary['signed_by']) or '-'}"
        )


@main.command()
@click.argument("version")
@name_option
@pass_context
def show(context: CommandContext, version: str, name: str | None) -> None:
    """Print everything recorded about a version (full hash or unique prefix), as JSON."""
    record = context.registry.get_version(context.model_name(name), version)
    click.echo(record.model_dump_json(indent=2))


@main.command()
@click.argument("version")
@name_option
@alias_option
@click.option(
    "--force", is_flag=True, help="Promote even if the gate refuses (needs --reason; recorded)."
)
@click.option("--reason", default=None, help="Why: kept in the alias history with who did it.")
@pass_context
def promote(
    context: CommandContext,
    version: str,
    name: str | None,
    alias: str,
    force: bool,
    reason: str | None,
) -> None:
    """Point an alias at a published version, through the promotion gate.

    The gate compares the version with the alias's current one on the cross-validation folds both
    recorded at training and refuses it if the 95 % lower bound of its ROC-AUC difference is below
    -0.005, or if the two cannot be compared; --force --reason TEXT promotes anyway, recorded.
    """
    record = context.registry.promote(
        context.model_name(name),
        version,
        actor=context.settings.actor,
        alias=alias,
        force=force,
        reason=reason,
    )
    _echo_change(record)


@main.command()
@name_option
@alias_option
@pass_context
def rollback(context: CommandContext, name: str | None, alias: str) -> None:
    """Point an alias back at the version it had before the current one."""
    record = context.registry.rollback(
        context.model_name(name), actor=context.settings.actor, alias=alias
    )
    _echo_change(record)


@main.command()
@name_option
@alias_option
@json_option
@pass_context
def history(context: CommandContext, name: str | None, alias: str, as_json: bool) -> None:
    """Show every change of an alias: when, who, from which version to which."""
    record = context.registry.get_alias(context.model_name(name), alias)
    if as_json:
        click.echo(record.model_dump_json(indent=2))
        return
    for change in record.history:
        forced = "  FORCED" if change.forced else ""
        why = f"  ({change.reason})" if change.reason else ""
        click.echo(
            f"{change.revision:>4}  {change.at:%Y-%m-%d %H:%M:%S}  {change.action:<8}  "
            f"{(change.previous or '-')[:12]:<12} -> {change.version[:12]}  by {change.by}"
            f"{forced}{why}"
        )


@main.command()
@click.option("--name", default=None, help="Check only this model [default: every model].")
@pass_context
def verify(context: CommandContext, name: str | None) -> None:
    """Check every blob against its hash, and every version record, alias and history entry.

    Prints one line per problem and a summary; exits with 1 if anything is wrong.
    """
    report = verify_store(context.registry.store, name)
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(report.summary())
    if not report.ok:
        raise click.exceptions.Exit(1)


def _echo_change(record: AliasRecord) -> None:
    change = record.history[-1]
    forced = ", forced past the gate" if change.forced else ""
    click.echo(
        f"{record.alias}: {change.previous or '(unset)'} -> {change.version} "
        f"({change.action}, revision {change.revision}{forced})"
    )
