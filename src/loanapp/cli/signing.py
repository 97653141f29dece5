"""Signing commands: make a key pair, sign a published version; the option `push` shares."""

from __future__ import annotations

from pathlib import Path

import click

from loanapp.cli.base import CommandContext, main, name_option, pass_context
from loanapp.signing import (
    DEFAULT_KEY_NAME,
    VersionSignature,
    generate_key_pair,
    key_id_of,
    load_private_key,
    sign_version,
)

sign_key_option = click.option(
    "--sign-key",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="LOANAPP_SIGNING_KEY",
    default=None,
    help="Ed25519 private key (PEM) to sign the version with [default: LOANAPP_SIGNING_KEY].",
)


def sign(version: str, key_path: Path) -> VersionSignature:
    """The signature of `version` by the private key in `key_path`."""
    return sign_version(version, load_private_key(key_path))


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder for the key files.",
)
@click.option(
    "--key-name", default=DEFAULT_KEY_NAME, show_default=True, help="File name of the key pair."
)
def keygen(out: Path, key_name: str) -> None:
    """Make an Ed25519 key pair: NAME.key (private, owner-only) and NAME.pub."""
    private_path, public_path = generate_key_pair(out, key_name)
    key_id = key_id_of(load_private_key(private_path).public_key())
    click.echo(f"private key {private_path} (keep it secret; sign with --sign-key)")
    click.echo(f"public key  {public_path} (give it to the predict API: LOANAPP_TRUSTED_KEYS)")
    click.echo(f"key id      {key_id}")


@main.command("sign")
@click.argument("version")
@name_option
@sign_key_option
@pass_context
def sign_command(
    context: CommandContext, version: str, name: str | None, sign_key: Path | None
) -> None:
    """Sign a published version (full hash or unique prefix) and keep the signature with it."""
    if sign_key is None:
        raise click.UsageError("give --sign-key or set LOANAPP_SIGNING_KEY")
    name = context.model_name(name)
    registry = context.registry
    version = registry.resolve_version(name, version)
    signature = sign(version, sign_key)
    registry.signatures.add(name, version, signature)
    click.echo(f"{name} {version} signed by key {signature.key_id}")
