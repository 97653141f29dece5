"""Readers for the files in deploy/: the Dockerfile, the compose file, the rendered overlays.

Small and strict on purpose: each reader understands only the forms our files use and fails
loudly on anything else, so a test never passes because it silently read nothing.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, TypeAdapter

from loanapp.healthcheck import URL_VARIABLE as HEALTHCHECK_URL_VARIABLE
from loanapp.services import SERVICES
from loanapp.settings import ModelServerSettings, PredictApiSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
# The Compose Specification's JSON Schema, as the dev dependency check-jsonschema ships it.
COMPOSE_SCHEMA_PACKAGE = "check_jsonschema.builtin_schemas.vendor"
COMPOSE_SCHEMA_NAME = "compose-spec"
NGINX_CONF = DEPLOY / "nginx.conf"
KUSTOMIZE_BASE = DEPLOY / "k8s" / "base"
OVERLAYS = {path.name: path for path in sorted((DEPLOY / "k8s" / "overlays").iterdir())}

# The Kubernetes versions the manifests are validated against: the oldest we support and the
# newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

# Which settings class reads a container's environment, by the service it runs.
SETTINGS_OF_SERVICE: dict[str, type[Settings]] = {
    "model-server": ModelServerSettings,
    "predict-api": PredictApiSettings,
}
# The variables the S3 backend's client (obstore) reads, and the health check's; any GRANIAN_*
# variable is an option of the server.
AWS_VARIABLES = frozenset(
    {
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ALLOW_HTTP",
    }
)
OTHER_VARIABLES = frozenset({HEALTHCHECK_URL_VARIABLE})
SERVER_PREFIX = "GRANIAN_"


def tool(name: str) -> Path:
    """An executable installed into this virtualenv by a dev dependency (hadolint, kubectl)."""
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        if (folder / name).is_file():
            return folder / name
    raise AssertionError(f"no {name} next to {sys.executable}: install the dev extras")


# --- settings ----------------------------------------------------------------------------------


def setting_fields(settings_class: type[Settings]) -> dict[str, str]:
    """The field each variable of a settings class sets: LOANAPP_<FIELD>, or the field's aliases."""
    prefix = settings_class.model_config.get("env_prefix", "")
    fields: dict[str, str] = {}
    for name, info in settings_class.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            fields |= {choice.upper(): name for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            fields[alias.upper()] = name
        else:
            fields[f"{prefix}{name}".upper()] = name
    return fields


def setting_variables(settings_class: type[Settings]) -> set[str]:
    """Every variable a settings class reads."""
    return set(setting_fields(settings_class))


def settings_not_taken(settings: Settings, environment: Mapping[str, str]) -> dict[str, str]:
    """The variables whose value the loaded settings do not hold (each parsed as its field's
    type), with what the settings hold instead; {} when every setting came from the environment."""
    fields = setting_fields(type(settings))
    differing = {}
    for name, value in environment.items():
        if name in fields:
            annotation = type(settings).model_fields[fields[name]].annotation
            assert annotation is not None
            loaded = getattr(settings, fields[name])
            if TypeAdapter(annotation).validate_python(value) != loaded:
                differing[name] = f"{value!r} became {loaded!r}"
    return differing


def unknown_variables(names: set[str], settings_class: type[Settings]) -> set[str]:
    """The names that no setting, no S3 client variable and no server option explains."""
    known = setting_variables(settings_class) | AWS_VARIABLES | OTHER_VARIABLES
    return {name for name in names - known if not name.startswith(SERVER_PREFIX)}


# --- Dockerfile --------------------------------------------------------------------------------


@dataclass
class Stage:
    """One FROM ... AS name stage: its base and its instructions in order."""

    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Image:
    """What a target inherits along its chain of stages."""

    target: str
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    exposed: list[int]
    healthcheck: list[str]
    healthcheck_options: dict[str, str]

    @property
    def argv(self) -> list[str]:
        """ENTRYPOINT followed by CMD: the process the container runs."""
        return [*self.entrypoint, *self.cmd]


def logical_lines(text: str) -> Iterator[str]:
    """Instructions with their continuation lines joined and comment lines dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"


def parse_dockerfile(path: Path = DOCKERFILE) -> dict[str, Stage]:
    """The stages of a Dockerfile by name, ARG defaults before the first FROM substituted."""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG" and current is None:
            name, _, default = rest.partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest, flags=re.IGNORECASE)
            assert match, f"every stage is named: FROM {rest}"
            base = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], match.group(1))
            current = stages[match.group(2)] = Stage(match.group(2), base)
        else:
            assert current is not None, f"{keyword} before the first FROM"
            current.instructions.append((keyword, rest))
    return stages


def stage_chain(stages: Mapping[str, Stage], target: str) -> list[Stage]:
    """The stages a target is built on, from the external base image to the target."""
    chain = [stages[target]]
    while chain[0].base in stages:
        chain.insert(0, stages[chain[0].base])
    return chain


def exec_form(text: str) -> list[str]:
    """The JSON array of an exec-form ENTRYPOINT, CMD or HEALTHCHECK CMD."""
    value = json.loads(text)
    assert isinstance(value, list), f"not exec form: {text}"
    assert all(isinstance(item, str) for item in value)
    return value


def env_pairs(text: str) -> dict[str, str]:
    """The KEY=VALUE pairs of one ENV instruction."""
    pairs = {}
    for item in shlex.split(text):
        name, equals, value = item.partition("=")
        assert equals, f"ENV in KEY=VALUE form only: {text}"
        pairs[name] = value
    return pairs


def image_of(stages: Mapping[str, Stage], target: str) -> Image:
    """ENTRYPOINT, CMD, ENV, EXPOSE and HEALTHCHECK of a target, with Docker's inheritance."""
    image = Image(target, [], [], {}, [], [], {})
    for stage in stage_chain(stages, target):
        for keyword, rest in stage.instructions:
            if keyword == "ENTRYPOINT":
                image.entrypoint, image.cmd = exec_form(rest), []  # ENTRYPOINT resets CMD
            elif keyword == "CMD":
                image.cmd = exec_form(rest)
            elif keyword == "ENV":
                image.env |= env_pairs(rest)
            elif keyword == "EXPOSE":
                image.exposed += [int(port.split("/")[0]) for port in rest.split()]
            elif keyword == "HEALTHCHECK":
                options, _, command = rest.partition("CMD ")
                image.healthcheck = exec_form(command)
                image.healthcheck_options = dict(
                    option.removeprefix("--").split("=", 1) for option in options.split()
                )
    return image


def option_value(argv: list[str], option: str) -> str:
    """The value after `option` in a command line."""
    assert argv.count(option) == 1, f"{option} exactly once in {argv}"
    return argv[argv.index(option) + 1]


def with_options(argv: list[str], **values: str) -> list[str]:
    """The command line with the values of some `--option`s replaced, nothing else changed."""
    result = list(argv)
    for name, value in values.items():
        option = f"--{name}"
        option_value(result, option)
        result[result.index(option) + 1] = value
    return result


def service_of(argv: list[str]) -> str:
    """Which service a `loanapp serve <service> ...` command line runs."""
    assert argv[:2] == ["loanapp", "serve"], argv
    assert argv[2] in SERVICES, argv
    return argv[2]


def urls_in(argv: list[str]) -> list[str]:
    """The http:// URLs inside a health-check command."""
    return re.findall(r"http://[^\s'\"]+", " ".join(argv))


# --- compose -----------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariableError(AssertionError):
    """A ${NAME:?message} with NAME unset: compose refuses to start, as it should."""


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message} forms ($$ is a literal $)."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        given = variables.get(name)
        empty_means_unset = op is not None and op.startswith(":")
        if given is not None and not (empty_means_unset and given == ""):
            return given
        if op is not None and op.endswith("?"):
            raise MissingVariableError(f"{name}: {arg}")
        return arg if op is not None else ""

    assert "$" not in _VARIABLE.sub("", value.replace("$$", "")), f"unparsed $ in {value!r}"
    return _VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def load_compose_schema() -> dict[str, Any]:
    """The Compose Specification schema from check-jsonschema, checked against the SHA-256 that
    check-jsonschema records for it."""
    vendor = importlib.resources.files(COMPOSE_SCHEMA_PACKAGE)
    data = vendor.joinpath(f"{COMPOSE_SCHEMA_NAME}.json").read_bytes()
    recorded = vendor.joinpath("sha256", f"{COMPOSE_SCHEMA_NAME}.sha256").read_text().strip()
    assert hashlib.sha256(data).hexdigest() == recorded, "compose-spec.json differs from its digest"
    schema = json.loads(data)
    assert isinstance(schema, dict)
    return schema


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as compose sees it after YAML (anchors and merge keys resolved)."""
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def compose_environment(service: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's environment as a mapping; None for a name without a value (taken from the
    shell or .env, and unset in the container when neither has it)."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        pairs = [item.partition("=") for item in environment]
        return {name: value if equals else None for name, equals, value in pairs}
    return {name: None if value is None else str(value) for name, value in environment.items()}


def compose_argv(service: Mapping[str, Any], image: Image) -> list[str]:
    """The process a compose service runs: its entrypoint/command, else the image's."""
    entrypoint = service.get("entrypoint")
    command = service.get("command")
    if entrypoint is not None:
        return [*entrypoint, *(command or [])]
    return [*image.entrypoint, *(command if command is not None else image.cmd)]


