"""What the worker emits: the normalized ticket record and the rejection record (SPEC §3, §4)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from schemas.envelope import Envelope

Status = Literal["active", "stopped", "canceled"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cost(_Record):
    """All five cost keys; null where unknown. VAT split is exact, rounded half-even to a cent."""

    amountInclVat: int | None
    vatRate: int | None
    vatAmount: int | None
    amountExclVat: int | None
    currencyCode: str | None


class TicketRecord(_Record):
    """The whole current state of one ticket, as emitted on `tickets.normalized`."""

    schemaVersion: Literal[1] = 1
    tenant: str
    source: str
    ticketId: str
    status: Status
    zoneCode: int | None
    parkingLotId: int | None
    licenseNumber: str | None
    previousLicenseNumbers: list[str]
    validFrom: str | None
    validUntil: str | None
    cost: Cost | None
    version: int
    lastEventType: str
    lastEventId: str
    updatedAt: str


class Rejection(_Record):
    """An event the worker could not apply, as emitted on `tickets.rejected`."""

    reason: str
    detail: str
    # The envelope; for an undecodable message, the JSON value or text as it was read.
    event: Envelope | dict[str, Any] | list[Any] | str | None
