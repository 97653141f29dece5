"""deploy/docker-compose.yml: valid against the Compose Specification, consistent with the code."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import crossplane  # type: ignore[import-untyped]
import jsonschema
import pytest
import yaml

from loanapp.errors import InvalidInputError
from loanapp.healthcheck import URL_VARIABLE
from loanapp.services import SERVICES
from loanapp.settings import Settings, load_settings
from tests.deploy.manifests import (
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    NGINX_CONF,
    ROOT,
    SETTINGS_OF_SERVICE,
    Image,
    MissingVariableError,
    compose_argv,
    compose_environment,
    compose_health_test,
    interpolate,
    load_compose_schema,
    parse_loanapp,
    settings_not_taken,
    unknown_variables,
    urls_in,
)

ONE_SHOT = "publish-default-model"
LOANAPP_SERVICES = (ONE_SHOT, "model-server", "predict-api")
# What deploy/.env would hold: the admin token, nothing else required.
VARIABLES = {"LOANAPP_ADMIN_TOKEN": "compose-test-admin-token-0123456789"}


def validator() -> jsonschema.protocols.Validator:
    """A validator for the Compose Specification schema, itself checked against its meta-schema."""
    schema = load_compose_schema()
    assert schema["title"] == "Compose Specification"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator_class = jsonschema.validators.validator_for(schema)
    assert validator_class is jsonschema.Draft202012Validator
    validator_class.check_schema(schema)
    return validator_class(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Every error the schema finds, as `path: message`, the alternatives of anyOf/oneOf too."""
    found: list[str] = []
    pending = list(validator().iter_errors(document))
    while pending:
        error = pending.pop()
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        found.append(f"{where}: {error.message}")
        pending += error.context or []
    return sorted(found)


def image_target(service: dict[str, Any]) -> str | None:
    """The Dockerfile target a service builds, if it builds from deploy/Dockerfile."""
    build = service.get("build")
    if build is None:
        return None
    assert (COMPOSE_FILE.parent / build["context"]).resolve() == ROOT
    assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE
    target: str = build["target"]
    return target


def image_of_service(service: dict[str, Any], images: dict[str, Image]) -> Image | None:
    """The image a service runs, if it is one of ours."""
    target = image_target(service)
    return None if target is None else images[target]


def settings_class_of(service: dict[str, Any], images: dict[str, Image]) -> type[Settings]:
    """ModelServerSettings or PredictApiSettings for a service, Settings for a CLI command."""
    target = image_target(service)
    assert target is not None
    argv = compose_argv(service, images[target])
    if argv[:2] == ["loanapp", "serve"]:
        return SETTINGS_OF_SERVICE[argv[2]]
    return Settings


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []
    # The same validation rejects a copy with one unknown key: it checks, it does not just pass.
    broken = copy.deepcopy(compose) | {"servces": {}}
    assert schema_errors(broken) == [
        "(top level): 'servces' does not match any of the regexes: '^x-'"
    ]


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (
            lambda c: c["services"]["proxy"].update(bogus=1),
            "services.proxy: Unevaluated properties are not allowed ('bogus' was unexpected)",
        ),
        (
            lambda c: c["services"]["proxy"]["depends_on"]["predict-api"].update(
                condition="service_ready"
            ),
            "services.proxy.depends_on.predict-api.condition: 'service_ready' is not one of "
            "['service_started', 'service_healthy', 'service_completed_successfully']",
        ),
        (
            lambda c: c["volumes"].update({"bad name!": None}),
            "volumes: 'bad name!' does not match any of the regexes: '^[a-zA-Z0-9._-]+$'",
        ),
        (
            lambda c: c["services"]["predict-api"].update(healthcheck={"interval": 10}),
            "services.predict-api.healthcheck.interval: 10 is not of type 'string'",
        ),
    ],
    ids=["unknown-key", "depends-on-condition", "volume-name", "duration-without-unit"],
)
def test_the_schema_catches_mistakes(
    compose: dict[str, Any], mistake: Callable[[dict[str, Any]], None], expected: str
) -> None:
    broken = copy.deepcopy(compose)
    mistake(broken)
    assert expected in schema_errors(broken)


def test_no_version_key_and_a_project_name(compose: dict[str, Any]) -> None:
    assert "version" not in compose
    assert compose["name"] == "loanapp"


