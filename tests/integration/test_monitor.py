"""End to end: real services log what they decide; `loanapp monitor` finds drift only where it is.

Traffic drawn from the shipped data goes through both services (two predict-API workers), which
are then stopped; `loanapp monitor --json` over their prediction log must call every feature
stable. A copy of the log with `int_rate` raised by 5 points must call `int_rate` "act" and leave
every other feature stable.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import urllib3

from loanapp.predlog.files import FINISHED_SUFFIX, PART_SUFFIX
from loanapp.training.data import load_dataset
from loanapp.training.options import TrainingOptions
from loanapp.training.train import TrainingResult, train_model
from tests.integration.conftest import stack_for

pytestmark = pytest.mark.integration

BATCHES = 10
BATCH_ROWS = 200
SINGLES = 40


@pytest.fixture(scope="module")
def full_logreg() -> TrainingResult:
    """A model trained on all the shipped data, so its profile is the data's own."""
    return train_model(load_dataset(), TrainingOptions(model_type="logreg", folds=3, repeats=1))


def run_monitor(store: Path, log: Path, *options: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "loanapp", "--store", str(store), "monitor", "--log", str(log),
         "--json", *options],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def shifted_copy(log: Path, target: Path, feature: str, shift: float) -> None:
    """The log with `feature` raised by `shift` in every row, in the same layout."""
    for path in log.rglob(f"*{FINISHED_SUFFIX}"):
        with gzip.open(path, "rt") as lines:
            rows = [json.loads(line) for line in lines]
        for row in rows:
            row["input"][feature] += shift
        copy = target / path.relative_to(log)
        copy.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(copy, "wt") as out:
            out.writelines(json.dumps(row) + "\n" for row in rows)


def send_traffic(url: str) -> int:
    """Rows drawn with replacement from the shipped data: batches, then single applicants."""
    features = load_dataset().features
    draw = np.random.default_rng(5).integers(0, len(features), BATCHES * BATCH_ROWS + SINGLES)
    rows = features.iloc[draw].to_dict("records")
    pool = urllib3.PoolManager(retries=False)
    for start in range(0, BATCHES * BATCH_ROWS, BATCH_ROWS):
        body = rows[start : start + BATCH_ROWS]
        response = pool.request("POST", url + "/predict/batch", json=body, timeout=30.0)
        assert response.status == 200, response.data[:300]
    for row in rows[BATCHES * BATCH_ROWS :]:
        response = pool.request("POST", url + "/predict", json=row, timeout=30.0)
        assert response.status == 200, response.data[:300]
    return len(rows)


def test_monitor_finds_drift_only_where_there_is_some(
    tmp_path: Path, full_logreg: TrainingResult
) -> None:
    stack = stack_for(tmp_path)
    stack.registry().publish(full_logreg.artifact, actor="test", alias="production")
    with stack:
        sent = send_traffic(stack.predict_api_url)
    log = Path(stack.prediction_log)
    assert list(log.rglob(f"*{PART_SUFFIX}")) == []  # the workers finished their files

    report = run_monitor(tmp_path / "store", log)
    assert report["rows"] == sent
    assert list(report["versions"]) == [full_logreg.version]
    statuses = {name: entry["status"] for name, entry in report["features"].items()}
    assert set(statuses) == set(load_dataset().features.columns)
    assert set(statuses.values()) == {"stable"}, report["features"]
    assert report["score"]["status"] == "stable", report["score"]
    assert sum(day["rows"] for day in report["days"]) == sent

    shifted_copy(log, tmp_path / "shifted", "int_rate", 5.0)
    shifted = run_monitor(tmp_path / "store", tmp_path / "shifted")
    assert shifted["features"]["int_rate"]["status"] == "act"
    others = {n: e["status"] for n, e in shifted["features"].items() if n != "int_rate"}
    assert set(others.values()) == {"stable"}, shifted["features"]
