"""The one agent: decode an envelope, apply it to the ticket's state, emit what apply returned."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka.structs import RecordMetadata
from pydantic import ValidationError

from schemas.envelope import Envelope, parse_envelope
from schemas.records import Rejection
from streams.output import Output
from streams.state import (
    INVALID_EVENT,
    PROCESSING_ERROR,
    Emit,
    Reject,
    TicketState,
    already_applied,
    apply,
    current_record,
    state_from_bytes,
    state_to_bytes,
)
from ticketstream.logs import fields

if TYPE_CHECKING:
    from streams.app import Worker

log = logging.getLogger(__name__)


def attach_agent(worker: Worker) -> None:
    """Register the agent that consumes `worker.events`."""
    output = Output(worker.app)

    @worker.app.agent(worker.events, name="apply-ticket-events")
    async def apply_ticket_events(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            started = time.perf_counter()
            await handle(worker, output, event.key, event.value, message.partition)
            worker.metrics.process_seconds.observe(time.perf_counter() - started)
            worker.metrics.last_offsets[message.partition] = message.offset


async def handle(
    worker: Worker, output: Output, key: bytes | None, value: bytes | None, partition: int
) -> None:
    """Apply one message; a message that cannot be decoded goes to the rejected topic."""
    metrics = worker.metrics
    rejected = worker.settings.topic_rejected
    try:
        envelope = parse_envelope(value or b"")
        if key is None or envelope.key.encode() != key:
            raise ValueError(f"message key {key!r} does not match the envelope's {envelope.key!r}")
    except (ValidationError, ValueError) as exc:
        log.warning("undecodable event: %s", exc, extra=fields(key=key, reason=INVALID_EVENT))
        rejection = Rejection(
            reason=INVALID_EVENT, detail=str(exc)[:2000], event=rejected_value(value)
        )
        await output.send(rejected, key, rejection.model_dump_json().encode())
        metrics.events.labels(event_type="", outcome="rejected").inc()
        metrics.rejections.labels(reason=INVALID_EVENT).inc()
        return
    event_type = envelope.event.eventType
    metrics.event_age.observe(max(0.0, time.time() - envelope.receivedAt.timestamp()))
    stored = worker.table.get(key)
    try:
        state = state_from_bytes(stored) if stored is not None else None
        if state is not None and already_applied(state, envelope.eventId):
            metrics.events.labels(event_type=event_type, outcome="duplicate").inc()
            if state.current is not None and state.current.event_id == envelope.eventId:
                await _resend_current(worker, output, key, envelope, state)
            return
        new_state, outputs = apply(state, envelope)
    except Exception as exc:  # a bug must not stop every ticket on this partition
        log.exception("apply failed", extra=_context(envelope, reason=PROCESSING_ERROR))
        rejection = Rejection(reason=PROCESSING_ERROR, detail=repr(exc)[:2000], event=envelope)
        await output.send(rejected, key, rejection.model_dump_json().encode())
        metrics.events.labels(event_type=event_type, outcome="rejected").inc()
        metrics.rejections.labels(reason=PROCESSING_ERROR).inc()
        return
    metrics.events.labels(event_type=event_type, outcome=_outcome(outputs)).inc()
    for out in outputs:
        if isinstance(out, Emit):
            record = out.record.model_dump_json().encode()
            await output.send(worker.settings.topic_normalized, key, record)
        else:
            log.info("rejected", extra=_context(out.envelope, reason=out.reason))
            await output.send(rejected, key, out.rejection().model_dump_json().encode())
            metrics.rejections.labels(reason=out.reason).inc()
    encoded = state_to_bytes(new_state)
    if encoded != stored:
        await _store(worker, output, key, encoded, partition)


async def _store(
    worker: Worker, output: Output, key: bytes, encoded: bytes, partition: int
) -> None:
    """Write the state to the local store and to the changelog, as faust's table would.

    The changelog entry goes to the source event's partition (faust's co-partitioning), after
    the outputs; its acknowledged offset is persisted in the store so that a restart with the
    RocksDB store kept replays only the changelog's tail.
    """
    store = worker.table.data
    store[key] = encoded
    changelog = worker.table.changelog_topic.get_topic_name()

    def persist(metadata: RecordMetadata) -> None:
        store.set_persisted_offset(metadata.topic_partition, metadata.offset)

    await output.send(changelog, key, encoded, partition=partition, on_sent=persist)


async def _resend_current(
    worker: Worker, output: Output, key: bytes, envelope: Envelope, state: TicketState
) -> None:
    """The last change is being redelivered: re-send its record, which a crash may have lost.

    The changelog write and the record are separate messages; after a crash the restored state
    can hold a change whose record never reached the topic. Re-sending the same version is
    harmless on a compacted topic (consumers keep the highest version per key).
    """
    record = current_record(
        state, tenant=envelope.tenant, source=envelope.source, ticket_id=envelope.event.ticketId
    )
    if record is not None:
        await output.send(worker.settings.topic_normalized, key, record.model_dump_json().encode())


def _context(envelope: Envelope, reason: str) -> dict[str, dict[str, object]]:
    return fields(
        tenant=envelope.tenant,
        source=envelope.source,
        ticketId=envelope.event.ticketId,
        eventId=envelope.eventId,
        reason=reason,
    )


def _outcome(outputs: list[Emit | Reject]) -> str:
    if any(isinstance(out, Emit) for out in outputs):
        return "applied"
    return "rejected" if outputs else "unchanged"


def rejected_value(value: bytes | None) -> dict[str, Any] | list[Any] | str | None:
    """An undecodable message as a rejection carries it: its JSON object or array, else text."""
    if value is None:
        return None
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value.decode(errors="replace")
    # A bare number, boolean or null would not fit the rejection record: keep the text.
    return decoded if isinstance(decoded, dict | list | str) else value.decode(errors="replace")
