"""The value on `tickets.events`: one accepted webhook with who sent it and when (SPEC §3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas.events import Event
from schemas.fields import Timestamp


class Envelope(BaseModel):
    """An accepted webhook: the normalized event, its sender, and the body exactly as received."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    eventId: str
    receivedAt: Timestamp
    tenant: str
    source: str
    event: Event
    raw: str

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


def envelope_bytes(envelope: Envelope) -> bytes:
    """JSON of an envelope as it goes on the wire."""
    return envelope.model_dump_json().encode()


def parse_envelope(value: bytes | str) -> Envelope:
    """Decode an envelope from the wire; raises pydantic.ValidationError."""
    return Envelope.model_validate_json(value)