def test_services_build_from_the_dockerfile_targets(
    compose: dict[str, Any], stages: dict[str, Any]
) -> None:
    services = compose["services"]
    for name in LOANAPP_SERVICES:
        target = image_target(services[name])
        assert target in stages
    assert image_target(services["model-server"]) == "model-server"
    assert image_target(services["predict-api"]) == "predict-api"
    # The one-shot uses the model server's image, so it has the same code and store layout.
    assert services[ONE_SHOT]["image"] == services["model-server"]["image"]


def test_predict_api_can_be_scaled(compose: dict[str, Any]) -> None:
    services = compose["services"]
    api = services["predict-api"]
    assert "container_name" not in api
    assert "ports" not in api, "replicas would clash on a fixed host port; the proxy publishes"
    assert "ports" not in services["model-server"], "the model server is internal"
    publishing = [name for name, service in services.items() if "ports" in service]
    assert publishing == ["proxy", "prometheus"]
    # Prometheus only on the host's loopback, and only in its profile.
    assert all(port.startswith("127.0.0.1:") for port in services["prometheus"]["ports"])
    assert services["prometheus"]["profiles"] == ["monitoring"]


def test_the_monitoring_profile_scrapes_both_services(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    (mounted,) = prometheus["configs"]
    assert f"--config.file={mounted['target']}" in prometheus["command"]
    config = yaml.safe_load(compose["configs"][mounted["source"]]["content"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["model-server"]["static_configs"] == [
        {"targets": [f"model-server:{SERVICES['model-server'].port}"]}
    ]
    (replicas,) = jobs["predict-api"]["dns_sd_configs"]  # every replica, however many
    assert replicas == {"names": ["predict-api"], "type": "A", "port": SERVICES["predict-api"].port}
    for service in ("model-server", "predict-api"):
        assert compose["services"][service]["environment"]["LOANAPP_LOG_FORMAT"] == "json"


@pytest.mark.parametrize("name", LOANAPP_SERVICES)
def test_environment_names_are_real_settings(
    compose: dict[str, Any], images: dict[str, Image], name: str
) -> None:
    service = compose["services"][name]
    settings_class = settings_class_of(service, images)
    names = set(compose_environment(service))
    assert "LOANAPP_STORE" in names or "MODEL_SERVER_URL" in names, names
    assert unknown_variables(names, settings_class) == set()
    # A misspelt name would be reported.
    assert unknown_variables(names | {"LOANAPP_STORE_URL"}, settings_class) == {"LOANAPP_STORE_URL"}


@pytest.mark.parametrize("name", LOANAPP_SERVICES)
@pytest.mark.parametrize(
    "extra",
    [{}, {"MODEL_URI": "file:///var/lib/loanapp/store/blobs/sha256/x", "MODEL_SHA256": "0" * 64}],
    ids=["registry-mode", "pinned-mode"],
)
def test_environment_values_load_as_settings(
    compose: dict[str, Any],
    images: dict[str, Image],
    environment_of: Callable[[dict[str, str]], None],
    name: str,
    extra: dict[str, str],
) -> None:
    service = compose["services"][name]
    variables = VARIABLES | extra
    values = {
        key: variables[key] if value is None else interpolate(value, variables)
        for key, value in compose_environment(service).items()
        if value is not None or key in variables
    }
    image = images[image_target(service) or ""]
    environment = image.env | values
    settings_class = settings_class_of(service, images)
    environment_of(environment)
    settings = load_settings(settings_class)
    assert settings_not_taken(settings, environment) == {}
    # A value the settings refuse stops the container, with the setting named.
    environment_of({"LOANAPP_ENVIRONMENT": "staging"})
    with pytest.raises(
        InvalidInputError,
        match=r"^invalid configuration: environment: Input should be 'development' or 'production'",
    ):
        load_settings(settings_class)


def test_admin_token_comes_from_the_environment_only(compose: dict[str, Any]) -> None:
    environment = compose_environment(compose["services"]["model-server"])
    token = environment["LOANAPP_ADMIN_TOKEN"]
    assert token is not None
    assert re.fullmatch(r"\$\{LOANAPP_ADMIN_TOKEN:\?[^}]+\}", token)
    with pytest.raises(
        MissingVariableError, match=r"^LOANAPP_ADMIN_TOKEN: set LOANAPP_ADMIN_TOKEN in deploy/\.env"
    ):
        interpolate(token, {})
    for name, service in compose["services"].items():
        for key, value in compose_environment(service).items():
            if re.search(r"TOKEN|SECRET|PASSWORD", key):
                assert value is None or value.startswith("${"), f"{name}: {key} is committed"
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert ".env" in ignored


def test_pinned_mode_variables_are_named_without_values(compose: dict[str, Any]) -> None:
    environment = compose_environment(compose["services"]["model-server"])
    assert environment["MODEL_URI"] is None
    assert environment["MODEL_SHA256"] is None


def test_store_is_a_named_volume_shared_with_the_one_shot(
    compose: dict[str, Any], images: dict[str, Image]
) -> None:
    store = images["model-server"].env["LOANAPP_STORE"]
    for name in (ONE_SHOT, "model-server"):
        service = compose["services"][name]
        assert interpolate(compose_environment(service)["LOANAPP_STORE"] or "", {}) == store
        volume, _, path = next(v for v in service["volumes"] if v.endswith(":" + store)).partition(
            ":"
        )
        assert path == store
        assert volume in compose["volumes"], f"{volume} is a named volume"


@pytest.mark.parametrize("name", ["model-server", "predict-api"])
def test_services_run_the_image_command_and_health_check(
    compose: dict[str, Any], images: dict[str, Image], routes: dict[str, set[str]], name: str
) -> None:
    service = compose["services"][name]
    image = images[name]
    argv = compose_argv(service, image)
    assert argv == image.argv, "compose runs the image's command unchanged"
    command, params = parse_loanapp(argv)
    assert (command, params["service"]) == ("serve", name)
    port = params["port"]
    assert service["expose"] == [str(port)]
    # The image's HEALTHCHECK is the check; compose writes neither its command nor its URL again.
    assert "healthcheck" not in service, "the image's HEALTHCHECK applies, timings included"
    assert URL_VARIABLE not in compose_environment(service)
    assert compose_health_test(service, image) == ["CMD", "python", "-m", "loanapp.healthcheck"]
    url = image.env[URL_VARIABLE]
    assert url.startswith(f"http://127.0.0.1:{port}/"), "it asks the port compose runs it on"
    assert url.removeprefix(f"http://127.0.0.1:{port}") in routes[name]


def test_start_order_waits_on_health_and_on_the_one_shot(
    compose: dict[str, Any], images: dict[str, Image]
) -> None:
    services = compose["services"]
    assert services["model-server"]["depends_on"][ONE_SHOT] == {
        "condition": "service_completed_successfully"
    }
    assert services["predict-api"]["depends_on"]["model-server"]["condition"] == "service_healthy"
    assert services["proxy"]["depends_on"]["predict-api"]["condition"] == "service_healthy"
    waited_on = set()
    for service in services.values():
        for dependency, rule in service.get("depends_on", {}).items():
            if rule["condition"] == "service_healthy":
                waited_on.add(dependency)
    assert waited_on == {"model-server", "predict-api", "s3"}
    for name in waited_on:
        test = compose_health_test(services[name], image_of_service(services[name], images))
        assert test is not None, f"{name} is waited on for its health but has no health check"
        assert test[0] == "CMD", test
    assert services[ONE_SHOT]["restart"] == "no"
    # The one-shot runs the model server's image but serves nothing: its check is off.
    assert compose_health_test(services[ONE_SHOT], images["model-server"]) is None


def test_predict_api_finds_the_model_server(compose: dict[str, Any]) -> None:
    services = compose["services"]
    url = compose_environment(services["predict-api"])["MODEL_SERVER_URL"]
    assert url == f"http://model-server:{SERVICES['model-server'].port}"
    assert services["model-server"]["expose"] == [str(SERVICES["model-server"].port)]


def parse_nginx(path: Path) -> dict[str, Any]:
    """crossplane's parse of an nginx config, with directive, context and argument checks."""
    parsed: dict[str, Any] = crossplane.parse(
        str(path), check_ctx=True, check_args=True, single=True, strict=True
    )
    return parsed


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (("listen 8080;", "listne 8080;"), 'unknown directive "listne"'),
        (("worker_processes auto;", "listen 8080;"), '"listen" directive is not allowed here'),
        (
            ("server_tokens off;", "server_tokens;"),
            'invalid number of arguments in "server_tokens"',
        ),
    ],
    ids=["unknown-directive", "wrong-context", "wrong-arguments"],
)
def test_nginx_parser_checks_for_real(
    tmp_path: Path, mistake: tuple[str, str], expected: str
) -> None:
    """The same parse rejects a broken copy of nginx.conf, so its 'ok' means something."""
    text = NGINX_CONF.read_text()
    assert text.count(mistake[0]) == 1, mistake
    broken = tmp_path / NGINX_CONF.name
    broken.write_text(text.replace(*mistake))
    parsed = parse_nginx(broken)
    assert parsed["status"] == "failed"
    (error,) = parsed["errors"]
    assert error["error"].startswith(expected), error


def test_proxy_balances_over_the_predict_api_replicas(compose: dict[str, Any]) -> None:
    parsed = parse_nginx(NGINX_CONF)
    assert (parsed["status"], parsed["errors"]) == ("ok", [])
    directives = list(_walk(parsed["config"][0]["parsed"]))
    upstream_servers = [d["args"] for d in directives if d["directive"] == "server" and d["args"]]
    assert upstream_servers == [[f"predict-api:{SERVICES['predict-api'].port}", "resolve"]]
    assert ["127.0.0.11", "valid=5s", "ipv6=off"] in [
        d["args"] for d in directives if d["directive"] == "resolver"
    ]
    listen = next(d["args"][0] for d in directives if d["directive"] == "listen")
    proxy = compose["services"]["proxy"]
    (mapping,) = proxy["ports"]
    assert mapping.rsplit(":", 1)[1] == listen
    assert f"./{NGINX_CONF.name}:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    (url,) = urls_in(proxy["healthcheck"]["test"])
    assert url == f"http://127.0.0.1:{listen}/healthz"
    # /metrics stays inside: the public port answers it 404 itself, never from a replica.
    (metrics,) = [d for d in directives if d["directive"] == "location" and "/metrics" in d["args"]]
    assert metrics["args"] == ["=", "/metrics"]
    assert [d["directive"] for d in metrics["block"]] == ["default_type", "return"]
    assert metrics["block"][1]["args"][0] == "404"


def _walk(block: list[dict[str, Any]]) -> Any:
    for directive in block:
        yield directive
        yield from _walk(directive.get("block", []))


def test_s3_profile_serves_the_store_the_env_example_names(compose: dict[str, Any]) -> None:
    services = compose["services"]
    s3 = services["s3"]
    assert s3["profiles"] == ["s3"]
    assert all("profiles" not in services[name] for name in LOANAPP_SERVICES)
    assert s3["command"][0] == "mini"
    flags = dict(argument.split("=", 1) for argument in s3["command"][1:])
    assert flags["-s3.config"] == s3["configs"][0]["target"]
    example = dict(_env_example_lines())
    assert example["LOANAPP_STORE"].startswith(f"s3://{flags['-bucket']}/")
    assert example["AWS_ENDPOINT_URL"] == f"http://s3:{s3['expose'][0]}"
    identities = interpolate(
        compose["configs"]["s3-identities"]["content"],
        {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"},
    )
    (identity,) = json.loads(identities)["identities"]
    assert identity["credentials"] == [{"accessKey": "id", "secretKey": "secret"}]
    for name in (ONE_SHOT, "model-server"):
        depends = services[name]["depends_on"]["s3"]
        assert depends == {"condition": "service_healthy", "required": False}


def _env_example_lines() -> list[tuple[str, str]]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    pairs = [re.fullmatch(r"#?([A-Z][A-Z0-9_]*)=(.*)", line) for line in lines]
    return [(match.group(1), match.group(2)) for match in pairs if match]


def test_env_example_names_only_what_compose_reads(compose: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text()
    interpolated = {match.group(1) for match in re.finditer(r"\$\{(\w+)", text)}
    passed_through = {
        key
        for service in compose["services"].values()
        for key, value in compose_environment(service).items()
        if value is None
    }
    names = {name for name, _ in _env_example_lines()}
    assert names - interpolated - passed_through == {"COMPOSE_PROFILES"}
    assert "LOANAPP_ADMIN_TOKEN" in names
