"""Typed settings, read from the environment once, at the edge (the CLI and the wsgi modules)."""

from __future__ import annotations

import getpass
import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from loanapp.store.objects import DEFAULT_STORE_URI
from loanapp.training.train import DEFAULT_MODEL_NAME


def default_actor() -> str:
    """`user@host` of this process, recorded as who published or moved an alias."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class Settings(BaseSettings):
    """Settings of the CLI and both services; field `x` comes from LOANAPP_X in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="LOANAPP_", frozen=True, extra="ignore", protected_namespaces=()
    )

    store: str = Field(
        DEFAULT_STORE_URI,
        description="Model store: a folder path or file:// URI (the default, a local folder).",
    )
    model_name: str = Field(
        DEFAULT_MODEL_NAME, description="Model name that commands and services act on."
    )
    actor: str = Field(
        default_factory=default_actor,
        description="Who publishes and promotes, as recorded in the alias history.",
    )
