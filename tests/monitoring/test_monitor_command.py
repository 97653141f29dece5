"""`loanapp monitor` over a log written by the real writer, and a store holding the version."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from loanapp.artifacts import compute_version
from loanapp.cli import main
from loanapp.predlog.log import PredictionLog
from loanapp.store.registry import ModelRegistry
from loanapp.training.train import TrainingResult
from tests.factories import rebuild, small_dataset


def write_log(root: Path, version: str, rows: int = 400) -> None:
    """`rows` rows of the small sample, scored as if by `version`, written and finished."""
    frame = small_dataset().features.head(rows)
    columns = {name: frame[name].tolist() for name in frame.columns}
    p_bad = np.linspace(0.01, 0.3, rows)
    log = PredictionLog(root, "loan")
    log.start()
    log.submit(version, 1, columns, rows, np.column_stack([1 - p_bad, p_bad]), p_bad >= 0.2)
    log.stop()


def monitor(store: Path, log: Path, *options: str) -> tuple[int, str]:
    arguments = ["--store", str(store), "monitor", "--log", str(log), *options]
    result = CliRunner().invoke(main, arguments)
    return result.exit_code, result.output


def test_json_report_of_a_version_in_the_store(
    registry: ModelRegistry, tmp_path: Path, logreg: TrainingResult
) -> None:
    registry.publish(logreg.artifact, actor="test", alias="production")
    write_log(tmp_path / "log", logreg.version)
    code, output = monitor(tmp_path / "store", tmp_path / "log", "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["rows"] == 400
    assert set(report["features"]) == set(small_dataset().features.columns)
    assert {"psi", "status"} <= set(report["features"]["int_rate"])
    assert report["score"]["approval_rate"] == pytest.approx(0.655, abs=0.01)
    assert report["days"][0]["rows"] == 400


def test_since_leaves_out_earlier_days(
    registry: ModelRegistry, tmp_path: Path, logreg: TrainingResult
) -> None:
    registry.publish(logreg.artifact, actor="test", alias="production")
    write_log(tmp_path / "log", logreg.version)
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    code, output = monitor(tmp_path / "store", tmp_path / "log", "--since", tomorrow)
    assert code == 1
    assert f"holds no rows since {tomorrow}" in output
    code, output = monitor(tmp_path / "store", tmp_path / "log", "--since", "2024-02-30")
    assert code == 2
    assert "'2024-02-30' is not a date" in output


def test_a_version_without_a_training_profile_is_named_with_the_reason(
    registry: ModelRegistry, tmp_path: Path, logreg: TrainingResult
) -> None:
    older = rebuild(logreg.artifact, training_profile=None)
    version = registry.publish(older, actor="test").version
    assert version == compute_version(older)
    write_log(tmp_path / "log", version)
    code, output = monitor(tmp_path / "store", tmp_path / "log")
    assert code == 1
    assert f"{version[:12]}: its artifact has no training profile" in output


def test_out_writes_an_html_page_with_plots(
    registry: ModelRegistry, tmp_path: Path, logreg: TrainingResult
) -> None:
    registry.publish(logreg.artifact, actor="test", alias="production")
    write_log(tmp_path / "log", logreg.version)
    code, output = monitor(tmp_path / "store", tmp_path / "log", "--out", str(tmp_path / "html"))
    assert code == 0, output
    page = (tmp_path / "html" / "index.html").read_text()
    assert page.count("<svg") == 4
    assert "int_rate" in page
    assert "score p(bad)" in output
