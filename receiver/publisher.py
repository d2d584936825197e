"""Publish to Kafka and wait for the broker's acknowledgement, without blocking the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

log = logging.getLogger(__name__)


class PublishError(Exception):
    """The event is not known to be in Kafka; the client may retry it safely."""

    retriable = True


class Publisher:
    """An idempotent acks=all producer whose delivery reports resolve asyncio futures.

    librdkafka calls delivery callbacks from `poll()`, which a background thread runs;
    each callback hands its result to the event loop with `call_soon_threadsafe`.
    """

    def __init__(self, config: dict[str, Any], *, ack_timeout: float) -> None:
        self._config = config
        self._ack_timeout = ack_timeout
        self._producer = Producer(config)
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.1)

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one message and return once Kafka acknowledged it; raise PublishError otherwise."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            loop.call_soon_threadsafe(_settle, done, err)

        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError:
            raise PublishError("the producer queue is full") from None
        except KafkaException as exc:
            raise PublishError(f"kafka refused the message: {exc.args[0].str()}") from None
        try:
            # librdkafka reports every message within message.timeout.ms; this is a backstop.
            await asyncio.wait_for(done, self._ack_timeout + 5.0)
        except TimeoutError:
            raise PublishError("no delivery report from Kafka in time") from None

    def queue_depth(self) -> int:
        """Messages waiting in the producer for delivery."""
        return len(self._producer)

    async def reachable(self, topic: str, wait: float = 2.0) -> bool:
        """True if the cluster answers a metadata request for `topic`."""

        def probe() -> bool:
            try:
                metadata = self._producer.list_topics(topic, timeout=wait)
            except KafkaException:
                return False
            found = metadata.topics.get(topic)
            return found is not None and found.error is None and bool(metadata.brokers)

        return await asyncio.to_thread(probe)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (bounded by `timeout`), then stop the poll thread."""
        remaining = self._producer.flush(timeout)
        if remaining:
            log.warning("producer closed with %d undelivered messages", remaining)
        self._stopping.set()
        self._poller.join(timeout=5)


def _settle(done: asyncio.Future[None], err: KafkaError | None) -> None:
    if done.done():
        return
    if err is None:
        done.set_result(None)
    else:
        done.set_exception(PublishError(f"kafka did not acknowledge: {err.str()}"))
