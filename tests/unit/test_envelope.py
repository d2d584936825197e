"""schemas.envelope: what goes on tickets.events, its key, and its wire form (SPEC §3)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from schemas.envelope import (
    Envelope,
    envelope_bytes,
    new_envelope,
    new_event_id,
    parse_envelope,
    split_key,
    ticket_key,
)
from schemas.events import parse_event
from tests.seeds import seed_bodies

SEEDS = seed_bodies()


def envelope_of(name: str, **kwargs: datetime) -> Envelope:
    raw = SEEDS[name]
    return new_envelope("stockholm", "easypark", parse_event(json.loads(raw)), raw, **kwargs)


def test_envelope_fields_and_key() -> None:
    received = datetime(2025, 3, 11, 5, 0, 2, 123456, tzinfo=UTC)
    envelope = envelope_of("TicketCreated", received_at=received)
    assert envelope.key == "stockholm/easypark/999"
    wire = json.loads(envelope_bytes(envelope))
    assert list(wire) == ["eventId", "receivedAt", "tenant", "source", "event", "raw"]
    assert wire["receivedAt"] == "2025-03-11T05:00:02.123456Z"
    assert (wire["tenant"], wire["source"]) == ("stockholm", "easypark")
    assert wire["raw"] == SEEDS["TicketCreated"]  # byte for byte, whitespace and all
    assert wire["event"]["zoneCode"] == 1234


def test_event_id_is_a_time_ordered_uuid7() -> None:
    ids = []
    for _ in range(50):
        ids.append(envelope_of("TicketCanceled").eventId)
        time.sleep(0.0005)
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7}
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # UUIDv7 text sorts by creation time
    millis = int.from_bytes(parsed[0].bytes[:6], "big")
    assert abs(millis / 1000 - time.time()) < 60


def test_received_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    envelope = envelope_of("TicketCanceled")
    assert before <= envelope.receivedAt <= datetime.now(UTC)
    assert envelope.receivedAt.tzinfo is UTC


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_fast_wire_form_equals_pydantics(name: str) -> None:
    envelope = envelope_of(name)
    assert json.loads(envelope_bytes(envelope)) == json.loads(envelope.model_dump_json())
    assert parse_envelope(envelope_bytes(envelope)) == envelope


def test_raw_keeps_unknown_fields_and_any_text() -> None:
    raw = '{"eventType":"TicketCanceled","ticketId":"a\\u00e5\\"/x","extra":{"ü":[1,2]}}'
    event = parse_event(json.loads(raw))
    envelope = new_envelope("t", "s", event, raw)
    wire = json.loads(envelope_bytes(envelope))
    assert wire["raw"] == raw
    assert wire["event"] == {"eventType": "TicketCanceled", "ticketId": 'aå"/x'}
    assert envelope.key == 't/s/aå"/x'


@pytest.mark.parametrize("ticket_id", ["999", "a/b", "/", "a//b/"])
def test_key_splits_on_the_first_two_slashes(ticket_id: str) -> None:
    assert split_key(ticket_key("stockholm", "easy-park", ticket_id)) == (
        "stockholm",
        "easy-park",
        ticket_id,
    )


def test_event_ids_strictly_increase_even_within_a_millisecond() -> None:
    ids = [new_event_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(i).version for i in ids} == {7}
    assert {uuid.UUID(i).variant for i in ids} == {uuid.RFC_4122}
