"""The prediction log's writer: lines, partitions, rotation, atomic finish, drops and sampling."""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY

from loanapp.logs import request_id_var
from loanapp.predlog.files import FINISHED_SUFFIX, PART_SUFFIX
from loanapp.predlog.log import PredictionLog

COLUMNS: dict[str, list[Any]] = {
    "int_rate": [13.99, 21.5, 7.0],
    "term": ["term_36", "term_60", "term_36"],
}
PROBABILITIES = np.array([[0.9, 0.1], [0.3, 0.7], [0.95, 0.05]])
LABELS = np.array([0, 1, 0])
REASONS: list[Any] = [[], [{"feature": "int_rate", "value": 21.5}], []]


def finished_files(root: Path) -> list[Path]:
    return sorted(root.rglob(f"*{FINISHED_SUFFIX}"))


def parts(root: Path) -> list[Path]:
    return sorted(root.rglob(f"*{PART_SUFFIX}"))


def read_lines(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in finished_files(root) for line in gzip.open(path, "rt")]


def dropped() -> float:
    return REGISTRY.get_sample_value("loanapp_prediction_log_dropped_total") or 0.0


def written() -> float:
    return REGISTRY.get_sample_value("loanapp_prediction_log_written_total") or 0.0


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll until `check()` holds (a bound, not an assertion on time)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.fixture
def new_log(tmp_path: Path) -> Iterator[Callable[..., PredictionLog]]:
    """Makes logs under tmp_path/log; each one is stopped at the end."""
    made: list[PredictionLog] = []

    def make(**options: Any) -> PredictionLog:
        log = PredictionLog(tmp_path / "log", "loan", **options)
        made.append(log)
        return log

    yield make
    for log in made:
        log.stop()


def submit(log: PredictionLog, version: str = "v1") -> None:
    log.submit(version, 1, COLUMNS, 3, PROBABILITIES, LABELS, REASONS)


def test_each_row_is_one_line_in_its_model_and_date_partition(
    new_log: Callable[..., PredictionLog], tmp_path: Path
) -> None:
    log = new_log()
    log.start()
    token = request_id_var.set("req-1")
    try:
        submit(log)
    finally:
        request_id_var.reset(token)
    log.stop()

    (path,) = finished_files(tmp_path / "log")
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert path.parent == tmp_path / "log" / "model=loan" / f"date={day}"
    assert path.name.startswith("predictions-")
    lines = read_lines(tmp_path / "log")
    assert [line["row"] for line in lines] == [0, 1, 2]
    assert [line["decision"] for line in lines] == ["approve", "decline", "approve"]
    assert [line["p_bad"] for line in lines] == [0.1, 0.7, 0.05]
    assert lines[1]["input"] == {"int_rate": 21.5, "term": "term_60"}
    assert lines[1]["reasons"] == [{"feature": "int_rate", "value": 21.5}]
    assert "reasons" not in lines[0]
    assert {line["request_id"] for line in lines} == {"req-1"}
    assert {line["model_version"] for line in lines} == {"v1"}
    assert lines[0]["time"].startswith(day)
    assert parts(tmp_path / "log") == []


def test_a_file_is_finished_by_size_and_every_row_kept(
    new_log: Callable[..., PredictionLog], tmp_path: Path
) -> None:
    log = new_log(max_bytes=300)  # about one request's lines
    log.start()
    for _ in range(5):
        submit(log)
        wait_for(lambda: not log._queue)
    log.stop()
    assert len(finished_files(tmp_path / "log")) >= 4
    assert len(read_lines(tmp_path / "log")) == 15
    assert parts(tmp_path / "log") == []


def test_an_open_file_is_a_part_until_finished_by_age(
    new_log: Callable[..., PredictionLog], tmp_path: Path
) -> None:
    log = new_log(max_seconds=3600)
    log.start()
    submit(log)
    wait_for(lambda: bool(parts(tmp_path / "log")))
    assert finished_files(tmp_path / "log") == []  # readers see nothing half-written
    log._files.max_seconds = 0.05  # the file is now old enough
    wait_for(lambda: bool(finished_files(tmp_path / "log")))
    assert parts(tmp_path / "log") == []
    assert len(read_lines(tmp_path / "log")) == 3


def test_a_full_queue_drops_rows_and_counts_them(new_log: Callable[..., PredictionLog]) -> None:
    log = new_log(queue_size=6)  # not started: nothing drains the queue; two requests fit
    before = dropped()
    for _ in range(5):
        submit(log)
    assert len(log._queue) == 2
    assert dropped() - before == 9  # three requests of three rows


def test_rows_that_cannot_be_written_are_counted_and_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    (tmp_path / "log").write_text("a file where the folder should be")
    log = PredictionLog(tmp_path / "log", "loan")
    log.start()
    before_dropped, before_written = dropped(), written()
    submit(log)
    wait_for(lambda: dropped() - before_dropped == 3)
    (tmp_path / "log").unlink()
    submit(log)
    wait_for(lambda: written() - before_written == 3)
    log.stop()
    assert len(read_lines(tmp_path / "log")) == 3


@pytest.mark.parametrize(
    ("sample", "low", "high"), [(0.0, 0, 0), (0.25, 400, 600), (1.0, 2000, 2000)]
)
def test_the_sample_rate_is_the_share_of_requests_recorded(
    new_log: Callable[..., PredictionLog], sample: float, low: int, high: int
) -> None:
    random.seed(12)
    log = new_log(sample=sample, queue_size=6000)
    for _ in range(2000):
        submit(log)
    assert low <= len(log._queue) <= high


def test_the_writer_thread_ends_with_the_main_thread_after_writing_the_queue(
    tmp_path: Path,
) -> None:
    """A worker process that exits without its stop (no atexit in granian's workers)."""
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from pathlib import Path\n"
        "from loanapp.predlog.log import PredictionLog\n"
        f"log = PredictionLog(Path({str(tmp_path / 'log')!r}), 'loan', max_seconds=3600)\n"
        "log.start()\n"
        "for _ in range(100):\n"
        "    log.submit('v1', 1, {'x': [1.0, 2.0]}, 2, np.array([[0.5, 0.5]] * 2), [1, 0])\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert len(read_lines(tmp_path / "log")) == 200
    assert parts(tmp_path / "log") == []
