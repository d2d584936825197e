"""Writes of the worker: records, rejections and the table's changelog, straight to the producer.

faust routes `Topic.send_soon` and every table write through its ProducerBuffer, a queue drained
by one task a message at a time (and, once 100 wait, flushed with a timeout per message). The
agent instead hands its messages to faust's producer itself (`app.producer.send`, the public
driver call): in bench/worker.py (20,000 envelopes) this and a 20 ms producer linger took the
worker from 1,587 to 2,126 events/s. The guarantees stay faust's: it is the same producer, and
faust flushes it before every offset commit, so an event's offset is committed only after its
outputs and changelog entry are acknowledged (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka.structs import RecordMetadata

log = logging.getLogger(__name__)


class Output:
    """Send bytes to topics through one faust app's producer; a failed send stops the worker."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._crashing: set[asyncio.Future[Any]] = set()

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        *,
        partition: int | None = None,
        on_sent: Callable[[RecordMetadata], None] | None = None,
    ) -> None:
        """Queue one message; returns once the producer holds it (not when Kafka acked it)."""
        future = await self._app.producer.send(topic, key, value, partition, None, None)
        future.add_done_callback(lambda done: self._settled(topic, done, on_sent))

    def _settled(
        self,
        topic: str,
        done: asyncio.Future[RecordMetadata],
        on_sent: Callable[[RecordMetadata], None] | None,
    ) -> None:
        if done.cancelled():
            return
        exc = done.exception()
        if exc is not None:
            # Continuing would commit offsets past an event whose output is lost: stop instead;
            # the restarted worker resumes from the last committed offset.
            log.critical("send to %s failed, stopping the worker: %r", topic, exc)
            crash = asyncio.ensure_future(self._app.crash(exc))
            self._crashing.add(crash)
            crash.add_done_callback(self._crashing.discard)
            return
        if on_sent is not None:
            on_sent(done.result())
