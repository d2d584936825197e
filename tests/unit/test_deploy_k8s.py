"""deploy/k8s, checked without a cluster, kubectl or kustomize.

The base and the example overlay are rendered by `render`, a small pure-Python subset of
kustomize (exactly the features the manifests use; anything else fails loudly, so a new feature
gets a renderer change or a different check). It does not add kustomize's hash suffix to the
generated ConfigMap, so references are checked by the unsuffixed name. The core kinds are
validated against the Kubernetes OpenAPI schemas bundled with `kubernetes-validate` (offline);
the CRDs it cannot know (KEDA ScaledObject, Strimzi KafkaTopic) are checked field by field.
Names, ports, probe paths, env var names, commands and topics are held against the code.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from receiver.app import create_app
from receiver.credentials import parse_credentials
from tests.exact_settings import ExactSettings
from ticketstream.cli import parser
from ticketstream.settings import Settings
from ticketstream.topics import topic_specs

ROOT = Path(__file__).parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
EXAMPLE_SECRET = OVERLAY / "credentials-secret.example.yaml"
# The oldest Kubernetes the manifests claim to support (docs/DEPLOY.md), and the newest schemas.
K8S_VERSIONS = ("1.29", kubernetes_validate.latest_version())
CORE_KINDS = {"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
CORE_KINDS |= {"Service", "StatefulSet", "Secret"}
CRD_KINDS = {"ScaledObject", "KafkaTopic"}

Obj = dict[str, Any]


# --- a kustomize subset ------------------------------------------------------------------------

# Strategic-merge-patch keys of the lists this subset merges; other lists are replaced whole, as
# kustomize does for lists without a merge key (volumeClaimTemplates, args, ...).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}
# Lists kustomize merges by a key that depends on context: not supported, so not silently wrong.
UNSUPPORTED_LISTS = {"ports", "envFrom", "tolerations", "imagePullSecrets"}


def load_documents(path: Path) -> list[Obj]:
    """The non-empty YAML documents of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def read_env_file(path: Path) -> dict[str, str]:
    """A kustomize `envs` file: KEY=VALUE lines, # comments."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path}: {line!r} is not KEY=VALUE"
            pairs[key.strip()] = value
    return pairs


def strategic_merge(target: Any, patch: Any, *, core: bool, field: str = "") -> Any:
    """Merge `patch` into `target`: SMP for core kinds, JSON merge patch (RFC 7386) for CRDs."""
    if isinstance(patch, dict) and isinstance(target, dict):
        merged = dict(target)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, core=core, field=key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(patch, list) and core and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        merged_list = [copy.deepcopy(item) for item in target]
        for item in patch:
            index = next((i for i, old in enumerate(merged_list) if old[key] == item[key]), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = strategic_merge(merged_list[index], item, core=core)
        return merged_list
    if isinstance(patch, list) and core and field in UNSUPPORTED_LISTS:
        raise NotImplementedError(f"patching the list {field!r} is not in this kustomize subset")
    return copy.deepcopy(patch)


def matches(obj: Obj, target: Mapping[str, str]) -> bool:
    """Does `obj` match a kustomize patch target (kind, name; exact)?"""
    unknown = set(target) - {"kind", "name"}
    assert not unknown, f"patch target fields {unknown} are not in this kustomize subset"
    return all(
        obj["kind"] == target[k] if k == "kind" else obj["metadata"]["name"] == target[k]
        for k in target
    )


def pod_specs(obj: Obj) -> list[Obj]:
    """The pod spec of a workload, if it is one."""
    if obj["kind"] in {"Deployment", "StatefulSet"}:
        return [obj["spec"]["template"]["spec"]]
    return []


def render(directory: Path) -> list[Obj]:
    """`kustomize build directory`, for the features the manifests use (no hash suffixes)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    supported = {"apiVersion", "kind", "resources", "namespace", "images"}
    supported |= {"configMapGenerator", "patches"}
    unknown = set(kustomization) - supported
    assert not unknown, f"{directory}: {unknown} not in this kustomize subset: extend render()"
    objects: list[Obj] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        objects += render(path) if path.is_dir() else load_documents(path)

    for generator in kustomization.get("configMapGenerator", []):
        assert set(generator) <= {"name", "envs", "literals", "behavior"}, generator
        data: dict[str, str] = {}
        for env_file in generator.get("envs", []):
            data.update(read_env_file(directory / env_file))
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        behavior = generator.get("behavior", "create")
        name = generator["name"]
        existing = [
            o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name
        ]
        if behavior == "create":
            assert not existing, f"ConfigMap {name} generated twice"
            meta = {"name": name}
            objects.append(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
            )
        else:
            assert behavior == "merge", behavior
            assert len(existing) == 1, f"merge into ConfigMap {name}, which the bases lack"
            existing[0]["data"] = {**existing[0]["data"], **data}

    for entry in kustomization.get("patches", []):
        assert set(entry) <= {"path", "target"}, entry
        patch = yaml.safe_load((directory / entry["path"]).read_text())
        target = entry.get("target") or {"kind": patch["kind"], "name": patch["metadata"]["name"]}
        if "target" in entry:  # kustomize applies a targeted patch under each target's name
            patch["metadata"].pop("name", None)
        hits = [i for i, obj in enumerate(objects) if matches(obj, target)]
        assert hits, f"patch {entry['path']} matches nothing"
        for i in hits:
            core = "." not in objects[i]["apiVersion"].split("/")[0]
            core = core or objects[i]["apiVersion"].split("/")[0].endswith(".k8s.io")
            objects[i] = strategic_merge(objects[i], patch, core=core)

    for image in kustomization.get("images", []):
        assert set(image) <= {"name", "newName", "newTag"}, image
        for obj in objects:
            for spec in pod_specs(obj):
                for container in spec["containers"]:
                    name, _, tag = container["image"].partition(":")
                    if name == image["name"]:
                        new_tag = image.get("newTag", tag)
                        new = image.get("newName", name) + (f":{new_tag}" if new_tag else "")
                        container["image"] = new

    if "namespace" in kustomization:
        for obj in objects:
            assert obj["kind"] not in {"Namespace", "ClusterRole", "ClusterRoleBinding"}
            obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


