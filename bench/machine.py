"""The machine, library versions and environment a run had, as the report shows them."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "loanapp",
    "scikit-learn",
    "numpy",
    "pandas",
    "granian",
    "gunicorn",
    "flask",
    "werkzeug",
    "orjson",
    "threadpoolctl",
    "urllib3",
    "matplotlib",
)
ENVIRONMENT_SHOWN = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "MKL_NUM_THREADS",
    "LOANAPP_MODEL_THREADS",
    "LOANAPP_MAX_BATCH_ROWS",
)
# Prefixes of variables that change how the servers run (any set at all is shown).
PREFIXES_SHOWN = ("GRANIAN_", "GUNICORN_")


def machine_info() -> dict[str, str]:
    """CPU model, cores, memory, OS."""
    cpu = "unknown"
    memory = "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": platform.platform(),
    }


def library_versions(wrk_version: str) -> dict[str, str]:
    """Python, the packages that matter here, and wrk."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["wrk"] = wrk_version
    return versions


def environment_shown() -> dict[str, str]:
    """The environment variables that change how the services compute or serve, as this run had
    them: the named ones, set or not, and every server option set in the environment."""
    shown = {name: os.environ.get(name, "unset") for name in ENVIRONMENT_SHOWN}
    return shown | {
        name: value for name, value in sorted(os.environ.items()) if name.startswith(PREFIXES_SHOWN)
    }
