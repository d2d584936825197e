"""The one agent: decode an envelope, apply it to the ticket's state, emit what apply returned."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from schemas.envelope import Envelope, parse_envelope
from schemas.records import Rejection
from streams.state import (
    INVALID_EVENT,
    PROCESSING_ERROR,
    Emit,
    Reject,
    TicketState,
    apply,
    current_record,
    state_from_bytes,
    state_to_bytes,
)

if TYPE_CHECKING:
    from streams.app import Worker

log = logging.getLogger(__name__)


def attach_agent(worker: Worker) -> None:
    """Register the agent that consumes `worker.events`."""

    @worker.app.agent(worker.events, name="apply-ticket-events")
    async def apply_ticket_events(stream: Any) -> None:
        async for event in stream.events():
            await handle(worker, event.key, event.value)


async def handle(worker: Worker, key: bytes | None, value: bytes | None) -> None:
    """Apply one message; a message that cannot be decoded goes to the rejected topic."""
    try:
        envelope = parse_envelope(value or b"")
        if key is None or envelope.key.encode() != key:
            raise ValueError(f"message key {key!r} does not match the envelope's {envelope.key!r}")
    except (ValidationError, ValueError) as exc:
        log.warning("undecodable event on %s key=%r: %s", worker.events.get_topic_name(), key, exc)
        rejection = Rejection(reason=INVALID_EVENT, detail=str(exc)[:2000], event=_as_json(value))
        await worker.rejected.send(key=key, value=rejection.model_dump_json().encode())
        return
    stored = worker.table.get(key)
    try:
        state = state_from_bytes(stored) if stored is not None else None
        if state is not None and state.current and state.current.event_id == envelope.eventId:
            await _resend_current(worker, key, envelope, state)
            return
        new_state, outputs = apply(state, envelope)
    except Exception as exc:  # a bug must not stop every ticket on this partition
        log.exception("apply failed eventId=%s key=%r", envelope.eventId, key)
        rejection = Rejection(reason=PROCESSING_ERROR, detail=repr(exc)[:2000], event=envelope)
        await worker.rejected.send(key=key, value=rejection.model_dump_json().encode())
        return
    for output in outputs:
        if isinstance(output, Emit):
            worker.normalized.send_soon(key=key, value=output.record.model_dump_json().encode())
        elif isinstance(output, Reject):
            log.info(
                "rejected tenant=%s source=%s ticketId=%s eventId=%s reason=%s",
                output.envelope.tenant, output.envelope.source, output.envelope.event.ticketId,
                output.envelope.eventId, output.reason,
            )  # fmt: skip
            worker.rejected.send_soon(key=key, value=output.rejection().model_dump_json().encode())
    # Outputs are queued before the table write, so the changelog is rarely ahead of them.
    encoded = state_to_bytes(new_state)
    if encoded != stored:
        worker.table[key] = encoded


async def _resend_current(
    worker: Worker, key: bytes, envelope: Envelope, state: TicketState
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
        await worker.normalized.send(key=key, value=record.model_dump_json().encode())


def _as_json(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value.decode(errors="replace")