RENDERS = {"base": render(BASE), "overlay": render(OVERLAY)}


@pytest.fixture(params=list(RENDERS))
def objects(request: pytest.FixtureRequest) -> list[Obj]:
    """The rendered objects of the base, then of the example overlay."""
    return copy.deepcopy(RENDERS[request.param])


def one(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    """The only object of `kind` (and `name`)."""
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} objects of kind {kind} named {name}"
    return found[0]


def container(workload: Obj) -> Obj:
    """The workload's only container."""
    only: Obj
    [only] = workload["spec"]["template"]["spec"]["containers"]
    return only


def container_env(objects: list[Obj], workload: Obj) -> dict[str, str]:
    """What the container's process sees: envFrom ConfigMaps, then env (literal values only)."""
    spec = container(workload)
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        assert set(source) == {"configMapRef"}, source
        env.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in spec.get("env", []):
        assert "value" in var, f"{var['name']}: only literal values are checked"
        env[var["name"]] = var["value"]
    return env


def settings_of(objects: list[Obj], workload: Obj) -> Settings:
    """The Settings the workload's process builds; fails on a TICKETSTREAM_* name not a field."""
    values = {}
    for name, value in container_env(objects, workload).items():
        assert name.startswith("TICKETSTREAM_"), name
        field = name.removeprefix("TICKETSTREAM_").lower()
        assert field in Settings.model_fields, f"{name} is not a setting (ticketstream/settings.py)"
        values[field] = value
    return ExactSettings.model_validate(values)


def receiver(objects: list[Obj]) -> Obj:
    return one(objects, "Deployment", "ticketstream-receiver")


