"""One real Kafka broker per test session; real receiver and worker processes per test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from deploy.localkafka import LocalKafka, free_port
from tests.integration.kafka import settings_env, test_cluster, unique_settings
from ticketstream.processes import ManagedProcess
from ticketstream.settings import Settings
from ticketstream.topics import create_topics

WORKER_KILL_DEADLINE = 20.0


@dataclass
class Cluster:
    """The session's Kafka: its address, and the local broker when this session started one."""

    bootstrap: str
    local: LocalKafka | None


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The one broker of the test session (never skipped: no broker is a failure)."""
    with test_cluster() as (bootstrap, local):
        assert local is None or isinstance(local, LocalKafka)
        yield Cluster(bootstrap, local)


@dataclass
class Stack:
    """A test's own topics, credentials and child processes."""

    settings: Settings
    token: str
    workdir: Path
    children: list[ManagedProcess]

    @property
    def base_url(self) -> str:
        """Where this test's receiver listens."""
        return f"http://127.0.0.1:{self.settings.http_port}"

    def start_receiver(self, name: str = "receiver") -> ManagedProcess:
        """Start `ticketstream receiver` and wait until /healthz answers."""
        child = self._start(name, "receiver", self.settings)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert child.poll() is None, f"receiver exited:\n{child.log_tail()}"
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return child
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"receiver did not start:\n{child.log_tail()}")

    def start_worker(self, name: str = "worker", **overrides: object) -> ManagedProcess:
        """Start `ticketstream worker` with its own web port (and data dir if overridden)."""
        settings = self.settings.model_copy(update={"worker_web_port": free_port(), **overrides})
        return self._start(name, "worker", settings)

    def _start(self, name: str, command: str, settings: Settings) -> ManagedProcess:
        child = ManagedProcess(
            name, [command], settings_env(settings), self.workdir / f"{name}.log"
        ).start()
        self.children.append(child)
        return child


@pytest.fixture
def stack(cluster: Cluster, tmp_path: Path) -> Iterator[Stack]:
    """Fresh topics and credentials for one test; stops every child it started."""
    settings, token = unique_settings(cluster.bootstrap, tmp_path, http_port=free_port())
    create_topics(settings)
    result = Stack(settings, token, tmp_path, [])
    yield result
    for child in reversed(result.children):
        code = child.stop(grace=WORKER_KILL_DEADLINE)
        # Shown by pytest only when the test failed.
        print(f"--- {child.name} exited {code}; last lines:\n{child.log_tail(40)}")


@pytest.fixture
def post(stack: Stack) -> Callable[..., httpx.Response]:
    """POST a body to this test's receiver with its Bearer token."""

    def send(body: str | bytes, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{stack.base_url}/api/v1/actions/tickets",
            content=body,
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                "Authorization": f"Bearer {stack.token}",
                **headers,
            },
            timeout=30,
        )

    return send
