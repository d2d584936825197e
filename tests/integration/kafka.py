"""Real-broker helpers for integration tests: which cluster, per-test settings, reading topics."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer, Message

from receiver.credentials import add_bearer_client
from ticketstream.settings import Settings

TEST_PARTITIONS = 4


def docker_engine_answers() -> bool:
    """True when a Docker engine (not just the client) answers /_ping on its socket."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return True  # a remote engine was configured on purpose; testcontainers will tell
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except OSError:
        return False


@contextmanager
def test_cluster() -> Iterator[tuple[str, object | None]]:
    """Yield (bootstrap servers, LocalKafka or None): env setting, else Docker, else local jars."""
    explicit = os.environ.get("TICKETSTREAM_KAFKA_BOOTSTRAP_SERVERS")
    if explicit:
        yield explicit, None
        return
    if docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server(), None
        return
    from deploy.localkafka import LocalKafka

    with LocalKafka() as broker:
        yield broker.bootstrap_servers, broker


def unique_settings(bootstrap: str, workdir: Path, **overrides: object) -> tuple[Settings, str]:
    """Settings with topics, group and credentials of this test alone; returns (settings, token)."""
    uid = uuid.uuid4().hex[:10]
    credentials = workdir / "credentials.toml"
    token = add_bearer_client(credentials, "stockholm", "easypark")
    values: dict[str, object] = {
        "kafka_bootstrap_servers": bootstrap,
        "topic_events": f"t{uid}.events",
        "topic_normalized": f"t{uid}.normalized",
        "topic_rejected": f"t{uid}.rejected",
        "partitions": TEST_PARTITIONS,
        "credentials_file": credentials,
        "worker_app_id": f"ts-{uid}",
        "worker_data_dir": workdir / "worker",
        "worker_session_timeout_seconds": 10.0,
        **overrides,
    }
    return Settings(**values), token  # type: ignore[arg-type]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process read exactly `settings`."""
    return {
        f"TICKETSTREAM_{name.upper()}": str(value) for name, value in settings.model_dump().items()
    }


def fresh_consumer(bootstrap: str, topic: str) -> Consumer:
    """A consumer of `topic` from its beginning, in a group of its own, committing nothing."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    return consumer


def read_topic(
    bootstrap: str, topic: str, count: int, timeout: float = 60.0, settle: float = 0.0
) -> list[Message]:
    """Read at least `count` messages from the start of `topic`, then `settle` seconds more."""
    consumer = fresh_consumer(bootstrap, topic)
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                messages.append(message)
        settled = time.monotonic() + settle
        while time.monotonic() < settled:
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                messages.append(message)
    finally:
        consumer.close()
    assert len(messages) >= count, f"read {len(messages)} of {count} messages from {topic}"
    return messages
