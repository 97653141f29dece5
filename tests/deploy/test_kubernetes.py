"""deploy/k8s: every overlay renders, validates against the Kubernetes schemas, matches the code."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from loanapp.errors import InvalidInputError
from loanapp.services import SERVICES
from loanapp.settings import Settings, load_settings
from tests.deploy.manifests import (
    KUBERNETES_VERSIONS,
    OVERLAYS,
    SETTINGS_OF_SERVICE,
    Image,
    Stage,
    compose_argv,
    find,
    kubernetes_argv,
    named_port,
    option_value,
    pod_containers,
    settings_not_taken,
    unknown_variables,
)

NAMESPACE = "loanapp"
SECRET_STAND_IN = "k8s-test-secret-0123456789abcdef"
EXPECTED = {
    ("Namespace", NAMESPACE),
    ("ConfigMap", "model-server-settings"),
    ("ConfigMap", "predict-api-settings"),
    ("Deployment", "model-server"),
    ("Service", "model-server"),
    ("Deployment", "predict-api"),
    ("Service", "predict-api"),
    ("HorizontalPodAutoscaler", "predict-api"),
    ("PodDisruptionBudget", "predict-api"),
    ("NetworkPolicy", "model-server"),
}
OVERLAY_EXTRAS = {
    "local": {("PersistentVolumeClaim", "model-store")},
    "s3": {("PodDisruptionBudget", "model-server")},
}
overlays = pytest.mark.parametrize("overlay", sorted(OVERLAYS))


def target_of(container: dict[str, Any]) -> str:
    """The Dockerfile target (= service) of a container's image, e.g. loanapp-predict-api:0.1.0."""
    match = re.fullmatch(r"loanapp-([a-z-]+):[\w.-]+", container["image"])
    assert match, container["image"]
    return match.group(1)


def config_maps(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}


def container_environment(
    container: dict[str, Any], objects: list[dict[str, Any]]
) -> dict[str, str]:
    """What the container's environment will be: its ConfigMaps, then env (secrets stood in)."""
    environment: dict[str, str] = {}
    maps = config_maps(objects)
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, "env names must be visible: no envFrom secrets"
        environment |= maps[source["configMapRef"]["name"]]
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        else:
            assert set(variable["valueFrom"]) == {"secretKeyRef"}, variable
            environment[variable["name"]] = SECRET_STAND_IN
    return environment


def settings_of(container: dict[str, Any], init: bool) -> type[Settings]:
    return Settings if init else SETTINGS_OF_SERVICE[target_of(container)]


def deployments(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == "Deployment"]


@overlays
def test_renders_the_expected_objects(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    kinds = {(o["kind"], re.sub(r"-[a-z0-9]{10}$", "", o["metadata"]["name"])) for o in objects}
    assert kinds == EXPECTED | OVERLAY_EXTRAS[overlay]
    assert len(objects) == len(kinds)
    for item in objects:
        assert item["metadata"]["labels"]["app.kubernetes.io/part-of"] == "loanapp"
        if item["kind"] != "Namespace":
            assert item["metadata"]["namespace"] == NAMESPACE
    assert not [o for o in objects if o["kind"] == "Secret"], "secrets are never committed"


def schema_error(item: dict[str, Any], version: str) -> str | None:
    """Why the strict schema of that Kubernetes version rejects an object (`path: message`), or
    None when it accepts it; the schema used must be the one of the version asked for."""
    reason = None
    try:
        used = kubernetes_validate.validate(item, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        used = error.version
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        reason = f"{where}: {error.message}"
    assert used == major_minor(version), f"validated against {used}, not {version}"
    return reason


def major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


@overlays
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_valid_against_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]], overlay: str, version: str
) -> None:
    errors = {
        f"{item['kind']}/{item['metadata']['name']}": schema_error(item, version)
        for item in rendered[overlay]
    }
    assert len(errors) == len(rendered[overlay])
    assert {name: error for name, error in errors.items() if error is not None} == {}
    # The same validation rejects each object with one unknown field: it checks, not just passes.
    for item in rendered[overlay]:
        assert schema_error(item | {"bogus": 1}, version) == (
            "(top level): Additional properties are not allowed ('bogus' was unexpected)"
        ), item["kind"]


def first_container(item: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = item["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (
            lambda d: d["spec"].update(replica=2),
            "spec: Additional properties are not allowed ('replica' was unexpected)",
        ),
        (
            lambda d: d["spec"].update(replicas="two"),
            "spec.replicas: 'two' is not of type 'integer', 'null'",
        ),
        (
            lambda d: first_container(d).pop("name"),
            "spec.template.spec.containers.0: 'name' is a required property",
        ),
    ],
    ids=["unknown-field", "wrong-type", "missing-field"],
)
def test_the_schemas_catch_mistakes(
    rendered: dict[str, list[dict[str, Any]]],
    mistake: Callable[[dict[str, Any]], object],
    expected: str,
    version: str,
) -> None:
    """The same validation rejects a broken copy of a rendered Deployment, with the reason."""
    broken = copy.deepcopy(find(rendered["local"], "Deployment", "predict-api"))
    mistake(broken)
    assert schema_error(broken, version) == expected


