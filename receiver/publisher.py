"""Publish to Kafka and wait for the broker's acknowledgement, without blocking the event loop."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from receiver.errors import ReceiverError

log = logging.getLogger(__name__)

_REPEAT_LOG_SECONDS = 30.0
_SWEEP_SECONDS = 0.05
_LIBRDKAFKA_LOG = logging.getLogger("librdkafka")


class PublishError(ReceiverError):
    """The event is not known to be in Kafka; the client may retry it safely."""

    retriable = True


class Publisher:
    """An idempotent acks=all producer whose delivery reports resolve asyncio futures.

    librdkafka calls delivery callbacks from `poll()`, which a background thread runs;
    each callback hands its result to the event loop with `call_soon_threadsafe`. A fatal
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
        self._fatal = threading.Event()
        self._reports: collections.deque[tuple[asyncio.Future[None], KafkaError | None]] = (
            collections.deque()
        )
        self._unacked = 0  # changed on the event loop's thread only
        self._deadlines: collections.deque[tuple[float, asyncio.Future[None]]] = collections.deque()
        self._sweeping: asyncio.AbstractEventLoop | None = None
        self._last_logged: dict[int, float] = {}
        self.recreated = 0
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._fatal.is_set():
                    self._recreate()
                self._producer.poll(0.1)
                self._hand_over()
            except Exception:
                # This thread is the only source of delivery reports: it must outlive any bug.
                log.exception("kafka poll loop error")
                time.sleep(0.1)

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
        if generation == self._generation and not self._fatal.is_set():
            log.error("kafka producer fatal error, replacing the producer: %s", err.str())
            self._fatal.set()

    def _recreate(self) -> None:
        self._generation += 1
        old, self._producer = self._producer, self._new_producer()
        self._fatal.clear()
        self.recreated += 1
        # Whatever the old producer still holds fails now (its requests answer 503), rather
        # than at the backstop; nothing it held is reported as delivered unless it was.
        try:
            old.purge(in_queue=True, in_flight=True, blocking=False)
            old.poll(0)
            self._hand_over()
        except (KafkaException, RuntimeError) as exc:
            log.warning("purging the failed producer: %s", exc)
        log.info("kafka producer replaced after a fatal error")

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one message and return once Kafka acknowledged it; raise PublishError otherwise."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        reports = self._reports

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            reports.append((done, err))  # runs inside poll(); _hand_over passes it on

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
        # librdkafka reports every message before the deadline (settings.message_timeout_seconds);
        # the deadline holds even if it does not, and is what a client waits at most.
        loop = done.get_loop()
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

    def _hand_over(self) -> None:
        # One wake-up of the event loop per poll() rather than per message: under load a poll
        # serves dozens of reports, and each call_soon_threadsafe costs a pipe write and a wake.
        batch: list[tuple[asyncio.Future[None], KafkaError | None]] = []
        with contextlib.suppress(IndexError):
            while True:
                batch.append(self._reports.popleft())
        if not batch:
            return
        loop = batch[0][0].get_loop()
        if all(done.get_loop() is loop for done, _ in batch):
            groups = {loop: batch}
        else:
            groups = {}
            for item in batch:
                groups.setdefault(item[0].get_loop(), []).append(item)
        for target, items in groups.items():
            # A closed loop means the requests these reports belonged to are long gone.
            with contextlib.suppress(RuntimeError):
                target.call_soon_threadsafe(self._settle_all, items)

    def _settle_all(self, items: list[tuple[asyncio.Future[None], KafkaError | None]]) -> None:
        self._unacked -= len(items)
        for done, err in items:
            if done.done():
                continue
            if err is None:
                done.set_result(None)
            else:
                done.set_exception(PublishError(f"kafka did not acknowledge: {err.str()}"))

    def queue_depth(self) -> int:
        """Messages handed to the producer whose delivery report has not reached the loop yet."""
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
        """Deliver what is queued (bounded by `timeout`), then stop the poll thread."""
        remaining = self._producer.flush(timeout)
        self._hand_over()
        if remaining:
            log.warning("producer closed with %d undelivered messages", remaining)
        self._stopping.set()
        self._poller.join(timeout=5)
