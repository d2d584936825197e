"""The six inbound webhook events, one discriminated model family shared by receiver and worker."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.fields import (
    Cents,
    Code,
    Currency,
    FlexibleCents,
    Plate,
    TicketId,
    Timestamp,
    VatRate,
)

EVENT_TYPES = (
    "TicketCreated",
    "TicketUpdated",
    "TicketStopped",
    "TicketMoved",
    "TicketCanceled",
    "CreateOrUpdate",
)


def field_error(field: str, reason: str) -> PydanticCustomError:
    """A model-level rule broken by one field: `ctx["field"]` names it for the error body."""
    return PydanticCustomError(
        "field_rule", "{field}: {reason}", {"field": field, "reason": reason}
    )


class _Model(BaseModel):
    # Unknown fields are ignored here; the envelope keeps them in the raw body.
    model_config = ConfigDict(extra="ignore", frozen=True)


def _end_not_before_start(
    cls: type[BaseModel], end: datetime | None, info: ValidationInfo
) -> datetime | None:
    start = info.data.get("startDate")
    if end is not None and start is not None and end < start:
        raise ValueError("must not be before startDate")
    return end


class TicketCost(_Model):
    """Price of a ticket as sent; each part may be unknown (null)."""

    amountInclVat: Cents | None = None
    vatRate: VatRate | None = None
    currencyCode: Currency | None = None


class FlexibleTicketCost(TicketCost):
    """CreateOrUpdate's cost: the amount may also be a string such as "10,20"."""

    amountInclVat: FlexibleCents | None = None


class RequiredTicketCost(TicketCost):
    """TicketUpdated/TicketStopped send the whole cost."""

    amountInclVat: Cents
    vatRate: VatRate
    currencyCode: Currency


class _Ticket(_Model):
    """Fields shared by the events that carry a whole ticket."""

    ticketId: TicketId
    zoneCode: Code
    parkingLotId: Code | None = None
    startDate: Timestamp
    endDate: Timestamp | None = None
    licenseNumber: Plate

    _end_after_start = field_validator("endDate")(_end_not_before_start)


class TicketCreated(_Ticket):
    """A new ticket (a repeated create updates it)."""

    eventType: Literal["TicketCreated"]
    ticketCost: TicketCost | None = None


class CreateOrUpdate(_Ticket):
    """Create the ticket or update it; amounts may be strings."""

    eventType: Literal["CreateOrUpdate"]
    ticketCost: FlexibleTicketCost | None = None


class TicketUpdated(_Ticket):
    """A changed ticket; every field is sent."""

    eventType: Literal["TicketUpdated"]
    endDate: Timestamp
    ticketCost: RequiredTicketCost


class TicketStopped(_Ticket):
    """The ticket ended at endDate."""

    eventType: Literal["TicketStopped"]
    endDate: Timestamp
    ticketCost: RequiredTicketCost


class TicketMoved(_Model):
    """The ticket moved to another plate: from/to form, or a whole ticket with the new plate."""

    eventType: Literal["TicketMoved"]
    ticketId: TicketId
    fromLicenseNumber: Plate | None = None
    toLicenseNumber: Plate | None = None
    licenseNumber: Plate | None = None
    zoneCode: Code | None = None
    parkingLotId: Code | None = None
    startDate: Timestamp | None = None
    endDate: Timestamp | None = None
    ticketCost: TicketCost | None = None

    @model_validator(mode="after")
    def _one_form(self) -> TicketMoved:
        has_from, has_to = self.fromLicenseNumber is not None, self.toLicenseNumber is not None
        if has_from != has_to:
            missing, given = (
                ("toLicenseNumber", "fromLicenseNumber")
                if has_from
                else ("fromLicenseNumber", "toLicenseNumber")
            )
            raise field_error(missing, f"is required when {given} is given")
        if not has_from and self.licenseNumber is None:
            raise field_error(
                "licenseNumber", "is required unless fromLicenseNumber and toLicenseNumber are"
            )
        if has_to and self.licenseNumber is not None and self.licenseNumber != self.toLicenseNumber:
            # Both forms at once must agree, or the worker could not tell which plate is new.
            raise field_error("licenseNumber", "must equal toLicenseNumber when both are sent")
        return self

    _end_after_start = field_validator("endDate")(_end_not_before_start)

    @property
    def is_full_ticket(self) -> bool:
        """True for the form that carries a whole ticket with `licenseNumber` and no from/to."""
        return self.fromLicenseNumber is None


class TicketCanceled(_Model):
    """The ticket is canceled (deleted); terminal."""

    eventType: Literal["TicketCanceled"]
    ticketId: TicketId


Event = Annotated[
    TicketCreated | TicketUpdated | TicketStopped | TicketMoved | TicketCanceled | CreateOrUpdate,
    Field(discriminator="eventType"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(body: Any) -> Event:
    """Validate a decoded JSON body into its event model; raises pydantic.ValidationError."""
    return EVENT_ADAPTER.validate_python(body)
