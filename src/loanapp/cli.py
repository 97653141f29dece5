"""The `loanapp` command: thin calls into training, artifacts and the registry."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from loanapp.demo import run_demo
from loanapp.errors import InvalidInputError, LoanappError
from loanapp.model_server.pinned import PinnedCatalog
from loanapp.serving import SERVICES, gunicorn_command
from loanapp.settings import ModelServerSettings, PredictApiSettings, Settings, load_settings
from loanapp.stack import LocalStack, ensure_default_model
from loanapp.store.objects import open_store
from loanapp.store.registry import DEFAULT_ALIAS, AliasRecord, ModelRegistry, VersionRecord
from loanapp.traffic import sample_rows
from loanapp.training.data import load_dataset
from loanapp.training.pipelines import MODEL_TYPES
from loanapp.training.train import (
    DEFAULT_COST_OF_DEFAULT,
    DEFAULT_COST_OF_REJECTED_GOOD,
    DEFAULT_SEED,
    TrainingOptions,
    train_model,
)


class _Group(click.Group):
    """Turns loanapp's own errors into one-line messages and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LoanappError as exc:
            raise click.ClickException(exc.message) from exc


class _Context:
    """Settings and the registry, built once per command from options and the environment."""

    def __init__(self, store: str | None) -> None:
        overrides = {"store": store} if store else {}
        self.settings = load_settings(Settings, **overrides)
        self._registry: ModelRegistry | None = None

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry(open_store(self.settings.store))
        return self._registry


pass_context = click.make_pass_decorator(_Context)
name_option = click.option(
    "--name", default=None, help="Model name [default: LOANAPP_MODEL_NAME or 'loan']."
)
alias_option = click.option(
    "--alias", default=DEFAULT_ALIAS, show_default=True, help="Alias to act on."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    metavar="URI",
    help="Model store: folder, file:// or s3:// URI [default: LOANAPP_STORE or ./model-store].",
)
@click.version_option(package_name="loanapp")
@click.pass_context
def main(ctx: click.Context, store: str | None) -> None:
    """Train, publish, promote and roll back versions of the loan-default model."""
    ctx.obj = _Context(store)


