"""The value on `tickets.events`: one accepted webhook with who sent it and when (SPEC §3)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field
from uuid6 import uuid7

from schemas.events import Event
from schemas.fields import Timestamp, format_utc


class Envelope(BaseModel):
    """An accepted webhook: the normalized event, its sender, and the body exactly as received."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    eventId: str = Field(description="UUIDv7: unique, and ordered by the time it was received.")
    receivedAt: Timestamp = Field(description="When the receiver accepted the webhook (UTC).")
    tenant: str = Field(description="From the credential, never from the body.")
    source: str = Field(description="From the credential, never from the body.")
    event: Event = Field(description="The validated, normalized event.")
    raw: str = Field(description="The request body exactly as received (UTF-8).")

    @property
    def key(self) -> str:
        """The Kafka key of the ticket this event belongs to."""
        return ticket_key(self.tenant, self.source, self.event.ticketId)


def ticket_key(tenant: str, source: str, ticket_id: str) -> str:
    """`{tenant}/{source}/{ticketId}`: unambiguous because tenant and source hold no `/`."""
    return f"{tenant}/{source}/{ticket_id}"


def split_key(key: str) -> tuple[str, str, str]:
    """Inverse of ticket_key: split on the first two slashes only."""
    tenant, source, ticket_id = key.split("/", 2)
    return tenant, source, ticket_id


def new_envelope(
    tenant: str, source: str, event: Event, raw: str, *, received_at: datetime | None = None
) -> Envelope:
    """Wrap a validated event: a new time-ordered eventId, now (UTC) as receivedAt."""
    # The event was validated a moment ago; validating the envelope again would only cost time.
    return Envelope.model_construct(
        eventId=str(uuid7()),
        receivedAt=received_at or datetime.now(UTC),
        tenant=tenant,
        source=source,
        event=event,
        raw=raw,
    )


def envelope_bytes(envelope: Envelope) -> bytes:
    """JSON of an envelope as it goes on the wire (what `model_dump_json` gives, faster)."""
    event_json = envelope.event.__pydantic_serializer__.to_json(envelope.event)
    return orjson.dumps(
        {
            "eventId": envelope.eventId,
            "receivedAt": format_utc(envelope.receivedAt),
            "tenant": envelope.tenant,
            "source": envelope.source,
            "event": orjson.Fragment(event_json),
            "raw": envelope.raw,
        }
    )


def parse_envelope(value: bytes | str) -> Envelope:
    """Decode an envelope from the wire; raises pydantic.ValidationError."""
    return Envelope.model_validate_json(value)
