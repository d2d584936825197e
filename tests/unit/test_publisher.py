"""receiver.publisher: 503-worthy failures are PublishError within a bound; fatal errors recover.

No broker here: an address nobody listens on, and a fake producer for the fatal path.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from deploy.localkafka import free_port
from receiver.publisher import Publisher, PublishError
from ticketstream.settings import Settings


def nowhere(**overrides: Any) -> dict[str, Any]:
    """Producer settings for a broker that is not there."""
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", **overrides)
    return {**settings.producer_config(), "log_level": 0}


def test_unreachable_kafka_fails_within_the_produce_timeout() -> None:
    publisher = Publisher(nowhere(produce_timeout_seconds=1.0), ack_timeout=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(PublishError):
            asyncio.run(publisher.publish("t", b"k", b"v"))
        elapsed = time.monotonic() - started
        assert elapsed <= 1.0 + 0.2
    finally:
        publisher.close(timeout=0)


def test_full_queue_fails_at_once() -> None:
    config = nowhere(produce_timeout_seconds=2.0, producer_queue_max_messages=1)
    publisher = Publisher(config, ack_timeout=2.0)

    async def two() -> float:
        first = asyncio.ensure_future(publisher.publish("t", b"k", b"1"))
        await asyncio.sleep(0.05)
        assert publisher.queue_depth() == 1
        started = time.monotonic()
        with pytest.raises(PublishError, match="queue is full"):
            await publisher.publish("t", b"k", b"2")
        elapsed = time.monotonic() - started
        with pytest.raises(PublishError):
            await first
        return elapsed

    try:
        assert asyncio.run(two()) < 0.1
    finally:
        publisher.close(timeout=0)


class FakeProducer:
    """Acks every message on poll(), unless told to hold them or to fail fatally."""

    def __init__(self, config: dict[str, Any], log: list[str]) -> None:
        self.config = config
        self.log = log
        self.pending: list[Callable[[KafkaError | None, Any], None]] = []
        self.fail = threading.Event()
        self.hold = threading.Event()
        self.lock = threading.Lock()

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        with self.lock:
            if self.fail.is_set():
                raise KafkaException(KafkaError(KafkaError._FATAL, "fenced", fatal=True))
            self.pending.append(on_delivery)

    def poll(self, timeout: float) -> int:
        if self.fail.is_set():
            self.config["error_cb"](KafkaError(KafkaError._FATAL, "out of sequence", fatal=True))
            time.sleep(timeout)
            return 0
        if self.hold.is_set():
            time.sleep(0.01)
            return 0
        with self.lock:
            due, self.pending = self.pending, []
        for callback in due:
            callback(None, None)
        time.sleep(min(timeout, 0.01))
        return len(due)

    def purge(self, **_: bool) -> None:
        self.log.append("purged")
        with self.lock:
            due, self.pending = self.pending, []
        for callback in due:
            callback(KafkaError(KafkaError._PURGE_QUEUE, "purged"), None)

    def flush(self, timeout: float) -> int:
        return 0

    def __len__(self) -> int:
        return len(self.pending)


def test_a_fatal_error_replaces_the_producer() -> None:
    made: list[FakeProducer] = []
    log: list[str] = []

    def factory(config: dict[str, Any]) -> Any:
        made.append(FakeProducer(config, log))
        return made[-1]

    publisher = Publisher({"bootstrap.servers": "x"}, ack_timeout=2.0, producer_factory=factory)

    async def scenario() -> None:
        await publisher.publish("t", b"k", b"before")
        made[0].fail.set()
        with pytest.raises(PublishError, match="fenced"):
            await publisher.publish("t", b"k", b"during")
        for _ in range(500):  # the poll thread replaces the producer within a poll or two
            if len(made) == 2:
                break
            await asyncio.sleep(0.01)
        await publisher.publish("t", b"k", b"after")

    try:
        asyncio.run(scenario())
        assert len(made) == 2
        assert publisher.recreated == 1
        assert log == ["purged"]
    finally:
        publisher.close(timeout=0)


def test_messages_held_by_a_failed_producer_fail_promptly() -> None:
    made: list[FakeProducer] = []

    def factory(config: dict[str, Any]) -> Any:
        made.append(FakeProducer(config, []))
        return made[-1]

    publisher = Publisher({"bootstrap.servers": "x"}, ack_timeout=30.0, producer_factory=factory)

    async def scenario() -> float:
        made[0].hold.set()
        waiting = asyncio.ensure_future(publisher.publish("t", b"k", b"held"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        started = time.monotonic()
        made[0].fail.set()
        with pytest.raises(PublishError, match="purged"):
            await waiting
        return time.monotonic() - started

    try:
        assert asyncio.run(scenario()) < 2.0  # not the 31 s backstop
    finally:
        publisher.close(timeout=0)


def test_readiness_probe_is_false_without_kafka() -> None:
    publisher = Publisher(nowhere(), ack_timeout=1.0)
    try:
        assert asyncio.run(publisher.reachable("t", wait=0.5)) is False
    finally:
        publisher.close(timeout=0)
