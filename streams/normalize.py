"""The normalized ticket: its fields as kept in state, and the record built from them (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from schemas.fields import Timestamp, format_utc
from schemas.records import Cost, Status, TicketRecord


def whole_seconds(value: datetime) -> datetime:
    """The instant in UTC, truncated to a whole second."""
    return value.astimezone(UTC).replace(microsecond=0)


def utc_string(value: datetime) -> str:
    """A record timestamp: UTC, whole seconds, `Z` suffix."""
    return format_utc(whole_seconds(value))


# Truncated on the way in, so that two Tickets are equal exactly when their records are.
WholeSeconds = Annotated[Timestamp, AfterValidator(whole_seconds)]


class Ticket(BaseModel):
    """The fields of a ticket's record that count as a change (everything but the stamp)."""

    # Ignore unknown keys: a worker rolled back must still read state a newer one wrote.
    model_config = ConfigDict(frozen=True, extra="ignore")

    status: Status
    license_number: str | None = None
    previous_license_numbers: tuple[str, ...] = ()
    zone_code: int | None = None
    parking_lot_id: int | None = None
    valid_from: WholeSeconds | None = None
    valid_until: WholeSeconds | None = None
    amount_incl_vat: int | None = None
    vat_rate: int | None = None
    currency_code: str | None = None


def vat_split(amount_incl_vat: int | None, vat_rate: int | None) -> tuple[int | None, int | None]:
    """(vatAmount, amountExclVat) in cents; both None unless amount and rate are known."""
    if amount_incl_vat is None or vat_rate is None:
        return None, None
    # A Fraction keeps the quotient exact, and round() on a Fraction rounds half to even.
    vat_amount = round(Fraction(amount_incl_vat * vat_rate, 100 + vat_rate))
    return vat_amount, amount_incl_vat - vat_amount


def build_cost(
    amount_incl_vat: int | None, vat_rate: int | None, currency_code: str | None
) -> Cost | None:
    """The record's cost: None when no cost field is known, else all five keys."""
    if amount_incl_vat is None and vat_rate is None and currency_code is None:
        return None
    vat_amount, amount_excl_vat = vat_split(amount_incl_vat, vat_rate)
    return Cost(
        amountInclVat=amount_incl_vat,
        vatRate=vat_rate,
        vatAmount=vat_amount,
        amountExclVat=amount_excl_vat,
        currencyCode=currency_code,
    )


def build_record(
    ticket: Ticket,
    *,
    tenant: str,
    source: str,
    ticket_id: str,
    version: int,
    event_type: str,
    event_id: str,
    updated_at: datetime,
) -> TicketRecord:
    """The normalized record of a ticket, stamped with the version and the event that made it."""
    return TicketRecord(
        tenant=tenant,
        source=source,
        ticketId=ticket_id,
        status=ticket.status,
        zoneCode=ticket.zone_code,
        parkingLotId=ticket.parking_lot_id,
        licenseNumber=ticket.license_number,
        previousLicenseNumbers=list(ticket.previous_license_numbers),
        validFrom=None if ticket.valid_from is None else utc_string(ticket.valid_from),
        validUntil=None if ticket.valid_until is None else utc_string(ticket.valid_until),
        cost=build_cost(ticket.amount_incl_vat, ticket.vat_rate, ticket.currency_code),
        version=version,
        lastEventType=event_type,
        lastEventId=event_id,
        updatedAt=utc_string(updated_at),
    )