def worker(objects: list[Obj]) -> Obj:
    return one(objects, "StatefulSet", "ticketstream-worker")


def selected(selector: Mapping[str, str], workload: Obj) -> bool:
    """Does a label selector pick the workload's pods?"""
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def named_port(workload: Obj, name: str) -> int:
    """The containerPort of the container's port called `name`."""
    ports = {p["name"]: p["containerPort"] for p in container(workload)["ports"]}
    return int(ports[name])


# --- schemas -----------------------------------------------------------------------------------


def test_renders_exactly_the_expected_objects(objects: list[Obj]) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert kinds == sorted(
        [
            ("ConfigMap", "ticketstream-config"),
            ("Deployment", "ticketstream-receiver"),
            ("Service", "ticketstream-receiver"),
            ("HorizontalPodAutoscaler", "ticketstream-receiver"),
            ("PodDisruptionBudget", "ticketstream-receiver"),
            ("StatefulSet", "ticketstream-worker"),
            ("Service", "ticketstream-worker"),
            ("PodDisruptionBudget", "ticketstream-worker"),
            ("ScaledObject", "ticketstream-worker"),
            ("KafkaTopic", "tickets-events"),
            ("KafkaTopic", "tickets-normalized"),
            ("KafkaTopic", "tickets-rejected"),
            ("KafkaTopic", "ticketstream-worker-tickets-changelog"),
        ]
    )


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_kinds_are_valid_kubernetes(objects: list[Obj], version: str) -> None:
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        assert obj["kind"] in CORE_KINDS, obj["kind"]
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(str(p) for p in exc.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} at {where}: {exc.message}")


def test_every_file_in_the_tree_is_used_or_an_example() -> None:
    used = {BASE / "kustomization.yaml", OVERLAY / "kustomization.yaml", EXAMPLE_SECRET}
    for directory in (BASE, OVERLAY):
        k = yaml.safe_load((directory / "kustomization.yaml").read_text())
        used |= {(directory / r).resolve() for r in k.get("resources", [])}
        used |= {(directory / p["path"]).resolve() for p in k.get("patches", [])}
        for generator in k.get("configMapGenerator", []):
            used |= {(directory / e).resolve() for e in generator.get("envs", [])}
    files = {p.resolve() for p in K8S.rglob("*") if p.is_file()}
    assert files - {p.resolve() for p in used} == set()


# --- receiver ----------------------------------------------------------------------------------


def test_receiver_runs_the_receiver_command_on_its_port(objects: list[Obj]) -> None:
    deployment = receiver(objects)
    spec = container(deployment)
    assert "command" not in spec  # the image's ENTRYPOINT, `ticketstream`
    assert parser().parse_args(spec["args"]).command == "receiver"
    settings = settings_of(objects, deployment)
    assert named_port(deployment, "http") == settings.http_port


def test_receiver_probes_hit_real_routes(objects: list[Obj]) -> None:
    deployment = receiver(objects)
    spec = container(deployment)
    settings = settings_of(objects, deployment)
    routes = {getattr(route, "path", None) for route in create_app(settings).routes}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = spec[probe]["httpGet"]
        assert (get["path"], get["port"]) == (path, "http"), probe
        assert path in routes


def test_receiver_service_hpa_and_pdb_point_at_it(objects: list[Obj]) -> None:
    deployment = receiver(objects)
    service = one(objects, "Service", "ticketstream-receiver")
    assert selected(service["spec"]["selector"], deployment)
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert container(deployment)["resources"]["requests"]["cpu"]  # Utilization needs it
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    pdb = one(objects, "PodDisruptionBudget", "ticketstream-receiver")
    assert selected(pdb["spec"]["selector"]["matchLabels"], deployment)
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_receiver_reads_credentials_from_a_secret_directory(objects: list[Obj]) -> None:
    deployment = receiver(objects)
    settings = settings_of(objects, deployment)
    mounts = {m["mountPath"]: m for m in container(deployment)["volumeMounts"]}
    mount = mounts[str(settings.credentials_file.parent)]
    # A subPath mount never sees an updated Secret: the hot reload needs the directory.
    assert "subPath" not in mount
    assert mount["readOnly"] is True
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    secret = volumes[mount["name"]]["secret"]
    assert "items" not in secret  # each key is a file of its own name
    example = one(load_documents(EXAMPLE_SECRET), "Secret")
    assert example["metadata"]["name"] == secret["secretName"]
    assert set(example["stringData"]) == {settings.credentials_file.name}


