"""Create ticketstream's topics idempotently, each with the one configured partition count."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from ticketstream.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    """A topic name and its configs."""

    name: str
    config: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics of SPEC §3 with their cleanup policies."""
    durable = {"min.insync.replicas": str(min(2, settings.replication_factor))}
    return [
        TopicSpec(settings.topic_events, {"cleanup.policy": "delete", **durable}),
        TopicSpec(settings.topic_normalized, {"cleanup.policy": "compact", **durable}),
        TopicSpec(settings.topic_rejected, {"cleanup.policy": "delete", **durable}),
        TopicSpec(settings.changelog_topic(), {"cleanup.policy": "compact", **durable}),
    ]


class TopicMismatch(RuntimeError):
    """An existing topic has another partition count than configured."""


def create_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create missing topics; return the names created. Existing ones are checked, not changed."""
    admin = AdminClient(settings.client_config())
    specs = topic_specs(settings)
    futures = admin.create_topics(
        [
            NewTopic(
                spec.name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                config=spec.config,
            )
            for spec in specs
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
            log.info("created topic=%s partitions=%d", name, settings.partitions)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    _check_partitions(admin, specs, settings.partitions, timeout)
    return created


def _check_partitions(
    admin: AdminClient, specs: list[TopicSpec], partitions: int, timeout: float
) -> None:
    # A just-created topic can take a moment to show in metadata: wait for it, then compare.
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        missing = [spec.name for spec in specs if spec.name not in topics]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise TopicMismatch(f"topics {missing} do not show in the cluster's metadata")
        time.sleep(0.1)
    for spec in specs:
        found = len(topics[spec.name].partitions)
        if found != partitions:
            raise TopicMismatch(
                f"topic {spec.name} has {found} partitions, configured {partitions}: "
                "the worker's table would not line up with its source topic"
            )
