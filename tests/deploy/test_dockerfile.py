"""deploy/Dockerfile: hadolint finds nothing, and the images run what the code can run."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from loanapp import healthcheck
from loanapp.services import SERVICES
from tests.deploy.manifests import (
    DOCKERFILE,
    ROOT,
    SETTINGS_OF_SERVICE,
    Image,
    Stage,
    option_value,
    parse_loanapp,
    stage_chain,
    tool,
    unknown_variables,
)

TARGETS = sorted(SERVICES)
# Only our own config: no ~/.config/hadolint.yaml or HADOLINT_* variable can relax the rules.
HADOLINT_CONFIG = "failure-threshold: style\nignored: []\n"


def hadolint(dockerfile: Path, tmp_path: Path) -> list[dict[str, object]]:
    config = tmp_path / "hadolint.yaml"
    config.write_text(HADOLINT_CONFIG)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    result = subprocess.run(
        [
            str(tool("hadolint")),
            "--no-color",
            "--format=json",
            f"--config={config}",
            str(dockerfile),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    findings: list[dict[str, object]] = json.loads(result.stdout)
    return findings


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    findings = hadolint(DOCKERFILE, tmp_path)
    assert findings == [], "\n".join(
        f"line {f['line']}: {f['code']} {f['message']}" for f in findings
    )


def test_hadolint_checks_for_real(tmp_path: Path) -> None:
    """The same invocation flags a bad Dockerfile, so 'no findings' means something."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\n")
    codes = {finding["code"] for finding in hadolint(bad, tmp_path)}
    assert {"DL3007", "DL3013", "DL3042"} <= codes


def test_every_hadolint_ignore_says_why() -> None:
    for number, line in enumerate(DOCKERFILE.read_text().splitlines(), start=1):
        if "hadolint ignore=" in line:
            reason = re.sub(r"#\s*hadolint ignore=\S+", "", line).strip(" #-")
            assert len(reason) > 10, f"line {number}: an ignore needs its reason on the line"


def test_base_image_is_a_pinned_slim_python(stages: dict[str, Stage]) -> None:
    external = {stage.base for stage in stages.values() if stage.base not in stages}
    assert len(external) == 1, f"builder and runtime share one base image: {external}"
    (base,) = external
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base


def test_dependencies_are_installed_from_the_constraints_before_the_code(
    stages: dict[str, Stage],
) -> None:
    builder = stages["builder"].instructions
    copied = [rest for keyword, rest in builder if keyword == "COPY"]
    assert copied[0].split()[:-1] == ["pyproject.toml", "constraints.txt"]
    runs = [i for i, (keyword, _) in enumerate(builder) if keyword == "RUN"]
    copy_src = next(i for i, (k, rest) in enumerate(builder) if k == "COPY" and "src" in rest)
    install_dependencies = next(i for i in runs if "--constraint constraints.txt" in builder[i][1])
    assert install_dependencies < copy_src
    for _, rest in builder:
        if "pip" in rest and " install " in rest:
            assert "--no-cache-dir" in rest, rest


def test_runtime_has_only_the_venv_a_user_and_no_build_tools(stages: dict[str, Stage]) -> None:
    runtime = stages["runtime"].instructions
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert len(users) == 1
    uid, _, gid = users[0].partition(":")
    assert uid.isdigit(), "a numeric USER, so runAsNonRoot can check it"
    assert int(uid) > 0
    assert gid.isdigit()
    for stage in ("runtime", *TARGETS):
        for keyword, rest in stages[stage].instructions:
            assert keyword != "USER" or stage == "runtime", f"{stage} changes the user"
            # Installs nothing (it removes the base image's pip: tests/containers checks it).
            installs = r"apt-get|gcc|build-essential|pip3? (install|download)|--python"
            assert not re.search(installs, rest), f"{stage}: {rest}"


@pytest.mark.parametrize("target", TARGETS)
def test_command_is_loanapp_serve_on_the_exposed_port(
    images: dict[str, Image], target: str
) -> None:
    image = images[target]
    command, params = parse_loanapp(image.argv)
    assert command == "serve"
    assert params["service"] == target
    assert params["host"] == "0.0.0.0"
    assert params["port"] == SERVICES[target].port
    assert image.exposed == [params["port"]]


def test_one_healthcheck_in_the_shared_runtime(stages: dict[str, Stage]) -> None:
    declared = {
        name: [rest for keyword, rest in stage.instructions if keyword == "HEALTHCHECK"]
        for name, stage in stages.items()
    }
    assert {name: len(found) for name, found in declared.items() if found} == {"runtime": 1}


@pytest.mark.parametrize("target", TARGETS)
def test_healthcheck_runs_the_module_on_a_real_route(
    images: dict[str, Image], routes: dict[str, set[str]], target: str
) -> None:
    image = images[target]
    assert image.healthcheck == ["python", "-m", healthcheck.__name__], "no curl in slim images"
    url = image.env[healthcheck.URL_VARIABLE]
    match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/\S*)", url)
    assert match, url
    assert int(match.group(1)) == int(option_value(image.argv, "--port"))
    assert match.group(2) == "/readyz"
    assert match.group(2) in routes[target]
    options = image.healthcheck_options
    assert {"interval", "timeout", "start-period", "retries"} <= set(options)
    # Docker Engine before 25 and podman 4 (buildah) refuse to build a file that has it.
    assert "start-interval" not in options
    # The module gives up, with its reason, before Docker would kill it without one.
    assert duration_seconds(options["timeout"]) > healthcheck.DEFAULT_TIMEOUT_SECONDS


def duration_seconds(text: str) -> float:
    """A Dockerfile duration such as 3s, 500ms or 1m30s, in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    assert "".join(number + unit for number, unit in parts) == text, text
    return sum(float(number) * units[unit] for number, unit in parts)


@pytest.mark.parametrize("target", TARGETS)
def test_image_environment(images: dict[str, Image], stages: dict[str, Stage], target: str) -> None:
    env = images[target].env
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    loanapp_names = {n for n in env if n.startswith(("LOANAPP_", "MODEL_"))}
    assert not unknown_variables(loanapp_names, SETTINGS_OF_SERVICE[target])
    # The folders the service writes to are created in the image and owned by its user, so a
    # fresh volume mounted there is writable.
    created = " ".join(rest for k, rest in stages["runtime"].instructions if k == "RUN")
    for name in ("LOANAPP_STORE", "LOANAPP_CACHE_DIR"):
        if name in env:
            assert re.search(rf"install -d -o loanapp -g loanapp .*{re.escape(env[name])}", created)
    expected = {"model-server": "LOANAPP_STORE", "predict-api": "LOANAPP_CACHE_DIR"}[target]
    assert expected in env


def test_dockerignore_keeps_only_what_the_build_copies(stages: dict[str, Stage]) -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allow-list: everything is excluded unless named"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources = {
        source
        for stage in stages.values()
        for keyword, rest in stage.instructions
        if keyword == "COPY" and not rest.startswith("--from")
        for source in rest.split()[:-1]
    }
    assert sources == allowed
    assert all((ROOT / source).exists() for source in sources)


def test_targets_extend_the_shared_runtime(stages: dict[str, Stage]) -> None:
    for target in TARGETS:
        assert [stage.name for stage in stage_chain(stages, target)] == ["runtime", target]
