"""examples/enforcement_lookup.py: the view of tickets.normalized, fed with the worker's records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from examples import enforcement_lookup as lookup
from examples.enforcement_lookup import (
    View,
    build_view,
    is_valid,
    normalize_plate,
    parse_time,
    record_key,
    update,
    valid_tickets,
)
from schemas.envelope import Envelope, new_envelope
from schemas.events import parse_event
from schemas.fields import PLATE_LETTERS, Plate
from streams.state import Emit, TicketState, apply
from tests.seeds import seed_body

KEY = "stockholm/easypark/999"
BEFORE_START = parse_time("2025-03-11T04:50:16Z")
START = parse_time("2025-03-11T04:50:17Z")
DURING = parse_time("2025-03-11T05:00:00Z")
END = parse_time("2025-03-11T14:24:17Z")


def envelope(body: dict[str, Any], received: str) -> Envelope:
    """An envelope as the receiver makes it from a webhook body."""
    return new_envelope(
        "stockholm",
        "easypark",
        parse_event(body),
        json.dumps(body),
        received_at=parse_time(received),
    )


def worker_records(*envelopes: Envelope) -> list[dict[str, Any]]:
    """The records the worker emits for these envelopes, as JSON objects (as on the topic)."""
    states: dict[str, TicketState] = {}
    records: list[dict[str, Any]] = []
    for item in envelopes:
        states[item.key], outputs = apply(states.get(item.key), item)
        records += [json.loads(o.record.model_dump_json()) for o in outputs if isinstance(o, Emit)]
    return records


def seed_records(*names: str) -> list[dict[str, Any]]:
    """The worker's records for seed examples posted in this order, a minute apart."""
    return worker_records(
        *(envelope(seed_body(name), f"2025-03-11T05:0{i}:00Z") for i, name in enumerate(names))
    )


def view_of(records: list[dict[str, Any]]) -> View:
    return build_view((record_key(r), r) for r in records)


def test_created_ticket_is_valid_for_its_plate_zone_and_time() -> None:
    view = view_of(seed_records("TicketCreated"))
    [ticket] = valid_tickets(view, "ABC123", 1234, DURING)
    assert record_key(ticket) == KEY
    assert valid_tickets(view, "abc 123", 1234, DURING) == [ticket]
    assert valid_tickets(view, "abc-123", 1234, DURING) == [ticket]
    assert valid_tickets(view, "ABC123", 1211, DURING) == []
    assert valid_tickets(view, "ABC124", 1234, DURING) == []


def test_validity_window_is_from_inclusive_until_exclusive() -> None:
    [record] = seed_records("TicketCreated")
    assert is_valid(record, "ABC123", 1234, START)
    assert not is_valid(record, "ABC123", 1234, BEFORE_START)
    assert is_valid(record, "ABC123", 1234, parse_time("2025-03-11T14:24:16Z"))
    assert not is_valid(record, "ABC123", 1234, END)
    # Times compare as instants, whatever the offset they are written with.
    assert is_valid(record, "ABC123", 1234, parse_time("2025-03-11T06:00:00+01:00"))


def test_moved_plate_is_covered_and_the_old_one_is_not() -> None:
    records = seed_records("TicketCreated", "TicketMoved")
    assert [r["version"] for r in records] == [1, 2]
    view = view_of(records)
    assert view[KEY]["previousLicenseNumbers"] == ["ABC123"]
    assert [record_key(r) for r in valid_tickets(view, "ABC124", 1234, DURING)] == [KEY]
    assert valid_tickets(view, "ABC123", 1234, DURING) == []


def test_canceled_ticket_is_not_valid_whatever_its_dates() -> None:
    records = seed_records("TicketCreated", "TicketMoved", "TicketCanceled")
    view = view_of(records)
    assert view[KEY]["status"] == "canceled"
    assert is_valid({**view[KEY], "status": "active"}, "ABC124", 1234, DURING)
    assert valid_tickets(view, "ABC124", 1234, DURING) == []


def test_stopped_ticket_is_valid_until_its_end_date() -> None:
    stop = {**seed_body("TicketUpdated"), "eventType": "TicketStopped"}
    stop["endDate"] = "2025-03-11T06:00:00+00:00"
    records = worker_records(
        envelope(seed_body("TicketCreated"), "2025-03-11T05:00:00Z"),
        envelope(stop, "2025-03-11T05:30:00Z"),
    )
    view = view_of(records)
    assert view[KEY]["status"] == "stopped"
    assert valid_tickets(view, "ABC123", 1234, parse_time("2025-03-11T05:59:59Z"))
    assert not valid_tickets(view, "ABC123", 1234, parse_time("2025-03-11T06:00:00Z"))


