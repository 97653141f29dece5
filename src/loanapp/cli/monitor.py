"""`loanapp monitor`: the drift of logged decisions from the training data of their versions."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loanapp.cli.base import CommandContext, json_option, main, pass_context
from loanapp.errors import InvalidInputError, LoanappError
from loanapp.monitoring.profile import TrainingProfile
from loanapp.settings import PREDICTION_LOG_OFF, PredictApiSettings, load_settings

if TYPE_CHECKING:
    import pandas as pd


def _check_date(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> str | None:
    if value is not None:
        try:
            dt.date.fromisoformat(value)
        except ValueError as exc:
            raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    return value


@main.command()
@click.option(
    "--log",
    "log_target",
    metavar="FOLDER|s3://BUCKET/PREFIX",
    default=None,
    help="Prediction log [default: LOANAPP_PREDICTION_LOG or ./prediction-log].",
)
@click.option(
    "--since", default=None, callback=_check_date, help="First day to include (YYYY-MM-DD, UTC)."
)
@json_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write an HTML report with plots (index.html) into this folder.",
)
@pass_context
def monitor(
    context: CommandContext,
    log_target: str | None,
    since: str | None,
    as_json: bool,
    out: Path | None,
) -> None:
    """PSI of every feature and of the score, per version, against its training data."""
    from loanapp.monitoring.report import build_report, report_table

    root = (log_target or _configured_log()).strip()
    rows = _read_log(root, since)
    if rows.empty:
        raise InvalidInputError(
            f"prediction log {root} holds no rows" + (f" since {since}" if since else "")
        )
    report = build_report(rows, lambda version: _profile_of(context, version))
    if not report["versions"]:
        raise InvalidInputError(
            "no logged version can be compared: "
            + "; ".join(f"{v[:12]}: {reason}" for v, reason in report["skipped"].items())
        )
    if out is not None:
        from loanapp.monitoring.html import write_html_report

        write_html_report(report, rows, out)
    click.echo(json.dumps(report, indent=2) if as_json else report_table(report))
    if out is not None and not as_json:
        click.echo(f"\nHTML report: {out / 'index.html'}")


def _configured_log() -> str:
    """What LOANAPP_PREDICTION_LOG names (the services' setting, with its default)."""
    target = load_settings(PredictApiSettings).prediction_log.strip()
    if target.lower() == PREDICTION_LOG_OFF:
        raise InvalidInputError("LOANAPP_PREDICTION_LOG is off: name a prediction log with --log")
    return target


def _read_log(target: str, since: str | None) -> pd.DataFrame:
    """The logged rows of a folder, or of a bucket prefix (downloaded to a temporary folder)."""
    from loanapp.predlog.reading import download_log, read_frame

    if not target.startswith("s3://"):
        return read_frame(Path(target), since)
    from loanapp.store.s3 import S3Store

    with tempfile.TemporaryDirectory(prefix="loanapp-monitor-") as folder:
        return read_frame(download_log(S3Store.from_uri(target), Path(folder), since), since)


def _profile_of(context: CommandContext, version: str) -> TrainingProfile | str:
    """The training profile in the artifact of `version`, or why there is none."""
    from loanapp.artifacts import read_metadata

    try:
        metadata = read_metadata(context.registry.load_artifact_bytes(version), version)
    except LoanappError as exc:
        return f"not readable from the store {context.settings.store}: {exc.message}"
    if metadata.training_profile is None:
        return "its artifact has no training profile (trained before they were stored); retrain it"
    return metadata.training_profile
