"""What each process imports: the layers stay apart, and light entry points stay light.

Each check runs in a fresh interpreter, because the test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loanapp.store.registry import ModelRegistry
from loanapp.training.train import TrainingResult

HEAVY = ("pandas", "scipy", "sklearn")


def modules_loaded_by(script: str, prefixes: tuple[str, ...]) -> list[str]:
    """Modules starting with one of `prefixes` that `script` leaves in sys.modules."""
    probe = (
        f"{script}\n"
        "import json, sys\n"
        f"prefixes = {prefixes!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in prefixes\n"
        "    or any(m.startswith(p + '.') or m == p for p in prefixes))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def test_the_predict_api_loads_no_store_module() -> None:
    script = "from loanapp.predict_api.app import create_app\ncreate_app(follow=False)"
    assert modules_loaded_by(script, ("loanapp.store",)) == []


def test_the_probe_sees_what_a_module_loads() -> None:
    """The checks above would pass vacuously if the probe saw nothing."""
    assert "loanapp.store.registry" in modules_loaded_by(
        "import loanapp.model_server.app", ("loanapp.store",)
    )
    assert "sklearn" in modules_loaded_by("import loanapp.training.train", HEAVY)


def test_the_predict_api_loads_no_training_or_development_module() -> None:
    script = "import loanapp.predict_api.app"
    loaded = modules_loaded_by(script, ("loanapp.training", "loanapp.dev", "loanapp.cli"))
    assert loaded == []


def test_the_compiled_runtime_holds_no_compiler() -> None:
    import loanapp.compiled

    assert not hasattr(loanapp.compiled, "compile_pipeline")
    assert modules_loaded_by("import loanapp.compiled", HEAVY) == []


@pytest.fixture
def published_store(registry: ModelRegistry, logreg: TrainingResult) -> Path:
    registry.publish(logreg.artifact, actor="test", alias="production")
    root: Path = registry.store.root  # type: ignore[attr-defined]
    return root


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        ["versions"],
        ["versions", "--json"],
        ["show", "{version}"],
        ["history"],
        ["promote", "{version}"],
        ["rollback", "--alias", "missing"],
        ["verify"],
        ["compare", "{version}", "{version}"],
    ],
)
def test_registry_commands_load_no_pandas_scipy_or_scikit_learn(
    arguments: list[str], published_store: Path, logreg: TrainingResult
) -> None:
    argv = ["--store", str(published_store)] + [
        a.format(version=logreg.version[:12]) for a in arguments
    ]
    script = (
        "from loanapp.cli import main\n"
        "try:\n"
        f"    main.main(args={argv!r}, prog_name='loanapp')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, 1, None), exit.code\n"
    )
    assert modules_loaded_by(script, HEAVY) == []