def test_example_secret_is_a_valid_placeholder_and_never_applied(objects: list[Obj]) -> None:
    assert not [o for o in objects if o["kind"] == "Secret"]
    [secret] = load_documents(EXAMPLE_SECRET)
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(secret, version, strict=True)
    [text] = secret["stringData"].values()
    clients = parse_credentials(text)
    assert clients
    # A placeholder no token hashes to: never a usable credential in the repository.
    assert {c.token_sha256 for c in clients} == {"0" * 64}
    assert "PLACEHOLDER" in text


# --- worker ------------------------------------------------------------------------------------


def test_worker_runs_the_worker_command_with_its_store_on_a_volume(objects: list[Obj]) -> None:
    statefulset = worker(objects)
    spec = container(statefulset)
    assert "command" not in spec
    assert parser().parse_args(spec["args"]).command == "worker"
    settings = settings_of(objects, statefulset)
    assert settings.worker_store == "rocksdb://"
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in spec["volumeMounts"]}
    assert Path(mounts[claim["metadata"]["name"]]) == settings.worker_data_dir
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]
    assert pod["terminationGracePeriodSeconds"] >= 30
    assert "replicas" not in statefulset["spec"]  # KEDA owns the count


def test_worker_probes_and_service_use_its_web_port(objects: list[Obj]) -> None:
    statefulset = worker(objects)
    settings = settings_of(objects, statefulset)
    assert named_port(statefulset, "web") == settings.worker_web_port
    spec = container(statefulset)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert spec[probe]["httpGet"] == {"path": "/healthz", "port": "web"}, probe
    assert '"/healthz"' in (ROOT / "streams" / "app.py").read_text()
    service = one(objects, "Service", statefulset["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert selected(service["spec"]["selector"], statefulset)
    pdb = one(objects, "PodDisruptionBudget", "ticketstream-worker")
    assert selected(pdb["spec"]["selector"]["matchLabels"], statefulset)


def test_receiver_and_worker_share_one_configmap(objects: list[Obj]) -> None:
    refs = [
        [s["configMapRef"]["name"] for s in container(w).get("envFrom", [])]
        for w in (receiver(objects), worker(objects))
    ]
    assert refs == [["ticketstream-config"], ["ticketstream-config"]]
    assert container(receiver(objects))["image"] == container(worker(objects))["image"]


def test_keda_scales_the_worker_on_its_consumer_group_lag(objects: list[Obj]) -> None:
    statefulset = worker(objects)
    settings = settings_of(objects, statefulset)
    env = container_env(objects, statefulset)
    scaled = one(objects, "ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "StatefulSet")
    assert target["name"] == statefulset["metadata"]["name"]
    assert target["envSourceContainerName"] == container(statefulset)["name"]
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert all(isinstance(v, str) for v in metadata.values()), "trigger metadata are strings"
    # *FromEnv names are read from the target container's environment (the ConfigMap).
    resolved = {
        key.removesuffix("FromEnv"): env[value] if key.endswith("FromEnv") else value
        for key, value in metadata.items()
    }
    assert resolved["consumerGroup"] == settings.worker_app_id  # faust's group is its app id
    assert resolved["topic"] == settings.topic_events
    assert resolved["bootstrapServers"] == settings.kafka_bootstrap_servers
    assert resolved["offsetResetPolicy"] == "earliest"
    assert int(resolved["lagThreshold"]) > 0
    assert resolved["allowIdleConsumers"] == "false"
    assert re.fullmatch(r"\d+\.\d+\.\d+", resolved["version"])
    known = {"bootstrapServers", "consumerGroup", "topic", "lagThreshold", "offsetResetPolicy"}
    known |= {"allowIdleConsumers", "version", "activationLagThreshold"}
    assert set(resolved) <= known, set(resolved) - known
    spec = scaled["spec"]
    # A worker beyond the partition count gets no partition.
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= settings.partitions
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 300


# --- topics ------------------------------------------------------------------------------------


def test_kafka_topics_are_the_topics_ticketstream_creates(objects: list[Obj]) -> None:
    settings = settings_of(objects, worker(objects))
    receiver_settings = settings_of(objects, receiver(objects))
    for field in ("kafka_bootstrap_servers", "topic_events", "partitions", "replication_factor"):
        assert getattr(settings, field) == getattr(receiver_settings, field), field
    topics = {
        o["spec"]["topicName"]: o
        for o in objects
        if o["kind"] == "KafkaTopic" and o["apiVersion"] == "kafka.strimzi.io/v1beta2"
    }
    specs = {spec.name: spec for spec in topic_specs(settings)}
    assert set(topics) == set(specs)
    assert settings.changelog_topic() in topics
    clusters = {o["metadata"]["labels"]["strimzi.io/cluster"] for o in topics.values()}
    assert len(clusters) == 1
    for name, topic in topics.items():
        assert topic["spec"]["partitions"] == settings.partitions, name
        assert topic["spec"]["replicas"] == settings.replication_factor, name
        config = topic["spec"]["config"]
        assert all(isinstance(v, str) for v in config.values()), (
            f"{name}: config values are strings"
        )
        for key, value in specs[name].config.items():
            assert config.get(key) == value, f"{name}: {key}"
        assert set(config) <= {*specs[name].config, "retention.ms"}, name


def test_bootstrap_servers_name_the_strimzi_cluster_of_the_topics(objects: list[Obj]) -> None:
    settings = settings_of(objects, worker(objects))
    [cluster] = {
        o["metadata"]["labels"]["strimzi.io/cluster"] for o in objects if o["kind"] == "KafkaTopic"
    }
    for server in settings.kafka_bootstrap_servers.split(","):
        assert server.startswith(f"{cluster}-kafka-bootstrap"), server  # Strimzi's service name


# --- the example overlay -----------------------------------------------------------------------


def test_overlay_is_namespaced_with_a_registry_image_and_production_topics() -> None:
    objects = RENDERS["overlay"]
    assert {o["metadata"].get("namespace") for o in objects} == {"ticketstream"}
    images = {container(w)["image"] for w in (receiver(objects), worker(objects))}
    assert images == {"registry.example.com/ticketstream:0.1.0"}
    for topic in (o for o in objects if o["kind"] == "KafkaTopic"):
        assert (topic["spec"]["partitions"], topic["spec"]["replicas"]) == (12, 3)
    [claim] = worker(objects)["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"


def test_render_applies_strategic_merge_like_kustomize() -> None:
    base = {"spec": {"containers": [{"name": "a", "image": "x", "args": ["1"]}], "n": 1}}
    patch = {"spec": {"containers": [{"name": "a", "args": ["2"]}, {"name": "b"}]}}
    merged = strategic_merge(base, patch, core=True)
    assert merged == {
        "spec": {"containers": [{"name": "a", "image": "x", "args": ["2"]}, {"name": "b"}], "n": 1}
    }
    assert strategic_merge({"a": [1, 2], "b": 1}, {"a": [3], "b": None}, core=False) == {"a": [3]}
    with pytest.raises(NotImplementedError):
        strategic_merge({"ports": [{"port": 1}]}, {"ports": [{"port": 2}]}, core=True)
