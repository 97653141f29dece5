"""`loanapp report`: an HTML page naming every plot, the PNG files beside it, from the holdout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loanapp.cli import main
from loanapp.report.plots import PLOTS
from loanapp.training.data import load_dataset
from loanapp.training.options import TrainingOptions
from loanapp.training.train import TrainingResult, train_model
from tests.factories import small_dataset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained_on_a_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainingResult]:
    """A logreg trained on a CSV file (so the report can rebuild its holdout from it)."""
    folder = tmp_path_factory.mktemp("report-data")
    sample = small_dataset(rows=1500)
    frame = sample.features.assign(Class=["bad" if y else "good" for y in sample.target])
    csv = folder / "loans.csv"
    frame.to_csv(csv, index=False)
    result = train_model(load_dataset(csv), TrainingOptions(folds=3, repeats=1))
    (folder / "model.bin").write_bytes(result.artifact)
    return csv, result


def test_the_report_names_every_plot_and_writes_it(
    tmp_path: Path, trained_on_a_file: tuple[Path, TrainingResult]
) -> None:
    csv, result = trained_on_a_file
    out = tmp_path / "report"
    runner = CliRunner()
    store = ["--store", str(tmp_path / "store")]
    assert runner.invoke(main, [*store, "push", str(csv.parent / "model.bin")]).exit_code == 0
    written = runner.invoke(
        main, [*store, "report", result.version[:10], "--data", str(csv), "--out", str(out)]
    )
    assert written.exit_code == 0, written.output
    page = (out / "index.html").read_text(encoding="utf-8")
    for name, title in PLOTS.items():
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE), name
        assert f'<img src="{name}" alt="{title}">' in page
    metrics = result.metadata.metrics
    assert f"{metrics.cross_validation['roc_auc'].mean:.4f} ± " in page
    assert "saving vs approving everyone" in page
    assert page.count("<tr>") >= 10 + 1 + len(metrics.cross_validation)  # ten bands and more
    holdout = metrics.holdout_confusion_matrix
    declines = holdout.true_positive + holdout.false_positive
    assert f"Top reasons across the {declines} declined holdout applicants" in page
    assert "addr_state" not in page.split("Top reasons")[1]  # never named as a reason
    assert "int_rate" in page.split("Top reasons")[1]


def test_the_report_refuses_other_data(
    tmp_path: Path, trained_on_a_file: tuple[Path, TrainingResult]
) -> None:
    csv, result = trained_on_a_file
    refused = CliRunner().invoke(main, ["report", str(csv.parent / "model.bin")])
    assert refused.exit_code == 1
    assert f"version {result.version[:12]} was trained on {csv}" in refused.output
    assert "give that data with --data" in refused.output


def test_the_report_says_what_is_missing_without_matplotlib(
    tmp_path: Path, logreg: TrainingResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def without_matplotlib(name: str, *args: Any) -> Any:
        return None if name == "matplotlib" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_matplotlib)
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(logreg.artifact)
    result = CliRunner().invoke(main, ["report", str(artifact)])
    assert result.exit_code == 1
    assert "pip install 'loanapp[report]'" in result.output