@main.command()
@click.option(
    "--model", "model_type", type=click.Choice(MODEL_TYPES), default="logreg", show_default=True
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
    "--cost-of-default",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_COST_OF_DEFAULT,
    show_default=True,
    help="Loss when an approved applicant defaults (share of the loan).",
)
@click.option(
    "--cost-of-rejected-good",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_COST_OF_REJECTED_GOOD,
    show_default=True,
    help="Margin lost when a good applicant is rejected (share of the loan).",
)
@name_option
@pass_context
def train(
    context: _Context,
    model_type: Any,
    data: Path | None,
    out: Path,
    seed: int,
    cost_of_default: float,
    cost_of_rejected_good: float,
    name: str | None,
) -> None:
    """Fit, evaluate and write a model artifact; print its metrics and version (SHA-256)."""
    options = TrainingOptions(
        model_type=model_type,
        name=name or context.settings.model_name,
        seed=seed,
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
    click.echo(f"{'metric':<10} {'cv mean':>9} {'cv std':>8} {'holdout':>9}")
    for metric, summary in metrics.cross_validation.items():
        click.echo(
            f"{metric:<10} {summary.mean:>9.4f} {summary.std:>8.4f} {metrics.holdout[metric]:>9.4f}"
        )
    matrix = metrics.holdout_confusion_matrix
    decision = result.metadata.decision
    click.echo(
        f"threshold {decision.threshold:g} (p(bad) >= threshold rejects); on the holdout: "
        f"{matrix.true_positive} defaults caught, {matrix.false_negative} missed, "
        f"{matrix.false_positive} good loans rejected, {matrix.true_negative} approved"
    )
    click.echo(f"version {result.version}")
    click.echo(f"wrote {out} ({len(result.artifact)} bytes)")


@main.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@name_option
@click.option(
    "--alias", default=None, help="Also point this alias at the version (e.g. production)."
)
@pass_context
def push(context: _Context, path: Path, name: str | None, alias: str | None) -> None:
    """Publish an artifact file to the store (verified and test-loaded first)."""
    registry = context.registry
    record = registry.publish(path.read_bytes(), actor=context.settings.actor, name=name)
    click.echo(f"published {record.name} {record.version}")
    if alias:
        alias_record = registry.promote(
            record.name, record.version, actor=context.settings.actor, alias=alias
        )
        click.echo(f"{alias} -> {alias_record.version}")


@main.command()
@name_option
@json_option
@pass_context
def versions(context: _Context, name: str | None, as_json: bool) -> None:
    """List the versions of a model with their metrics and aliases."""
    registry = context.registry
    name = name or context.settings.model_name
    records = registry.list_versions(name)
    aliases = _aliases_by_version(registry, name)
    if as_json:
        click.echo(
            json.dumps([_version_summary(r, aliases.get(r.version, [])) for r in records], indent=2)
        )
        return
    if not records:
        click.echo(f"no versions of {name!r} in {registry.store.uri}", err=True)
        return
    header = ("version", "published (UTC)", "type", "cv auc", "holdout auc", "aliases")
    click.echo("{:<64}  {:<19}  {:<6}  {:>6}  {:>11}  {}".format(*header))
    for record in records:
        metrics = record.metadata.metrics
        click.echo(
            f"{record.version}  {record.published_at:%Y-%m-%d %H:%M:%S}  "
            f"{record.metadata.model_type:<6}  {metrics.cross_validation['roc_auc'].mean:>6.4f}  "
            f"{metrics.holdout['roc_auc']:>11.4f}  {','.join(aliases.get(record.version, []))}"
        )


@main.command()
@click.argument("version")
@name_option
@pass_context
def show(context: _Context, version: str, name: str | None) -> None:
    """Print everything recorded about a version (full hash or unique prefix), as JSON."""
    record = context.registry.get_version(name or context.settings.model_name, version)
    click.echo(record.model_dump_json(indent=2))


@main.command()
@click.argument("version")
@name_option
@alias_option
@pass_context
def promote(context: _Context, version: str, name: str | None, alias: str) -> None:
    """Point an alias at a published version."""
    record = context.registry.promote(
        name or context.settings.model_name, version, actor=context.settings.actor, alias=alias
    )
    _echo_change(record)


@main.command()
@name_option
@alias_option
@pass_context
def rollback(context: _Context, name: str | None, alias: str) -> None:
    """Point an alias back at the version it had before the current one."""
    record = context.registry.rollback(
        name or context.settings.model_name, actor=context.settings.actor, alias=alias
    )
    _echo_change(record)


@main.command()
@name_option
@alias_option
@json_option
@pass_context
def history(context: _Context, name: str | None, alias: str, as_json: bool) -> None:
    """Show every change of an alias: when, who, from which version to which."""
    record = context.registry.get_alias(name or context.settings.model_name, alias)
    if as_json:
        click.echo(record.model_dump_json(indent=2))
        return
    for change in record.history:
        click.echo(
            f"{change.revision:>4}  {change.at:%Y-%m-%d %H:%M:%S}  {change.action:<8}  "
            f"{(change.previous or '-')[:12]:<12} -> {change.version[:12]}  by {change.by}"
        )


@main.command()
@click.argument("service", type=click.Choice(sorted(SERVICES)))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=int, default=None, help="Port [default: 8000 predict-api, 8001 model-server]."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="gunicorn worker processes [default: 2].",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads per worker [default: 4 predict-api, 32 model-server].",
)
@pass_context
def serve(
    context: _Context,
    service: str,
    host: str,
    port: int | None,
    workers: int | None,
    threads: int | None,
) -> None:
    """Run a service under gunicorn (this process becomes the gunicorn master)."""
    spec = SERVICES[service]
    environment = dict(os.environ, LOANAPP_STORE=context.settings.store)
    if service == "model-server":
        settings = load_settings(ModelServerSettings, store=context.settings.store)
        if settings.model_uri is not None and settings.model_sha256 is not None:
            # Fail here, with the two hashes, rather than in every gunicorn worker.
            pinned = PinnedCatalog.from_uri(settings.model_uri, settings.model_sha256)
            click.echo(
                f"pinned mode: serving {settings.model_uri} ({pinned.record.version})", err=True
            )
    else:
        load_settings(PredictApiSettings)
    command = gunicorn_command(
        service,
        host=host,
        port=port or spec.port,
        workers=workers or spec.workers,
        threads=threads or spec.threads,
    )
    os.execve(command[0], command, environment)


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address both services listen on."
)
@click.option("--port", type=int, default=8000, show_default=True, help="Predict API port.")
@click.option("--model-server-port", type=int, default=8001, show_default=True)
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build/up"),
    show_default=True,
    help="Logs and the predict API's cache.",
)
@pass_context
def up(context: _Context, host: str, port: int, model_server_port: int, work_dir: Path) -> None:
    """Start both services locally (training a default model if the store is empty)."""
    settings = context.settings
    version = ensure_default_model(
        context.registry, settings.model_name, settings.actor, lambda m: click.echo(m, err=True)
    )
    stack = LocalStack(
        store=settings.store,
        work_dir=work_dir,
        host=host,
        model_server_port=model_server_port,
        predict_api_port=port,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        stack.start()
        click.echo(f"model server  {stack.model_server_url}  (store {settings.store})")
        click.echo(f"predict API   {stack.predict_api_url}  (serving {version[:12]})")
        click.echo(f"logs          {work_dir}/model-server.log, {work_dir}/predict-api.log")
        click.echo("try:")
        click.echo(
            f"  curl -s {stack.predict_api_url}/predict -H 'Content-Type: application/json' \\"
        )
        click.echo(f"       -d '{json.dumps(sample_rows(1)[0])}'")
        click.echo("Ctrl-C stops both services.")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


@main.command()
@name_option
@pass_context
def bootstrap(context: _Context, name: str | None) -> None:
    """Publish and promote the default model if the store has none (a container's first start)."""
    settings = context.settings
    name = name or settings.model_name
    registry = context.registry
    version = ensure_default_model(registry, name, settings.actor, click.echo)
    click.echo(f"{name}: production is {version}")
    if registry.store.uri.startswith("file:"):
        click.echo("pinned mode, to serve exactly this version:")
        click.echo(f"MODEL_URI={registry.store.uri}/blobs/sha256/{version}")
        click.echo(f"MODEL_SHA256={version}")


@main.command()
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build/demo"),
    show_default=True,
)
def demo(work_dir: Path) -> None:
    """Run, swap, roll back and restart under live traffic; fail if any request failed."""
    if not run_demo(work_dir):
        raise click.ClickException("the demo saw failed requests (see above)")


def _echo_change(record: AliasRecord) -> None:
    change = record.history[-1]
    click.echo(
        f"{record.alias}: {change.previous or '(unset)'} -> {change.version} "
        f"({change.action}, revision {change.revision})"
    )


def _aliases_by_version(registry: ModelRegistry, name: str) -> dict[str, list[str]]:
    aliases: dict[str, list[str]] = {}
    for alias in registry.list_aliases(name):
        aliases.setdefault(registry.get_alias(name, alias).version, []).append(alias)
    return aliases


def _version_summary(record: VersionRecord, aliases: list[str]) -> dict[str, Any]:
    metrics = record.metadata.metrics
    return {
        "version": record.version,
        "name": record.name,
        "published_at": record.published_at.isoformat(),
        "published_by": record.published_by,
        "created_at": record.metadata.created_at.isoformat(),
        "model_type": record.metadata.model_type,
        "cv_roc_auc": metrics.cross_validation["roc_auc"].mean,
        "holdout_roc_auc": metrics.holdout["roc_auc"],
        "threshold": record.metadata.decision.threshold,
        "aliases": aliases,
    }