def compose_health_test(service: Mapping[str, Any], image: Image | None) -> list[str] | None:
    """The health check a compose service's containers run, resolved as Docker does: the
    service's `healthcheck.test`, else the image's HEALTHCHECK (a `healthcheck:` without `test:`
    changes only timings); None when it is disabled or there is none."""
    healthcheck = service.get("healthcheck", {})
    test = healthcheck.get("test")
    if healthcheck.get("disable") is True or test == ["NONE"]:
        return None
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    if test is not None:
        return list(test)
    return ["CMD", *image.healthcheck] if image is not None and image.healthcheck else None


def kubernetes_argv(container: Mapping[str, Any], image: Image) -> list[str]:
    """The process a Kubernetes container runs: `command` replaces the image's ENTRYPOINT and
    CMD, `args` alone replaces only its CMD."""
    if "command" in container:
        return [*container["command"], *container.get("args", [])]
    return [*image.entrypoint, *container.get("args", image.cmd)]


# --- Kubernetes --------------------------------------------------------------------------------


def render_overlay(overlay: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize OVERLAY` (kustomize built into kubectl): the objects it renders."""
    result = subprocess.run(
        [str(tool("kubectl")), "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), f"kustomize warned: {result.stderr}"
    objects = [item for item in yaml.safe_load_all(result.stdout) if item]
    assert objects, f"{overlay} rendered nothing"
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one rendered object of a kind and name."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind}/{name} rendered"
    return found[0]


def pod_containers(workload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Init containers and containers of a Deployment's pod template."""
    pod = workload["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def named_port(container: Mapping[str, Any], port: int | str) -> int:
    """A container port given by number or by name."""
    if isinstance(port, int):
        return port
    matches = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert len(matches) == 1, f"no port named {port!r} on {container['name']}"
    return int(matches[0])


# --- the loanapp command -----------------------------------------------------------------------


def parse_loanapp(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse a `loanapp ...` command line with the real click app, without running it.

    Returns the subcommand and its parsed parameters; a wrong command, option or value fails as
    it would at the container's start.
    """
    from loanapp.cli import main

    assert argv[0] == "loanapp", argv
    group = main.make_context("loanapp", list(argv[1:]))  # parses only; runs no callback
    name, *rest = argv[1:]
    assert not name.startswith("-"), f"no group options expected before the command: {argv}"
    command = main.get_command(group, name)
    assert command is not None, f"no such loanapp command: {name}"
    with command.make_context(name, rest, parent=group) as context:
        return name, dict(context.params)
