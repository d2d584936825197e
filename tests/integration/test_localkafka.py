"""The local broker keeps its data across a restart on the same storage (as `make dev` does)."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from deploy.localkafka import LocalKafka

pytestmark = pytest.mark.integration


def test_restart_on_kept_storage_keeps_topics_and_messages(tmp_path: Path) -> None:
    broker = LocalKafka(data_dir=tmp_path / "kafka")
    try:
        broker.start()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic("kept", num_partitions=1, replication_factor=1)])[
            "kept"
        ].result(30)
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "acks": "all"})
        producer.produce("kept", value=b"before restart")
        assert producer.flush(10) == 0
        port = broker.port
        broker.stop()

        broker.start()
        assert broker.port == port
        consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "g"})
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition("kept", 0), timeout=10)
        finally:
            consumer.close()
        assert (low, high) == (0, 1)
    finally:
        broker.cleanup()
