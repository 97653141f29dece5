"""Typed settings, read from the environment once, at the edge (the CLI and the wsgi modules).

Every field `x` of a settings class comes from the variable LOANAPP_X, except the few that keep the
names the original deployment used (MODEL_URI, MODEL_SHA256, MODEL_SERVER_URL); those accept the
LOANAPP_ form too.
"""

from __future__ import annotations

import getpass
import socket
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from loanapp.defaults import DEFAULT_ALIAS, DEFAULT_MODEL_NAME, DEFAULT_STORE_URI
from loanapp.errors import InvalidInputError
from loanapp.logs import LogFormat

PREDICTION_LOG_OFF = "off"
"""The value of LOANAPP_PREDICTION_LOG that records nothing."""

PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "admin", "token", "password"})


def default_actor() -> str:
    """`user@host` of this process, recorded as who published or moved an alias."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _unprefixed(name: str) -> AliasChoices:
    return AliasChoices(name, f"LOANAPP_{name}")


class Settings(BaseSettings):
    """Settings of the CLI; the services' settings extend these."""

    model_config = SettingsConfigDict(
        env_prefix="LOANAPP_", frozen=True, extra="ignore", protected_namespaces=()
    )

    store: str = Field(
        DEFAULT_STORE_URI,
        description="Model store: a folder path, a file:// URI, or s3://bucket/prefix.",
    )
    model_name: str = Field(DEFAULT_MODEL_NAME, description="Model name to act on and serve.")
    actor: str = Field(
        default_factory=default_actor,
        description="Who publishes and promotes, as recorded in the alias history.",
    )
    environment: Literal["development", "production"] = Field(
        "development",
        description="In production, placeholder secrets such as 'changeme' are refused.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Level of the services' logs."
    )
    log_format: LogFormat = Field(
        "text",
        description="Services' log lines: 'text' for a terminal, 'json' (one object a line).",
    )