def test_open_ended_ticket_is_valid_from_its_start_on() -> None:
    body = {**seed_body("TicketCreated"), "endDate": None}
    [record] = worker_records(envelope(body, "2025-03-11T05:00:00Z"))
    assert record["validUntil"] is None
    assert is_valid(record, "ABC123", 1234, parse_time("2030-01-01T00:00:00Z"))
    assert not is_valid(record, "ABC123", 1234, BEFORE_START)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
def test_highest_version_wins_whatever_the_order(order: tuple[int, int, int]) -> None:
    records = seed_records("TicketCreated", "TicketMoved", "TicketCanceled")
    view = view_of([records[i] for i in order])
    assert view[KEY] == records[2]


def test_a_redelivered_version_changes_nothing() -> None:
    created, moved = seed_records("TicketCreated", "TicketMoved")
    view: View = {}
    assert update(view, KEY, created)
    assert update(view, KEY, moved)
    # After a worker crash the same version can arrive again; it is the same record.
    assert not update(view, KEY, moved)
    assert not update(view, KEY, created)
    assert view[KEY] == moved


def test_tickets_are_kept_per_key() -> None:
    records = seed_records("TicketCreated", "model-example-TicketMoved")
    view = view_of(records)
    assert sorted(view) == ["stockholm/easypark/71963", KEY]
    [other] = valid_tickets(view, "EGY918", 1211, DURING)
    assert other["ticketId"] == "71963"


def test_a_message_without_key_is_keyed_by_its_record_and_a_tombstone_deletes() -> None:
    [record] = seed_records("TicketCreated")
    assert build_view([(None, record)]) == {KEY: record}
    assert build_view([(KEY, record), (KEY, None)]) == {}
    assert build_view([(None, None)]) == {}


def test_an_unknown_schema_version_is_refused() -> None:
    [record] = seed_records("TicketCreated")
    with pytest.raises(ValueError, match="schemaVersion 2"):
        update({}, KEY, {**record, "schemaVersion": 2})


def test_a_ticket_without_start_or_zone_covers_nothing() -> None:
    [record] = seed_records("TicketCreated")
    assert not is_valid({**record, "validFrom": None}, "ABC123", 1234, DURING)
    assert not is_valid({**record, "zoneCode": None}, "ABC123", 1234, DURING)


def test_query_time_needs_an_offset() -> None:
    assert parse_time("2025-03-11T06:00:00+01:00") == datetime(2025, 3, 11, 5, tzinfo=UTC)
    assert parse_time("2025-03-11t05:00:00z") == datetime(2025, 3, 11, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_time("2025-03-11T05:00:00")


PLATE = TypeAdapter(Plate)
_PLATE_TEXT = st.text(
    alphabet=PLATE_LETTERS + PLATE_LETTERS.lower() + "0123456789 -\u030a\u0308", max_size=20
)


@given(_PLATE_TEXT)
def test_plates_are_normalized_as_the_receiver_does(plate: str) -> None:
    try:
        accepted = PLATE.validate_python(plate)
    except ValidationError:
        return
    assert normalize_plate(plate) == accepted


def test_a_decomposed_letter_is_the_same_plate() -> None:
    assert normalize_plate("a\u030a-1") == PLATE.validate_python("a\u030a-1") == "Å1"


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the Kafka read of the script with these records."""
    records: list[dict[str, Any]] = []

    def read(*args: object, **kwargs: object) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from ((record_key(r), r) for r in records)

    monkeypatch.setattr(lookup, "read_topic", read)
    return records


def test_cli_prints_the_valid_ticket_and_exits_0(
    topic: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    topic += seed_records("TicketCreated", "TicketMoved")
    argv = ["--bootstrap", "x:1", "--plate", "abc 124", "--zone", "1234"]
    assert lookup.main([*argv, "--at", "2025-03-11T05:00:00Z"]) == 0
    head, line = capsys.readouterr().out.splitlines()
    assert head == "VALID: 1 ticket(s) for ABC124 in zone 1234 at 2025-03-11T05:00:00Z"
    assert json.loads(line) == topic[1]


def test_cli_exits_1_when_no_ticket_is_valid(
    topic: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    topic += seed_records("TicketCreated", "TicketMoved")
    argv = ["--bootstrap", "x:1", "--plate", "ABC123", "--zone", "1234"]
    assert lookup.main([*argv, "--at", "2025-03-11T05:00:00Z"]) == 1
    out = capsys.readouterr().out
    assert out == "NOT VALID: no ticket for ABC123 in zone 1234 at 2025-03-11T05:00:00Z\n"


def test_cli_exits_2_on_a_record_it_cannot_read(
    topic: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    topic += [{**seed_records("TicketCreated")[0], "schemaVersion": 2}]
    assert lookup.main(["--bootstrap", "x:1", "--plate", "ABC123", "--zone", "1234"]) == 2
    assert "schemaVersion 2" in capsys.readouterr().err
