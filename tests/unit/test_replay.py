"""Choosing rejections to replay, and what a replayed envelope looks like (no broker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from schemas.envelope import Envelope
from schemas.events import parse_event
from schemas.records import Rejection
from tests.seeds import seed_bodies
from ticketstream.replay import Candidate, Selection, candidate, replay_envelope, select

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _envelope() -> Envelope:
    raw = seed_bodies()["TicketMoved"]
    return Envelope(
        eventId="01a242b1-dfde-723f-a8d5-a7de3f562197",
        receivedAt=AT,
        tenant="stockholm",
        source="easypark",
        event=parse_event(json.loads(raw)),
        raw=raw,
    )


def _rejection(event: Envelope | str, reason: str = "plate_mismatch") -> bytes:
    return Rejection(reason=reason, detail="d", event=event).model_dump_json().encode()


def test_a_rejected_envelope_is_replayable() -> None:
    found = candidate("stockholm/easypark/999", _rejection(_envelope()), AT)
    assert found.reason == "plate_mismatch"
    assert found.envelope == _envelope()
    assert found.problem is None


def test_an_invalid_event_is_listed_but_not_replayable() -> None:
    found = candidate("k", _rejection("not json", reason="invalid_event"), AT)
    assert found.envelope is None
    assert found.reason == "invalid_event"
    assert found.problem is not None


def test_garbage_on_the_rejected_topic_is_not_replayable() -> None:
    found = candidate("k", b"{", AT)
    assert found.envelope is None
    assert found.problem is not None
    assert found.problem.startswith("not a rejection record")


def test_replayed_envelope_has_a_new_id_and_everything_else_unchanged() -> None:
    original = _envelope()
    again = replay_envelope(original)
    assert again.eventId != original.eventId
    assert again.model_dump(exclude={"eventId"}) == original.model_dump(exclude={"eventId"})


def test_selection_by_reason_key_and_time() -> None:
    items = [
        Candidate("a/b/1", "plate_mismatch", AT, None),
        Candidate("a/b/2", "ticket_canceled", AT + timedelta(hours=1), None),
        Candidate("a/b/3", "plate_mismatch", AT + timedelta(hours=2), None),
    ]
    assert select(items, Selection()) == items
    assert [c.key for c in select(items, Selection(reasons=frozenset({"plate_mismatch"})))] == [
        "a/b/1",
        "a/b/3",
    ]
    assert [c.key for c in select(items, Selection(keys=frozenset({"a/b/2"})))] == ["a/b/2"]
    window = Selection(since=AT + timedelta(minutes=30), until=AT + timedelta(hours=2))
    assert [c.key for c in select(items, window)] == ["a/b/2"]