class ModelServerSettings(Settings):
    """Settings of the internal model server."""

    alias: str = Field(
        DEFAULT_ALIAS, description="Alias whose version is 'current' (registry mode)."
    )
    model_uri: str | None = Field(
        None,
        validation_alias=_unprefixed("MODEL_URI"),
        description="Pinned mode: path or file:// URI of the one artifact to serve.",
    )
    model_sha256: str | None = Field(
        None,
        validation_alias=_unprefixed("MODEL_SHA256"),
        description="Pinned mode: expected SHA-256 of MODEL_URI; start fails on a mismatch.",
    )
    admin_token: str | None = Field(
        None, description="Bearer token for uploads and alias changes; unset disables them (403)."
    )
    store_poll_seconds: float = Field(
        0.5, gt=0, description="How often each worker rereads the alias record from the store."
    )
    max_wait_seconds: float = Field(
        30.0, gt=0, description="Longest long-poll a client may ask for on the current version."
    )
    max_long_polls: int = Field(
        16, ge=1, description="Long-polls held at once per worker; more are answered at once."
    )
    max_upload_bytes: int = Field(
        64 * 1024 * 1024, gt=0, description="Largest artifact accepted by the upload endpoint."
    )
    fleet_max_workers: int = Field(
        256, ge=1, description="Most predict-API workers each worker keeps in its fleet view."
    )
    fleet_forget_seconds: float = Field(
        120.0,
        gt=0,
        description=(
            "A predict-API worker not heard from for this long leaves the fleet view (at least "
            "twice max_wait_seconds, since a worker holding a long-poll asks again only then)."
        ),
    )
    ui_read_token: str | None = Field(
        None,
        description=(
            "When set, /ui pages and /v1/fleet need it (HTTP Basic password, any user name, or "
            "Bearer); unset, they are open like the other reads of this internal service."
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> ModelServerSettings:
        if (self.model_uri is None) != (self.model_sha256 is None):
            raise ValueError("MODEL_URI and MODEL_SHA256 must be set together (pinned mode)")
        if self.environment == "production":
            for variable, token in (
                ("LOANAPP_ADMIN_TOKEN", self.admin_token),
                ("LOANAPP_UI_READ_TOKEN", self.ui_read_token),
            ):
                if token is not None and (token.lower() in PLACEHOLDER_SECRETS or len(token) < 16):
                    raise ValueError(
                        f"{variable} is a placeholder or shorter than 16 characters; "
                        "set a real secret in production"
                    )
        return self

    @property
    def fleet_forget_after_seconds(self) -> float:
        """fleet_forget_seconds, raised to twice the longest long-poll: a worker holding one is
        alive, and asks again only when it ends."""
        return max(self.fleet_forget_seconds, 2 * self.max_wait_seconds)

    @property
    def pinned_artifact(self) -> tuple[str, str] | None:
        """(MODEL_URI, MODEL_SHA256) in pinned mode, None in registry mode."""
        if self.model_uri is None or self.model_sha256 is None:
            return None
        return self.model_uri, self.model_sha256


class PredictApiSettings(Settings):
    """Settings of the external predict API."""

    model_server_url: str = Field(
        "http://127.0.0.1:8001",
        validation_alias=_unprefixed("MODEL_SERVER_URL"),
        description="Base URL of the model server.",
    )
    cache_dir: Path = Field(
        Path("./predict-cache"),
        description="Verified artifacts kept here; the API can start with the model server down.",
    )
    max_batch_rows: int = Field(1000, ge=1, description="Most rows accepted by /predict/batch.")
    max_body_bytes: int = Field(
        4 * 1024 * 1024, gt=0, description="Largest request body accepted (413 above)."
    )
    model_threads: int = Field(
        1,
        ge=1,
        description="Math-library threads per worker (OpenMP/BLAS), set with threadpoolctl.",
    )
    wait_seconds: float = Field(
        8.0,
        gt=0,
        description="Long-poll duration asked of the model server (below its graceful timeout).",
    )
    retry_max_seconds: float = Field(
        5.0, gt=0, description="Longest pause between retries after a failed update."
    )
    trusted_keys: str | None = Field(
        None,
        description=(
            "Comma-separated paths of Ed25519 public keys (PEM); when set, a worker serves only "
            "versions signed by one of them, and checks the signatures itself."
        ),
    )
    startup_wait_seconds: float = Field(
        5.0,
        gt=0,
        description=(
            "How long a starting worker tries to reach the model server before it serves the "
            "version its cache last had from it (not ready meanwhile); a prediction request "
            "reaching a worker this young with no model yet waits for its first one."
        ),
    )

    prediction_log: str = Field(
        "./prediction-log",
        description=(
            "Where every decision is recorded: a folder, s3://bucket/prefix (files are written "
            "in LOANAPP_PREDICTION_LOG_SPOOL, then shipped), or 'off'."
        ),
    )
    prediction_log_sample: float = Field(
        1.0, ge=0, le=1, description="Share of prediction requests recorded (0 to 1)."
    )
    prediction_log_spool: Path = Field(
        Path("./prediction-log"),
        description="With an s3:// prediction log: files are written here, deleted once uploaded.",
    )
    prediction_log_max_bytes: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="A prediction-log file is finished after this many bytes of JSON lines.",
    )
    prediction_log_max_seconds: float = Field(
        300.0, gt=0, description="A prediction-log file is finished this long after it was opened."
    )
    prediction_log_queue: int = Field(
        10_000,
        ge=1,
        description="Rows waiting to be written, per worker; requests past them are dropped "
        "and counted.",
    )

    @property
    def trusted_key_files(self) -> list[Path]:
        """The files of LOANAPP_TRUSTED_KEYS; empty when no signature is required."""
        return [Path(part.strip()) for part in (self.trusted_keys or "").split(",") if part.strip()]


SettingsT = TypeVar("SettingsT", bound=Settings)


def load_settings(settings_class: type[SettingsT], **overrides: Any) -> SettingsT:
    """Read settings from the environment (plus overrides); a bad value is an InvalidInputError."""
    try:
        return settings_class(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidInputError(f"invalid configuration: {problems}") from exc
