"""`ticketstream rejected replay`: send selected rejections back to the events topic after a fix.

A replayed envelope keeps its tenant, source, receivedAt, event and raw body but gets a new
eventId: the worker remembers the ids it applied (rejections included), so the old id would be
skipped as a redelivery. The original id travels in the `ticketstream-replay-of` header.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from pydantic import ValidationError

from schemas.envelope import Envelope, envelope_bytes, new_event_id
from schemas.records import Rejection
from ticketstream.settings import Settings

REPLAY_OF_HEADER = "ticketstream-replay-of"


@dataclass(frozen=True)
class Selection:
    """Which rejections to replay; an empty field selects everything on that axis."""

    reasons: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, key: str, reason: str, rejected_at: datetime) -> bool:
        """True if a rejection with this key, reason and time is selected."""
        return (
            (not self.reasons or reason in self.reasons)
            and (not self.keys or key in self.keys)
            and (self.since is None or rejected_at >= self.since)
            and (self.until is None or rejected_at < self.until)
        )


@dataclass(frozen=True)
class Candidate:
    """One selected rejection: the envelope to send again, or why it cannot be."""

    key: str
    reason: str
    rejected_at: datetime
    envelope: Envelope | None
    problem: str | None = None


def candidate(key: str, value: bytes, rejected_at: datetime) -> Candidate:
    """Decode one message of the rejected topic."""
    try:
        rejection = Rejection.model_validate_json(value)
    except ValidationError as exc:
        return Candidate(key, "?", rejected_at, None, f"not a rejection record: {exc}")
    if not isinstance(rejection.event, Envelope):
        problem = "the rejected message was not an envelope; nothing to replay"
        return Candidate(key, rejection.reason, rejected_at, None, problem)
    return Candidate(key, rejection.reason, rejected_at, rejection.event)


def replay_envelope(original: Envelope) -> Envelope:
    """The envelope to publish again: the same event under a new eventId."""
    return original.model_copy(update={"eventId": new_event_id()})


def select(candidates: Iterable[Candidate], selection: Selection) -> list[Candidate]:
    """The candidates the selection names."""
    return [c for c in candidates if selection.matches(c.key, c.reason, c.rejected_at)]


def read_rejected(settings: Settings, timeout: float = 120.0) -> Iterator[Candidate]:
    """Every message on the rejected topic up to its end when called (commits nothing)."""
    consumer = Consumer(
        {
            **settings.client_config(),
            "group.id": f"ticketstream-replay-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        topic = consumer.list_topics(settings.topic_rejected, timeout=timeout).topics
        partitions = sorted(topic[settings.topic_rejected].partitions)
        ends: dict[int, int] = {}
        starts = []
        for partition in partitions:
            tp = TopicPartition(settings.topic_rejected, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(settings.topic_rejected, partition, low))
        consumer.assign(starts)
        deadline = time.monotonic() + timeout
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{settings.topic_rejected} not read to its end in {timeout}s")
            # consume() waits for its whole batch or the timeout: keep the timeout short.
            for message in consumer.consume(1000, timeout=0.2):
                error = message.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"reading {settings.topic_rejected}: {error}")
                if error is None:
                    yield _candidate_of(message)
                partition, offset = message.partition() or 0, message.offset() or 0
                if partition in ends and offset >= ends[partition] - 1:
                    del ends[partition]
    finally:
        consumer.close()


def _candidate_of(message: Message) -> Candidate:
    rejected_at = datetime.fromtimestamp(message.timestamp()[1] / 1000, UTC)
    key = (message.key() or b"").decode(errors="replace")
    return candidate(key, message.value() or b"", rejected_at)


def publish(settings: Settings, candidates: list[Candidate]) -> list[Envelope]:
    """Send the replayable candidates to the events topic; return what was sent (all acked)."""
    producer = Producer(settings.producer_config())
    sent: list[Envelope] = []
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(err.str())

    for item in candidates:
        if item.envelope is None:
            continue
        envelope = replay_envelope(item.envelope)
        producer.produce(
            settings.topic_events,
            key=envelope.key.encode(),
            value=envelope_bytes(envelope),
            headers=[(REPLAY_OF_HEADER, item.envelope.eventId.encode())],
            on_delivery=on_delivery,
        )
        sent.append(envelope)
    remaining = producer.flush(settings.produce_timeout_seconds + 10)
    if remaining or failures:
        raise RuntimeError(f"{remaining} not delivered, {len(failures)} failed: {failures[:3]}")
    return sent


def run_replay(settings: Settings, selection: Selection, *, dry_run: bool) -> list[str]:
    """Select, then list (dry run) or publish; returns the lines to print."""
    chosen = select(read_rejected(settings), selection)
    lines = []
    for item in chosen:
        what = (
            f"skip ({item.problem})"
            if item.envelope is None
            else ("would replay" if dry_run else "replay")
        )
        event_id = item.envelope.eventId if item.envelope else "-"
        lines.append(
            f"{what}\t{item.key}\treason={item.reason}\teventId={event_id}"
            f"\trejectedAt={item.rejected_at.isoformat()}"
        )
    replayable = [item for item in chosen if item.envelope is not None]
    if dry_run:
        lines.append(f"dry run: {len(replayable)} of {len(chosen)} selected would be replayed")
    else:
        sent = publish(settings, replayable)
        lines.append(f"replayed {len(sent)} of {len(chosen)} selected to {settings.topic_events}")
    return lines
