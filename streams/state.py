"""Per-ticket state of the worker, and the pure function that applies one envelope to it (SPEC §4).

`apply(state, envelope)` returns the new state and the outputs in the order to send them: `Emit`
(a new version of the record, for `tickets.normalized`) and `Reject` (for `tickets.rejected`). It
touches no broker and never raises for a valid Envelope; the agent stores the state in its table
and sends the outputs.

Redelivery. Every event applied -- rejected ones, and ones that changed nothing, included -- leaves
its eventId in a ring of this ticket's last SEEN_CAPACITY eventIds, and an eventId found there (or
among the held moves) is ignored. A bounded ring is enough: Kafka redelivers a partition in order,
so a worker that crashed or lost the partition in a rebalance re-reads a contiguous suffix from the
last committed offset, and the table restored from its changelog has applied at most that suffix.
The ticket's share of it is its few most recent events, since Faust commits acked offsets every
`broker_commit_interval` (2.8 s by default): one ticket would need more than SEEN_CAPACITY webhooks
in that window for a replayed one to be missed.

Content comparison alone would not do: a replayed move A->B after B->A moves the ticket again, and
a replayed update that changed nothing the first time can revert a later one -- which is also why
no-change events are remembered. A webhook that its sender delivers twice has two eventIds and is
caught by content instead: an event that changes nothing emits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from schemas.envelope import Envelope
from schemas.events import TicketCanceled
from schemas.records import Rejection, TicketRecord
from streams.normalize import Ticket, WholeSeconds, build_record
from streams.transitions import CarriedTicket, cancel, merge, move, move_plates

Reason = Literal[
    "invalid_event", "processing_error", "plate_mismatch", "ticket_canceled", "too_many_held_moves"
]
# The message on `tickets.events` could not be decoded into an Envelope (used by the agent).
INVALID_EVENT: Final = "invalid_event"
# Applying the event raised: a bug, reported instead of stopping the partition (agent only).
PROCESSING_ERROR: Final = "processing_error"
# A from/to move whose plates match neither the current plate nor the one it moves to.
PLATE_MISMATCH: Final = "plate_mismatch"
# Any event but a repeated cancel, for a ticket canceled (even before it was created).
TICKET_CANCELED: Final = "ticket_canceled"
# A move for a ticket not created yet, when MAX_HELD_MOVES already wait for its create.
TOO_MANY_HELD_MOVES: Final = "too_many_held_moves"
REASONS: Final[tuple[Reason, ...]] = (
    INVALID_EVENT,
    PROCESSING_ERROR,
    PLATE_MISMATCH,
    TICKET_CANCELED,
    TOO_MANY_HELD_MOVES,
)

SEEN_CAPACITY: Final = 32
MAX_HELD_MOVES: Final = 16


class _Stored(BaseModel):
    # Ignore unknown keys: a worker rolled back must still read state a newer one wrote.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Current(_Stored):
    """The ticket as last emitted: its fields, and the stamp of that record."""

    ticket: Ticket
    version: int
    event_type: str
    event_id: str
    updated_at: WholeSeconds


class TicketState(_Stored):
    """Everything the worker keeps for one ticket; stored as JSON in the table's changelog."""

    current: Current | None = None
    # A cancel arrived before any create: the ticket must never come into being.
    canceled_before_create: bool = False
    # From/to moves that arrived before the create, applied in order right after it.
    held_moves: tuple[Envelope, ...] = ()
    # The last SEEN_CAPACITY eventIds applied, oldest first (see the module docstring).
    seen: tuple[str, ...] = ()

    @property
    def canceled(self) -> bool:
        """True once the ticket is canceled, whether or not it was ever created."""
        current = self.current
        return self.canceled_before_create or (
            current is not None and current.ticket.status == "canceled"
        )


@dataclass(frozen=True, slots=True)
class Emit:
    """A new version of the ticket's record, for `tickets.normalized`."""

    record: TicketRecord


@dataclass(frozen=True, slots=True)
class Reject:
    """An event that could not be applied; `envelope` is that event's, even for a held move."""

    reason: Reason
    detail: str
    envelope: Envelope

    def rejection(self) -> Rejection:
        """The value for `tickets.rejected`."""
        return Rejection(reason=self.reason, detail=self.detail, event=self.envelope)


Output = Emit | Reject
Outcome = tuple[TicketState, list[Output]]


def apply(state: TicketState | None, envelope: Envelope) -> Outcome:
    """Apply one envelope to a ticket's state (None: never seen): the new state and the outputs."""
    state = TicketState() if state is None else state
    if already_applied(state, envelope.eventId):
        return state, []
    state, outputs = _step(state, envelope)
    seen = (*state.seen, envelope.eventId)[-SEEN_CAPACITY:]
    return state.model_copy(update={"seen": seen}), outputs


