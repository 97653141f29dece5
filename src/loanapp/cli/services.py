"""Service commands: serve one service, bring both up locally, bootstrap a store, run the demo."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import click

from loanapp.cli.base import CommandContext, main, name_option, pass_context
from loanapp.logs import granian_logging_config
from loanapp.metrics.directory import METRICS_SUBFOLDER, MULTIPROCESS_VARIABLE, new_run_directory
from loanapp.services import SERVICES, server_command
from loanapp.settings import ModelServerSettings, PredictApiSettings, load_settings


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
    help="Worker processes [default: 2].",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads per worker that run requests [default: 4 predict-api, 32 model-server].",
)
@pass_context
def serve(
    context: CommandContext,
    service: str,
    host: str,
    port: int | None,
    workers: int | None,
    threads: int | None,
) -> None:
    """Run a service under granian (this process becomes granian's main process)."""
    spec = SERVICES[service]
    if service == "model-server":
        _check_pinned_artifact(load_settings(ModelServerSettings, store=context.settings.store))
    else:
        _check_trusted_keys(load_settings(PredictApiSettings))
    run_directory = new_run_directory(service)
    # Always a fresh folder of our own, whatever the environment says: the workers' metrics files
    # must start empty at every start.
    environment = dict(
        os.environ,
        LOANAPP_STORE=context.settings.store,
        **{MULTIPROCESS_VARIABLE: str(run_directory / METRICS_SUBFOLDER)},
    )
    log_config = None
    if context.settings.log_format == "json":
        log_config = run_directory / "granian-logging.json"
        log_config.write_text(json.dumps(granian_logging_config(service)))
    command = server_command(
        service,
        host=host,
        port=port or spec.port,
        workers=workers or spec.workers,
        threads=threads or spec.threads,
        log_config=log_config,
    )
    os.execve(command[0], command, environment)


def _check_pinned_artifact(settings: ModelServerSettings) -> None:
    """In pinned mode, fail here, with the two hashes, rather than in every worker."""
    if settings.pinned_artifact is None:
        return
    from loanapp.model_server.pinned import PinnedCatalog

    model_uri, model_sha256 = settings.pinned_artifact
    pinned = PinnedCatalog.from_uri(model_uri, model_sha256)
    click.echo(f"pinned mode: serving {model_uri} ({pinned.record.version})", err=True)


def _check_trusted_keys(settings: PredictApiSettings) -> None:
    """With LOANAPP_TRUSTED_KEYS, fail here on an unreadable key rather than in every worker."""
    if not settings.trusted_key_files:
        return
    from loanapp.predict_api.trust import TrustPolicy

    trusted = TrustPolicy.from_files(settings.trusted_key_files).trusted_keys
    click.echo(f"serving only versions signed by key {', '.join(sorted(trusted))}", err=True)


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
def up(
    context: CommandContext, host: str, port: int, model_server_port: int, work_dir: Path
) -> None:
    """Start both services locally (training a default model if the store is empty)."""
    from loanapp.dev.stack import LocalStack
    from loanapp.dev.traffic import sample_rows
    from loanapp.training.default_model import ensure_default_model

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
        click.echo(f"decisions     {stack.prediction_log} (read with `loanapp monitor --log`)")
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
def bootstrap(context: CommandContext, name: str | None) -> None:
    """Publish and promote the default model if the store has none (a container's first start)."""
    from loanapp.training.default_model import ensure_default_model

    name = context.model_name(name)
    registry = context.registry
    version = ensure_default_model(registry, name, context.settings.actor, click.echo)
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
    from loanapp.dev.demo import run_demo

    if not run_demo(work_dir):
        raise click.ClickException("the demo saw failed requests (see above)")