@overlays
def test_containers_run_the_image_command_on_their_ports(
    rendered: dict[str, list[dict[str, Any]]],
    images: dict[str, Image],
    routes: dict[str, set[str]],
    overlay: str,
) -> None:
    for workload in deployments(rendered[overlay]):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            image = images[target_of(container)]
            assert "command" not in container, "the image's own command runs"
            assert "args" not in container
            port = int(option_value(image.argv, "--port"))
            assert [p["containerPort"] for p in container["ports"]] == [port]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                check = container[probe]["httpGet"]
                assert named_port(container, check["port"]) == port, probe
                assert check["path"] in routes[target_of(container)], probe
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


@overlays
def test_services_reach_the_containers(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    for name in SERVICES:
        service = find(objects, "Service", name)
        workload = find(objects, "Deployment", name)
        assert service["spec"]["type"] == "ClusterIP"
        assert service["spec"]["selector"] == workload["spec"]["selector"]["matchLabels"]
        (port,) = service["spec"]["ports"]
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        assert named_port(container, port["targetPort"]) == SERVICES[name].port
        assert port["port"] == SERVICES[name].port
    (api,) = find(objects, "Deployment", "predict-api")["spec"]["template"]["spec"]["containers"]
    url = container_environment(api, objects)["MODEL_SERVER_URL"]
    assert url == f"http://model-server:{SERVICES['model-server'].port}"


@overlays
def test_environment_names_are_real_settings(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    for workload in deployments(objects):
        pod = workload["spec"]["template"]["spec"]
        for init, container in [(True, c) for c in pod.get("initContainers", [])] + [
            (False, c) for c in pod["containers"]
        ]:
            names = set(container_environment(container, objects))
            assert "LOANAPP_ENVIRONMENT" in names, container["name"]
            unknown = unknown_variables(names, settings_of(container, init))
            assert unknown == set(), container["name"]


@overlays
def test_environment_values_load_as_settings(
    rendered: dict[str, list[dict[str, Any]]],
    images: dict[str, Image],
    environment_of: Callable[[dict[str, str]], None],
    overlay: str,
) -> None:
    objects = rendered[overlay]
    checked = set()
    for workload in deployments(objects):
        pod = workload["spec"]["template"]["spec"]
        for init, container in [(True, c) for c in pod.get("initContainers", [])] + [
            (False, c) for c in pod["containers"]
        ]:
            environment = images[target_of(container)].env | container_environment(
                container, objects
            )
            environment_of(environment)
            settings = load_settings(settings_of(container, init))
            assert settings_not_taken(settings, environment) == {}, container["name"]
            checked.add(container["name"])
    assert checked == {"publish-default-model", "model-server", "predict-api"}
    # A value the settings refuse stops the container, with the setting named.
    environment_of({"LOANAPP_LOG_LEVEL": "LOUD"})
    with pytest.raises(
        InvalidInputError, match=r"^invalid configuration: log_level: Input should be 'DEBUG'"
    ):
        load_settings(Settings)


@overlays
def test_admin_token_and_store_credentials_come_from_secrets(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    model_server = find(objects, "Deployment", "model-server")
    for container in pod_containers(model_server):
        for variable in container.get("env", []):
            if re.search(r"TOKEN|SECRET|KEY_ID", variable["name"]):
                assert "secretKeyRef" in variable["valueFrom"], variable["name"]
    (container,) = model_server["spec"]["template"]["spec"]["containers"]
    token = next(v for v in container["env"] if v["name"] == "LOANAPP_ADMIN_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "loanapp-admin", "key": "token"}
    for data in config_maps(objects).values():
        assert not [key for key in data if re.search(r"TOKEN|SECRET", key)]


@overlays
def test_pods_are_locked_down(
    rendered: dict[str, list[dict[str, Any]]],
    stages: dict[str, Stage],
    images: dict[str, Image],
    overlay: str,
) -> None:
    (user,) = [rest for k, rest in stages["runtime"].instructions if k == "USER"]
    uid, gid = (int(part) for part in user.split(":"))
    for workload in deployments(rendered[overlay]):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
            uid,
            gid,
        )
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in pod_containers(workload):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            assert "emptyDir" in mounts["/tmp"]
            # The predict API's cache folder is a volume (the root filesystem is read-only).
            environment = images[target_of(container)].env | container_environment(
                container, rendered[overlay]
            )
            cache = environment.get("LOANAPP_CACHE_DIR")
            if cache is not None:
                assert "emptyDir" in mounts[cache]


def test_local_store_is_one_model_server_on_a_claim(
    rendered: dict[str, list[dict[str, Any]]], images: dict[str, Image]
) -> None:
    objects = rendered["local"]
    model_server = find(objects, "Deployment", "model-server")
    assert model_server["spec"]["replicas"] == 1
    assert model_server["spec"]["strategy"] == {"type": "Recreate"}
    claim = find(objects, "PersistentVolumeClaim", "model-store")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    volumes = {v["name"]: v for v in model_server["spec"]["template"]["spec"]["volumes"]}
    store = images["model-server"].env["LOANAPP_STORE"]
    for container in pod_containers(model_server):
        assert container_environment(container, objects)["LOANAPP_STORE"] == store
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == store]
        assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == "model-store"
    assert "model-server" not in {
        o["metadata"]["name"] for o in objects if o["kind"] == "PodDisruptionBudget"
    }, "a budget on a single replica would only block node drains"


def test_s3_store_allows_several_model_servers(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["s3"]
    model_server = find(objects, "Deployment", "model-server")
    assert model_server["spec"]["replicas"] >= 2
    assert model_server["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    for container in pod_containers(model_server):
        environment = container_environment(container, objects)
        assert environment["LOANAPP_STORE"].startswith("s3://")
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} <= set(environment)
        assert not [m for m in container["volumeMounts"] if m["mountPath"] != "/tmp"]
    budget = find(objects, "PodDisruptionBudget", "model-server")
    assert budget["spec"]["selector"] == model_server["spec"]["selector"]
    assert budget["spec"]["maxUnavailable"] == 1


@overlays
def test_predict_api_never_drops_below_its_budget(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    api = find(objects, "Deployment", "predict-api")
    autoscaler = find(objects, "HorizontalPodAutoscaler", "predict-api")
    budget = find(objects, "PodDisruptionBudget", "predict-api")
    assert api["spec"]["replicas"] >= 2
    assert api["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "predict-api",
    }
    assert autoscaler["spec"]["minReplicas"] >= 2
    assert budget["spec"]["selector"] == api["spec"]["selector"]
    # A rollout never removes a ready pod before its replacement is ready (maxUnavailable 0), and
    # a drain may take one at a time: at least minReplicas - 1 >= 1 always serve.
    assert autoscaler["spec"]["minReplicas"] - budget["spec"]["maxUnavailable"] >= 1


@overlays
def test_only_the_predict_api_and_prometheus_reach_the_model_server(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    policy = find(objects, "NetworkPolicy", "model-server")
    model_server = find(objects, "Deployment", "model-server")
    api = find(objects, "Deployment", "predict-api")
    labels = model_server["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    rule, scraper = policy["spec"]["ingress"]
    (source,) = rule["from"]
    api_labels = api["spec"]["template"]["metadata"]["labels"]
    assert source["podSelector"]["matchLabels"].items() <= api_labels.items()
    assert "namespaceSelector" not in source  # the predict API of this namespace only
    (prometheus,) = scraper["from"]
    assert prometheus["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    (container,) = model_server["spec"]["template"]["spec"]["containers"]
    for allowed in (rule, scraper):
        (port,) = allowed["ports"]
        assert named_port(container, port["port"]) == SERVICES["model-server"].port


@overlays
@pytest.mark.parametrize("service", ["model-server", "predict-api"])
def test_pods_tell_prometheus_where_to_scrape(
    rendered: dict[str, list[dict[str, Any]]], overlay: str, service: str
) -> None:
    deployment = find(rendered[overlay], "Deployment", service)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == service
    ]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == named_port(container, "http")
    assert int(annotations["prometheus.io/port"]) == SERVICES[service].port


@overlays
def test_init_container_publishes_like_the_compose_one_shot(
    rendered: dict[str, list[dict[str, Any]]],
    compose: dict[str, Any],
    images: dict[str, Image],
    overlay: str,
) -> None:
    model_server = find(rendered[overlay], "Deployment", "model-server")
    (init,) = model_server["spec"]["template"]["spec"]["initContainers"]
    one_shot = compose["services"]["publish-default-model"]
    assert init["image"] == one_shot["image"]
    image = images["model-server"]
    assert kubernetes_argv(init, image) == compose_argv(one_shot, image)


def test_images_are_the_ones_compose_builds(
    rendered: dict[str, list[dict[str, Any]]], compose: dict[str, Any]
) -> None:
    built = {service["image"] for service in compose["services"].values() if "build" in service}
    for objects in rendered.values():
        used = {c["image"] for w in deployments(objects) for c in pod_containers(w)}
        assert used == built