def current_record(
    state: TicketState, *, tenant: str, source: str, ticket_id: str
) -> TicketRecord | None:
    """The record last emitted for the ticket, or None if none was."""
    current = state.current
    if current is None:
        return None
    return _record(current, tenant=tenant, source=source, ticket_id=ticket_id)


def state_to_bytes(state: TicketState) -> bytes:
    """The state as compact JSON for the table's changelog (defaults left out)."""
    return state.model_dump_json(exclude_defaults=True).encode()


def state_from_bytes(value: bytes) -> TicketState:
    """Decode a state written by state_to_bytes; raises pydantic.ValidationError."""
    return TicketState.model_validate_json(value)


def already_applied(state: TicketState, event_id: str) -> bool:
    """True if the event with this id was applied to (or is held in) the state: a redelivery."""
    # Held moves are checked too: more than SEEN_CAPACITY rejections may follow one.
    return event_id in state.seen or any(held.eventId == event_id for held in state.held_moves)


def _step(state: TicketState, envelope: Envelope) -> Outcome:
    event = envelope.event
    if isinstance(event, TicketCanceled):
        return _cancel(state, envelope)
    if state.canceled:
        detail = f"the ticket is canceled; a {event.eventType} cannot apply to it"
        return state, [Reject(TICKET_CANCELED, detail, envelope)]
    plates = move_plates(event)
    if plates is None:
        return _upsert(state, envelope, event)
    if state.current is None:
        return _hold(state, envelope)
    return _move(state, envelope, plates, envelope.receivedAt)


def _cancel(state: TicketState, envelope: Envelope) -> Outcome:
    if state.canceled:
        return state, []
    if state.current is None:
        detail = "the ticket was canceled before it was created"
        rejects: list[Output] = [Reject(TICKET_CANCELED, detail, held) for held in state.held_moves]
        return state.model_copy(update={"canceled_before_create": True, "held_moves": ()}), rejects
    return _change(state, envelope, cancel(state.current.ticket), envelope.receivedAt)


def _upsert(state: TicketState, envelope: Envelope, event: CarriedTicket) -> Outcome:
    previous = state.current
    ticket = merge(None if previous is None else previous.ticket, event)
    state, outputs = _change(state, envelope, ticket, envelope.receivedAt)
    if previous is not None or not state.held_moves:
        return state, outputs
    held, state = state.held_moves, state.model_copy(update={"held_moves": ()})
    for move_envelope in held:
        plates = move_plates(move_envelope.event)
        if plates is None:  # only from/to moves are ever held
            continue
        # Stamped no earlier than the create, so updatedAt never goes back between versions.
        received_at = max(move_envelope.receivedAt, envelope.receivedAt)
        state, more = _move(state, move_envelope, plates, received_at)
        outputs += more
    return state, outputs


def _hold(state: TicketState, envelope: Envelope) -> Outcome:
    if len(state.held_moves) >= MAX_HELD_MOVES:
        detail = f"{MAX_HELD_MOVES} moves already wait for the ticket to be created"
        return state, [Reject(TOO_MANY_HELD_MOVES, detail, envelope)]
    return state.model_copy(update={"held_moves": (*state.held_moves, envelope)}), []


def _move(
    state: TicketState, envelope: Envelope, plates: tuple[str, str], received_at: datetime
) -> Outcome:
    current = state.current
    moved = None if current is None else move(current.ticket, *plates)
    if moved is None:
        plate = None if current is None else current.ticket.license_number
        detail = (
            f"fromLicenseNumber {plates[0]} and toLicenseNumber {plates[1]}"
            f" do not match the current plate {plate}"
        )
        return state, [Reject(PLATE_MISMATCH, detail, envelope)]
    return _change(state, envelope, moved, received_at)


def _change(
    state: TicketState, envelope: Envelope, ticket: Ticket, received_at: datetime
) -> Outcome:
    # A change is a different record but for the stamp; Ticket equality is exactly that.
    previous = state.current
    if previous is not None and previous.ticket == ticket:
        return state, []
    current = Current(
        ticket=ticket,
        version=1 if previous is None else previous.version + 1,
        event_type=envelope.event.eventType,
        event_id=envelope.eventId,
        updated_at=received_at,
    )
    record = _record(
        current, tenant=envelope.tenant, source=envelope.source, ticket_id=envelope.event.ticketId
    )
    return state.model_copy(update={"current": current}), [Emit(record)]


def _record(current: Current, *, tenant: str, source: str, ticket_id: str) -> TicketRecord:
    return build_record(
        current.ticket,
        tenant=tenant,
        source=source,
        ticket_id=ticket_id,
        version=current.version,
        event_type=current.event_type,
        event_id=current.event_id,
        updated_at=current.updated_at,
    )
