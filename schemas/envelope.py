"""The value on `tickets.events`: one accepted webhook with who sent it and when (SPEC §3)."""

from __future__ import annotations

import os
import random
import threading
import time
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import Event
from schemas.fields import Timestamp


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


class _EventIds:
    """UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter (method 1), then random.

    The counter makes ids strictly increasing within a process even within one millisecond.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0
        # Uniqueness, not secrecy, is what an event id needs: a PRNG seeded from the OS (again
        # in every forked child) spares a system call per id.
        self._random = random.Random(os.urandom(32))
        os.register_at_fork(after_in_child=lambda: self._random.seed(os.urandom(32)))

    def __call__(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self._last_ms:
                self._last_ms, self._counter = ms, 0
            else:  # the same millisecond, or the clock stepped back: keep counting up
                self._counter += 1
                if self._counter > 0xFFF:
                    self._last_ms, self._counter = self._last_ms + 1, 0
            ms, counter = self._last_ms, self._counter
            rand = self._random.getrandbits(62)
        value = ms << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


new_event_id = _EventIds()


def new_envelope(
    tenant: str, source: str, event: Event, raw: str, *, received_at: datetime | None = None
) -> Envelope:
    """Wrap a validated event: a new time-ordered eventId, now (UTC) as receivedAt."""
    # The event was validated a moment ago; validating the envelope again would only cost time.
    return Envelope.model_construct(
        eventId=new_event_id(),
        receivedAt=received_at or datetime.now(UTC),
        tenant=tenant,
        source=source,
        event=event,
        raw=raw,
    )


def encode_envelope(
    event_id: str, received_at: datetime, tenant: str, source: str, event: Event, raw: str
) -> bytes:
    """The wire form of an envelope from its parts, without building the model."""
    return orjson.dumps(
        {
            "eventId": event_id,
            "receivedAt": received_at,  # orjson writes UTC as ...Z like format_utc
            "tenant": tenant,
            "source": source,
            "event": orjson.Fragment(event.__pydantic_serializer__.to_json(event)),
            "raw": raw,
        },
        option=orjson.OPT_UTC_Z,
    )


def envelope_bytes(envelope: Envelope) -> bytes:
    """JSON of an envelope as it goes on the wire (what `model_dump_json` gives, faster)."""
    return encode_envelope(
        envelope.eventId,
        envelope.receivedAt,
        envelope.tenant,
        envelope.source,
        envelope.event,
        envelope.raw,
    )


def parse_envelope(value: bytes | str) -> Envelope:
    """Decode an envelope from the wire; raises pydantic.ValidationError."""
    return Envelope.model_validate_json(value)
