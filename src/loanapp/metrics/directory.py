"""The folder of one service start (its workers' metrics files), and the files of workers gone.

prometheus_client's multiprocess mode has every worker write its values to memory-mapped files in
PROMETHEUS_MULTIPROC_DIR, and /metrics merges the files of all workers. The folder must be empty
when the service starts (old files would add yesterday's counts) and shared by the workers only,
so `loanapp serve` makes a fresh one per start under the temporary folder (the one writable place
in a read-only container), with `metrics/` inside. Its name holds the PID of the service's main
process, so that a later start can remove the folders of starts that are gone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Final

MULTIPROCESS_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
"""The variable prometheus_client reads, once, when it is first imported in a worker."""

FOLDER_PREFIX: Final = "loanapp-run-"
METRICS_SUBFOLDER: Final = "metrics"
# prometheus_client names a live gauge's file gauge_<mode>_<pid>.db.
_LIVE_GAUGE_FILE: Final = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def new_run_directory(service: str, parent: Path | None = None) -> Path:
    """A fresh folder for one start of `service`, with an empty `metrics/` (METRICS_SUBFOLDER)
    inside; the folders of earlier starts that are gone are removed.

    The PID in the name is this process's, which `loanapp serve` hands on to granian by exec.
    """
    parent = parent or Path(tempfile.gettempdir())
    pid = os.getpid()
    prefix = f"{FOLDER_PREFIX}{service}-"
    for folder in parent.glob(f"{prefix}*-*"):
        owner = folder.name[len(prefix) :].split("-", 1)[0]
        # A folder named after this very PID is from an earlier life of it (a container restarted
        # with the same PID 1): this start has not made its folder yet.
        if owner.isdigit() and (int(owner) == pid or not is_alive(int(owner))):
            # Another start may be removing the same folder at this moment.
            shutil.rmtree(folder, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{pid}-", dir=parent))
    (folder / METRICS_SUBFOLDER).mkdir()
    return folder


def forget_dead_workers(directory: Path) -> list[int]:
    """Remove the live-gauge files of workers that are gone; the PIDs whose files went.

    granian replaces a worker that dies but tells nobody, so the workers call this themselves (at
    start and at every scrape). It does what prometheus_client's `mark_process_dead` does, but a
    file another worker removed first is no error. Counters and histograms of a dead worker stay:
    their totals still count what it served.
    """
    gone: set[int] = set()
    for path in directory.glob("gauge_live*_*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match and not is_alive(pid := int(match.group(1))):
            path.unlink(missing_ok=True)
            gone.add(pid)
    return sorted(gone)


def is_alive(pid: int) -> bool:
    """True while process `pid` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:  # gone since kill(0), or a system without /proc
        return not Path("/proc/self").exists()
    return stat.rpartition(")")[2].split()[0] != "Z"
