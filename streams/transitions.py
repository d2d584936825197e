"""How one event changes a ticket's fields: merge a carried ticket, move its plate, cancel it."""

from __future__ import annotations

from typing import TypeVar

from schemas.events import (
    CreateOrUpdate,
    TicketCost,
    TicketCreated,
    TicketMoved,
    TicketStopped,
    TicketUpdated,
)
from streams.normalize import Ticket

# The events that carry a ticket's fields (TicketMoved only in its full-ticket form).
CarriedTicket = TicketCreated | TicketUpdated | TicketStopped | CreateOrUpdate | TicketMoved

_T = TypeVar("_T")


def _keep(new: _T | None, old: _T | None) -> _T | None:
    # Absent and null mean "not sent", never "clear it" (SPEC §4).
    return old if new is None else new


def with_plate(ticket: Ticket, plate: str | None) -> Ticket:
    """The ticket on another plate, the old one appended to the history; unchanged if the same."""
    if plate is None or plate == ticket.license_number:
        return ticket
    previous = ticket.previous_license_numbers
    if ticket.license_number is not None:
        previous = (*previous, ticket.license_number)
    return ticket.model_copy(update={"license_number": plate, "previous_license_numbers": previous})


def merge(ticket: Ticket | None, event: CarriedTicket) -> Ticket:
    """The ticket with every field the event carries; a new ticket if None."""
    base = ticket if ticket is not None else Ticket(status="active")
    base = with_plate(base, event.licenseNumber)
    cost = TicketCost() if event.ticketCost is None else event.ticketCost
    return Ticket(
        # Only TicketStopped changes the status: an update never reactivates a stopped ticket.
        status="stopped" if isinstance(event, TicketStopped) else base.status,
        license_number=base.license_number,
        previous_license_numbers=base.previous_license_numbers,
        zone_code=_keep(event.zoneCode, base.zone_code),
        parking_lot_id=_keep(event.parkingLotId, base.parking_lot_id),
        valid_from=_keep(event.startDate, base.valid_from),
        valid_until=_keep(event.endDate, base.valid_until),
        amount_incl_vat=_keep(cost.amountInclVat, base.amount_incl_vat),
        vat_rate=_keep(cost.vatRate, base.vat_rate),
        currency_code=_keep(cost.currencyCode, base.currency_code),
    )


def move(ticket: Ticket, from_plate: str, to_plate: str) -> Ticket | None:
    """The ticket after a from/to move: moved, unchanged if already applied, None on a mismatch."""
    if ticket.license_number == from_plate:
        return with_plate(ticket, to_plate)
    if ticket.license_number == to_plate:
        # The move was applied before (a redelivered webhook with a new eventId).
        return ticket
    return None


def cancel(ticket: Ticket) -> Ticket:
    """The ticket canceled; every other field stays for the record."""
    return ticket.model_copy(update={"status": "canceled"})


def move_plates(event: object) -> tuple[str, str] | None:
    """(from, to) of a TicketMoved in its from/to form; None for any other event."""
    if (
        isinstance(event, TicketMoved)
        and event.fromLicenseNumber is not None
        and event.toLicenseNumber is not None
    ):
        return event.fromLicenseNumber, event.toLicenseNumber
    return None
