"""The `loanapp` command group, its shared options, and the context every command gets."""

from __future__ import annotations

from typing import Any

import click

from loanapp.defaults import DEFAULT_ALIAS
from loanapp.errors import LoanappError
from loanapp.settings import Settings, load_settings
from loanapp.store.registry import ModelRegistry
from loanapp.store.uri import open_store


class _Group(click.Group):
    """Turns loanapp's own errors into one-line messages and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LoanappError as exc:
            raise click.ClickException(exc.message) from exc


class CommandContext:
    """Settings and the registry, built once per command from options and the environment."""

    def __init__(self, store: str | None) -> None:
        overrides = {"store": store} if store else {}
        self.settings = load_settings(Settings, **overrides)
        self._registry: ModelRegistry | None = None

    @property
    def registry(self) -> ModelRegistry:
        """The registry over the configured store, opened on first use."""
        if self._registry is None:
            self._registry = ModelRegistry(open_store(self.settings.store))
        return self._registry

    def model_name(self, name: str | None) -> str:
        """The model a command acts on: `--name`, else LOANAPP_MODEL_NAME."""
        return name or self.settings.model_name


pass_context = click.make_pass_decorator(CommandContext)
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
    ctx.obj = CommandContext(store)
