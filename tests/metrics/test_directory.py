"""The per-start folder of a service, and the files of workers that are gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from loanapp.metrics.directory import (
    METRICS_SUBFOLDER,
    forget_dead_workers,
    is_alive,
    new_run_directory,
)


def dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_each_start_gets_a_fresh_empty_folder_and_folders_of_gone_starts_are_removed(
    tmp_path: Path,
) -> None:
    gone = tmp_path / f"loanapp-run-predict-api-{dead_pid()}-abc"
    alive = tmp_path / f"loanapp-run-predict-api-{os.getppid()}-def"
    other_service = tmp_path / f"loanapp-run-model-server-{dead_pid()}-ghi"
    earlier_life = tmp_path / f"loanapp-run-predict-api-{os.getpid()}-jkl"
    for folder in (gone, alive, other_service, earlier_life):
        (folder / METRICS_SUBFOLDER).mkdir(parents=True)
        (folder / METRICS_SUBFOLDER / "counter_1.db").write_bytes(b"x")

    first = new_run_directory("predict-api", parent=tmp_path)
    second = new_run_directory("predict-api", parent=tmp_path)

    assert first != second
    assert list((second / METRICS_SUBFOLDER).iterdir()) == []
    assert second.name.startswith(f"loanapp-run-predict-api-{os.getpid()}-")
    assert not gone.exists()
    assert not earlier_life.exists()
    assert not first.exists()  # made by this PID before: an earlier start of it
    assert alive.exists()
    assert other_service.exists()  # another service's starts are its own business


def test_live_gauge_files_of_dead_workers_are_removed_and_the_rest_kept(tmp_path: Path) -> None:
    dead, living = dead_pid(), os.getpid()
    names = [
        f"gauge_liveall_{dead}.db",
        f"gauge_livesum_{dead}.db",
        f"gauge_liveall_{living}.db",
        f"counter_{dead}.db",  # a dead worker's counts stay in the totals
        f"histogram_{dead}.db",
        f"gauge_all_{dead}.db",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"x")

    assert forget_dead_workers(tmp_path) == [dead]

    kept = [f"gauge_liveall_{living}.db", f"counter_{dead}.db", f"histogram_{dead}.db"]
    kept.append(f"gauge_all_{dead}.db")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(kept)


def test_a_zombie_counts_as_gone() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        # Not reaped yet: kill(0) still finds it until wait() below.
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        assert not is_alive(process.pid)
    finally:
        process.wait()
    assert is_alive(os.getpid())
    assert not is_alive(process.pid)
