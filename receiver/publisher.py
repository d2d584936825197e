"""Publish to Kafka and wait for the broker's acknowledgement, without blocking the event loop."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from receiver.errors import ReceiverError

log = logging.getLogger(__name__)

# While reports are awaited the loop polls librdkafka this often; idle, ten times a second.
POLL_SECONDS = 0.001
IDLE_POLL_SECONDS = 0.1
_SWEEP_SECONDS = 0.05
_REPEAT_LOG_SECONDS = 30.0
_LIBRDKAFKA_LOG = logging.getLogger("librdkafka")


class PublishError(ReceiverError):
    """The event is not known to be in Kafka; the client may retry it safely."""

    retriable = True


class Publisher:
    """An idempotent acks=all producer whose delivery reports resolve asyncio futures.

    librdkafka runs delivery callbacks inside `poll()`. A task on the event loop polls without
    blocking (`poll(0)`) every millisecond while reports are awaited, so callbacks settle
    their futures directly: no thread hands reports over, and none competes for the GIL (a
    poll thread waits up to the interpreter's 5 ms switch interval for it under load). A fatal
    error (the idempotent producer's guarantee cannot be kept) replaces the producer.
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        ack_timeout: float,
        producer_factory: Callable[[dict[str, Any]], Producer] = Producer,
    ) -> None:
        self._config = config
        self._factory = producer_factory
        self._ack_timeout = ack_timeout
        # Each producer has a generation; only a fatal error of the current one replaces it,
        # so a late report from a replaced producer cannot take down its successor.
        self._generation = 0
        self._producer = self._new_producer()
        self._fatal = False
        self._unacked = 0
        self._deadlines: collections.deque[tuple[float, asyncio.Future[None]]] = collections.deque()
        self._sweeping: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._last_logged: dict[int, float] = {}
        self.recreated = 0

    def start(self) -> None:
        """Start polling on the running event loop (publish() also does, if needed)."""
        loop = asyncio.get_running_loop()
        if self._poller is None or self._poller.done() or self._poller.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._poller = loop.create_task(self._poll_forever(), name="kafka-poll")

    async def _poll_forever(self) -> None:
        assert self._wake is not None
        while True:
            try:
                if self._fatal:
                    self._recreate()
                self._producer.poll(0)
                if self._unacked:
                    await asyncio.sleep(POLL_SECONDS)
                else:
                    # Nothing awaited: error and log events still need serving now and then.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)
                    self._wake.clear()
            except asyncio.CancelledError:
                raise
            except Exception:
                # This task is the only source of delivery reports: it must outlive any bug.
                log.exception("kafka poll loop error")
                await asyncio.sleep(IDLE_POLL_SECONDS)

    def _new_producer(self) -> Producer:
        generation = self._generation
        return self._factory(
            {
                **self._config,
                "error_cb": lambda err: self._on_error(generation, err),
                # librdkafka's own log lines, through logging rather than straight to stderr.
                "logger": _LIBRDKAFKA_LOG,
            }
        )

    def _on_error(self, generation: int, err: KafkaError) -> None:
        # Called from poll(): global errors such as all brokers down, or a fatal error.
        if err.fatal():
            self._failed(generation, err)
            return
        now = time.monotonic()
        # While a broker is down librdkafka repeats the same error every few seconds.
        if now - self._last_logged.get(err.code(), -_REPEAT_LOG_SECONDS) >= _REPEAT_LOG_SECONDS:
            self._last_logged[err.code()] = now
            log.warning("kafka producer error (retrying): %s", err.str())

    def _failed(self, generation: int, err: KafkaError) -> None:
        if generation == self._generation and not self._fatal:
            log.error("kafka producer fatal error, replacing the producer: %s", err.str())
            self._fatal = True

    def _recreate(self) -> None:
        self._generation += 1
        old, self._producer = self._producer, self._new_producer()
        self._fatal = False
        self.recreated += 1
        # Whatever the old producer still holds fails now (its requests answer 503), rather
        # than at the deadline; nothing it held is reported as delivered unless it was.
        try:
            old.purge(in_queue=True, in_flight=True, blocking=False)
            old.poll(0)
        except (KafkaException, RuntimeError) as exc:
            log.warning("purging the failed producer: %s", exc)
        log.info("kafka producer replaced after a fatal error")

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one message and return once Kafka acknowledged it; raise PublishError otherwise."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            # Runs inside poll(), on the event loop's thread.
            self._unacked -= 1
            if done.done():
                return
            # A closed loop (a report served by a flush after it) has nobody left to tell.
            with contextlib.suppress(RuntimeError):
                if err is None:
                    done.set_result(None)
                else:
                    done.set_exception(PublishError(f"kafka did not acknowledge: {err.str()}"))

        generation, producer = self._generation, self._producer
        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError:
            raise PublishError("the producer queue is full") from None
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.fatal():
                self._failed(generation, error)
            raise PublishError(f"kafka refused the message: {error.str()}") from None
        self._unacked += 1
        if self._poller is None or self._poller.get_loop() is not loop or self._poller.done():
            self.start()
        elif self._unacked == 1 and self._wake is not None:
            self._wake.set()
        # librdkafka reports every message before the deadline (settings.message_timeout_seconds);
        # the deadline holds even if it does not, and is what a client waits at most.
        self._deadlines.append((loop.time() + self._ack_timeout, done))
        if self._sweeping is not loop:
            self._sweeping = loop
            loop.call_later(_SWEEP_SECONDS, self._sweep, loop)
        await done

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        # One timer for all requests instead of one each (wait_for): the timeout is the same for
        # every message, so the deadlines are in order and only the oldest need looking at.
        now, deadlines = loop.time(), self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, done = deadlines.popleft()
            if not done.done():
                done.set_exception(PublishError("no delivery report from Kafka in time"))
        while deadlines and deadlines[0][1].done():
            deadlines.popleft()
        if deadlines:
            loop.call_later(_SWEEP_SECONDS, self._sweep, loop)
        else:
            self._sweeping = None

    def queue_depth(self) -> int:
        """Messages handed to the producer whose delivery report has not come yet."""
        # len(producer) would also count librdkafka's log and error events.
        return self._unacked

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
        """Stop polling, then deliver what is queued (bounded by `timeout`)."""
        if self._poller is not None:
            with contextlib.suppress(RuntimeError):  # its loop may be closed already
                self._poller.cancel()
        remaining = self._producer.flush(timeout)
        if remaining:
            log.warning("producer closed with %d undelivered messages", remaining)
