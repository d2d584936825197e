"""Every transition of a ticket's state, on the vendor's seed examples where they fit (SPEC §4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest

from schemas.envelope import Envelope
from schemas.records import Rejection, TicketRecord
from streams.state import (
    INVALID_EVENT,
    MAX_HELD_MOVES,
    PLATE_MISMATCH,
    PROCESSING_ERROR,
    REASONS,
    SEEN_CAPACITY,
    TICKET_CANCELED,
    TOO_MANY_HELD_MOVES,
    Emit,
    Output,
    Reason,
    Reject,
    TicketState,
    apply,
    current_record,
    state_from_bytes,
    state_to_bytes,
)
from tests.seeds import seed_body

T0 = datetime(2025, 3, 11, 5, 0, 0, 250_000, tzinfo=UTC)


def body(name: str, **changes: Any) -> dict[str, Any]:
    """A seed body with some fields replaced (None drops the field)."""
    decoded = seed_body(name)
    for field, value in changes.items():
        if value is None:
            decoded.pop(field, None)
        else:
            decoded[field] = value
    return decoded


def stopped(**changes: Any) -> dict[str, Any]:
    """The seed has no TicketStopped example; it documents the same shape as TicketUpdated."""
    return body("TicketUpdated", eventType="TicketStopped", **changes)


def move(from_plate: str, to_plate: str) -> dict[str, Any]:
    return body("TicketMoved", fromLicenseNumber=from_plate, toLicenseNumber=to_plate)


def envelope(decoded: dict[str, Any], event_id: str, at: int = 0) -> Envelope:
    return Envelope.model_validate(
        {
            "eventId": event_id,
            "receivedAt": T0 + timedelta(seconds=at),
            "tenant": "stockholm",
            "source": "easypark",
            "event": decoded,
            "raw": json.dumps(decoded),
        }
    )


def run(*bodies: dict[str, Any]) -> tuple[TicketState, list[list[Output]]]:
    """Apply bodies in order as e0, e1, …, received one second apart; outputs per event."""
    state = None
    outputs = []
    for index, decoded in enumerate(bodies):
        state, out = apply(state, envelope(decoded, f"e{index}", at=index))
        outputs.append(out)
    assert state is not None
    return state, outputs


def records(outputs: list[Output]) -> list[TicketRecord]:
    assert all(isinstance(output, Emit) for output in outputs)
    return [output.record for output in outputs if isinstance(output, Emit)]


def only_record(outputs: list[Output]) -> TicketRecord:
    (record,) = records(outputs)
    return record


def only_reject(outputs: list[Output], reason: Reason) -> Reject:
    (reject,) = outputs
    assert isinstance(reject, Reject)
    assert reject.reason == reason
    return reject


def record_of(state: TicketState) -> TicketRecord | None:
    return current_record(state, tenant="stockholm", source="easypark", ticket_id="999")


# Unknown ticket


def test_created_on_unknown_ticket_emits_version_1() -> None:
    _, [out] = run(body("TicketCreated"))
    assert only_record(out).model_dump(mode="json") == {
        "schemaVersion": 1,
        "tenant": "stockholm",
        "source": "easypark",
        "ticketId": "999",
        "status": "active",
        "zoneCode": 1234,
        "parkingLotId": 2345,
        "licenseNumber": "ABC123",
        "previousLicenseNumbers": [],
        "validFrom": "2025-03-11T04:50:17Z",
        "validUntil": "2025-03-11T14:24:17Z",
        "cost": {
            "amountInclVat": 1000,
            "vatRate": 25,
            "vatAmount": 200,
            "amountExclVat": 800,
            "currencyCode": "SEK",
        },
        "version": 1,
        "lastEventType": "TicketCreated",
        "lastEventId": "e0",
        "updatedAt": "2025-03-11T05:00:00Z",
    }


def test_create_or_update_on_unknown_ticket_creates_it_with_its_flexible_amount() -> None:
    _, [out] = run(body("CreateOrUpdate"))
    record = only_record(out)
    assert (record.status, record.version) == ("active", 1)
    assert record.validFrom == "2025-03-11T03:48:17Z"
    assert record.cost is not None
    assert (record.cost.amountInclVat, record.cost.vatAmount, record.cost.amountExclVat) == (
        1020,
        204,
        816,
    )


def test_updated_on_unknown_ticket_creates_it_active() -> None:
    _, [out] = run(body("TicketUpdated"))
    record = only_record(out)
    assert (record.status, record.version) == ("active", 1)
    assert record.validUntil == "2025-03-11T11:21:17Z"


def test_stopped_on_unknown_ticket_creates_it_stopped() -> None:
    _, [out] = run(stopped())
    assert (only_record(out).status, only_record(out).lastEventType) == ("stopped", "TicketStopped")


def test_full_ticket_move_on_unknown_ticket_creates_it() -> None:
    _, [out] = run(body("model-example-TicketMoved"))
    record = only_record(out)
    assert (record.ticketId, record.status, record.licenseNumber) == ("71963", "active", "EGY918")
    assert (record.previousLicenseNumbers, record.parkingLotId, record.version) == ([], None, 1)
    assert record.cost is not None
    assert (record.cost.vatAmount, record.cost.amountExclVat) == (610, 2442)


def test_created_without_cost_has_null_cost() -> None:
    _, [out] = run(body("TicketCreated", ticketCost=None, endDate=None, parkingLotId=None))
    record = only_record(out)
    assert (record.cost, record.validUntil, record.parkingLotId) == (None, None, None)


# Known ticket: updates


def test_update_changes_fields_and_version() -> None:
    _, [_, out] = run(body("TicketCreated"), body("TicketUpdated"))
    record = only_record(out)
    assert (record.version, record.status, record.lastEventType) == (2, "active", "TicketUpdated")
    assert (record.validFrom, record.validUntil) == ("2025-03-10T20:49:17Z", "2025-03-11T11:21:17Z")
    assert (record.lastEventId, record.updatedAt) == ("e1", "2025-03-11T05:00:01Z")


def test_absent_or_null_fields_keep_their_earlier_values() -> None:
    sparse = body("CreateOrUpdate", endDate=None, ticketCost=None)
    sparse["parkingLotId"] = None
    state, [_, out, out_nulls] = run(
        body("CreateOrUpdate"),
        sparse,
        body("CreateOrUpdate", ticketCost={"amountInclVat": None, "vatRate": None}),
    )
    assert out == out_nulls == []
    record = record_of(state)
    assert record is not None
    assert (record.version, record.parkingLotId, record.validUntil) == (
        1,
        2345,
        "2025-03-11T13:18:17Z",
    )


def test_cost_is_merged_per_field() -> None:
    _, [_, out] = run(
        body("TicketCreated"),
        body("CreateOrUpdate", ticketCost={"vatRate": 12}, startDate="2025-03-11T04:50:17Z"),
    )
    cost = only_record(out).cost
    assert cost is not None
    assert cost.model_dump() == {
        "amountInclVat": 1000,
        "vatRate": 12,
        "vatAmount": 107,
        "amountExclVat": 893,
        "currencyCode": "SEK",
    }


def test_identical_create_or_update_changes_nothing() -> None:
    state, [_, out] = run(body("CreateOrUpdate"), body("CreateOrUpdate"))
    assert out == []
    record = record_of(state)
    assert record is not None
    assert (record.version, record.lastEventId) == (1, "e0")


@pytest.mark.parametrize(
    "later",
    [body("TicketUpdated"), body("CreateOrUpdate"), body("TicketCreated"), move("ABC123", "XYZ9")],
    ids=["TicketUpdated", "CreateOrUpdate", "TicketCreated", "TicketMoved"],
)
def test_later_events_do_not_reactivate_a_stopped_ticket(later: dict[str, Any]) -> None:
    _, [_, _, out] = run(body("TicketCreated"), stopped(endDate="2025-03-11T10:00:00Z"), later)
    record = only_record(out)
    assert (record.status, record.version) == ("stopped", 3)


def test_stopped_sets_status_and_valid_until() -> None:
    _, [_, out] = run(body("TicketCreated"), stopped(endDate="2025-03-11T06:00:00+01:00"))
    record = only_record(out)
    assert (record.status, record.version) == ("stopped", 2)
    assert record.validUntil == "2025-03-11T05:00:00Z"


def test_repeated_stop_changes_nothing() -> None:
    _, [_, _, out] = run(body("TicketCreated"), stopped(), stopped())
    assert out == []


def test_update_with_another_plate_appends_the_old_one() -> None:
    _, [_, out] = run(body("TicketCreated"), body("TicketCreated", licenseNumber="xyz 99"))
    record = only_record(out)
    assert (record.licenseNumber, record.previousLicenseNumbers) == ("XYZ99", ["ABC123"])


# Known ticket: moves


def test_move_from_the_current_plate_moves_it() -> None:
    _, [_, out] = run(body("TicketCreated"), body("TicketMoved"))
    record = only_record(out)
    assert (record.licenseNumber, record.previousLicenseNumbers) == ("ABC124", ["ABC123"])
    assert (record.version, record.lastEventType) == (2, "TicketMoved")
    # The other fields stay as created.
    assert (record.zoneCode, record.validFrom) == (1234, "2025-03-11T04:50:17Z")


def test_move_to_the_current_plate_was_already_applied() -> None:
    state, [_, _, out] = run(body("TicketCreated"), body("TicketMoved"), body("TicketMoved"))
    assert out == []
    record = record_of(state)
    assert record is not None
    assert (record.version, record.previousLicenseNumbers) == (2, ["ABC123"])


def test_move_onto_the_same_plate_changes_nothing() -> None:
    _, [_, out] = run(body("TicketCreated"), move("ABC123", "ABC123"))
    assert out == []


def test_move_matching_neither_plate_is_rejected_and_changes_nothing() -> None:
    state, [_, out] = run(body("TicketCreated"), move("QQQ111", "ABC124"))
    reject = only_reject(out, PLATE_MISMATCH)
    assert reject.envelope.eventId == "e1"
    assert "ABC123" in reject.detail
    record = record_of(state)
    assert record is not None
    assert (record.version, record.licenseNumber) == (1, "ABC123")


def test_move_chain_keeps_plate_history() -> None:
    _, [*_, out] = run(body("TicketCreated"), move("ABC123", "ABC124"), move("ABC124", "ABC123"))
    record = only_record(out)
    assert (record.licenseNumber, record.previousLicenseNumbers) == ("ABC123", ["ABC123", "ABC124"])


def test_full_ticket_move_on_known_ticket_is_an_update_with_a_new_plate() -> None:
    full = body("model-example-TicketMoved", ticketId="999", ticketCost={"vatRate": 6})
    _, [_, out] = run(body("TicketCreated"), full)
    record = only_record(out)
    assert (record.licenseNumber, record.previousLicenseNumbers) == ("EGY918", ["ABC123"])
    assert (record.zoneCode, record.parkingLotId, record.validFrom) == (
        1211,
        2345,
        "2025-03-11T04:37:16Z",
    )
    assert record.cost is not None
    assert (record.cost.amountInclVat, record.cost.vatRate, record.cost.vatAmount) == (1000, 6, 57)


# Moves held until the create


def test_move_before_create_is_held_and_applied_right_after_it() -> None:
    state, [held, out] = run(body("TicketMoved"), body("TicketCreated"))
    assert held == []
    created, moved = records(out)
    assert (created.version, created.licenseNumber, created.lastEventId) == (1, "ABC123", "e1")
    assert (moved.version, moved.licenseNumber, moved.previousLicenseNumbers) == (
        2,
        "ABC124",
        ["ABC123"],
    )
    # The move is the last event, but its record is stamped no earlier than the create.
    assert (moved.lastEventType, moved.lastEventId, moved.updatedAt) == (
        "TicketMoved",
        "e0",
        created.updatedAt,
    )
    assert state.held_moves == ()


def test_held_moves_apply_in_arrival_order() -> None:
    _, [_, _, out] = run(move("ABC123", "ABC124"), move("ABC124", "ABC125"), body("CreateOrUpdate"))
    assert [(r.version, r.licenseNumber) for r in records(out)] == [
        (1, "ABC123"),
        (2, "ABC124"),
        (3, "ABC125"),
    ]


def test_held_move_not_matching_the_created_plate_is_rejected_with_its_own_envelope() -> None:
    _, [_, out] = run(move("QQQ111", "ABC124"), body("TicketCreated"))
    created, reject = out
    assert isinstance(created, Emit)
    assert created.record.version == 1
    assert isinstance(reject, Reject)
    assert (reject.reason, reject.envelope.eventId) == (PLATE_MISMATCH, "e0")


def test_held_move_to_the_created_plate_adds_no_version() -> None:
    _, [_, out] = run(move("QQQ111", "ABC123"), body("TicketCreated"))
    assert [r.version for r in records(out)] == [1]


def test_held_moves_are_capped() -> None:
    moves = [move(f"P{index}", f"P{index + 1}") for index in range(MAX_HELD_MOVES + 1)]
    state, outputs = run(*moves)
    assert all(out == [] for out in outputs[:MAX_HELD_MOVES])
    reject = only_reject(outputs[-1], TOO_MANY_HELD_MOVES)
    assert reject.envelope.eventId == f"e{MAX_HELD_MOVES}"
    assert len(state.held_moves) == MAX_HELD_MOVES


# Cancel


def test_cancel_is_a_change_to_status_canceled() -> None:
    _, [_, out] = run(body("TicketCreated"), body("TicketCanceled"))
    record = only_record(out)
    assert (record.status, record.version, record.licenseNumber) == ("canceled", 2, "ABC123")


def test_repeated_cancel_changes_nothing() -> None:
    _, [_, _, out] = run(body("TicketCreated"), body("TicketCanceled"), body("TicketCanceled"))
    assert out == []


@pytest.mark.parametrize(
    "later",
    [
        body("TicketCreated"),
        body("TicketUpdated"),
        stopped(),
        body("CreateOrUpdate"),
        body("TicketMoved"),
        body("model-example-TicketMoved", ticketId="999"),
    ],
    ids=["TicketCreated", "TicketUpdated", "TicketStopped", "CreateOrUpdate", "move", "full"],
)
def test_any_event_after_cancel_is_rejected(later: dict[str, Any]) -> None:
    state, [_, _, out] = run(body("TicketCreated"), body("TicketCanceled"), later)
    assert only_reject(out, TICKET_CANCELED).envelope.eventId == "e2"
    record = record_of(state)
    assert record is not None
    assert (record.status, record.version) == ("canceled", 2)


def test_cancel_of_unknown_ticket_is_remembered_and_rejects_a_late_create() -> None:
    state, [out_cancel, out_create, out_move, out_again] = run(
        body("TicketCanceled"), body("TicketCreated"), body("TicketMoved"), body("TicketCanceled")
    )
    assert out_cancel == out_again == []
    assert only_reject(out_create, TICKET_CANCELED).envelope.eventId == "e1"
    assert only_reject(out_move, TICKET_CANCELED).envelope.eventId == "e2"
    assert (state.current, state.canceled) == (None, True)


def test_cancel_of_unknown_ticket_rejects_its_held_moves() -> None:
    state, [_, _, out] = run(
        move("ABC123", "ABC124"), move("ABC124", "ABC125"), body("TicketCanceled")
    )
    rejects = [output for output in out if isinstance(output, Reject)]
    assert len(rejects) == len(out) == 2
    assert [(r.reason, r.envelope.eventId) for r in rejects] == [
        (TICKET_CANCELED, "e0"),
        (TICKET_CANCELED, "e1"),
    ]
    assert state.held_moves == ()


# Redelivery and idempotence


def test_redelivered_envelope_changes_nothing() -> None:
    first = envelope(body("TicketCreated"), "e0")
    state, _ = apply(None, first)
    again, out = apply(state, first)
    assert (again, out) == (state, [])


def test_redelivered_rejection_is_not_emitted_again() -> None:
    state, _ = run(body("TicketCreated"))
    mismatch = envelope(move("QQQ111", "ABC124"), "bad")
    state, out = apply(state, mismatch)
    only_reject(out, PLATE_MISMATCH)
    assert apply(state, mismatch) == (state, [])


def test_redelivered_held_move_is_held_once() -> None:
    held = envelope(body("TicketMoved"), "m")
    state, _ = apply(None, held)
    state, out = apply(state, held)
    assert (out, len(state.held_moves)) == ([], 1)
    _, out = apply(state, envelope(body("TicketCreated"), "c"))
    assert [r.version for r in records(out)] == [1, 2]


def test_replayed_moves_do_not_move_again() -> None:
    # A->B then B->A: by content alone, a replayed A->B would look like a new move.
    there, back = envelope(move("ABC123", "ABC124"), "m1"), envelope(move("ABC124", "ABC123"), "m2")
    state, _ = run(body("TicketCreated"))
    for replayed in (there, back, there, back):
        state, _ = apply(state, replayed)
    record = record_of(state)
    assert record is not None
    assert (record.version, record.licenseNumber) == (3, "ABC123")


def test_replayed_no_change_event_does_not_revert_a_later_change() -> None:
    # u1 changes nothing, so only the eventId ring tells that it was applied before u2.
    u1 = envelope(body("CreateOrUpdate"), "u1")
    u2 = envelope(body("CreateOrUpdate", zoneCode=99), "u2")
    state, _ = run(body("CreateOrUpdate"))
    for replayed in (u1, u2, u1, u2):
        state, _ = apply(state, replayed)
    record = record_of(state)
    assert record is not None
    assert (record.zoneCode, record.version) == (99, 2)


def test_seen_event_ids_are_bounded_to_the_most_recent() -> None:
    bodies = [body("CreateOrUpdate")] * (SEEN_CAPACITY + 5)
    state, _ = run(*bodies)
    assert state.seen == tuple(f"e{index}" for index in range(5, SEEN_CAPACITY + 5))


# Timestamps, codec, reasons


def test_timestamps_are_whole_seconds_and_sub_second_changes_are_no_change() -> None:
    _, [out, again] = run(
        body("TicketCreated", startDate="2025-03-11T04:50:17.900+00:00"),
        body("TicketCreated", startDate="2025-03-11T04:50:17.100+00:00"),
    )
    record = only_record(out)
    assert (record.validFrom, record.updatedAt) == ("2025-03-11T04:50:17Z", "2025-03-11T05:00:00Z")
    assert again == []


def test_state_round_trips_through_bytes_and_leaves_defaults_out() -> None:
    state, _ = run(move("ABC123", "ABC124"))
    assert state_from_bytes(state_to_bytes(state)) == state
    state, _ = run(body("TicketCreated"), body("TicketMoved"))
    encoded = state_to_bytes(state)
    assert state_from_bytes(encoded) == state
    assert b"held_moves" not in encoded
    assert b"canceled_before_create" not in encoded
    assert state_to_bytes(TicketState()) == b"{}"


def test_reject_becomes_the_rejected_topic_value() -> None:
    _, [_, out] = run(body("TicketCreated"), move("QQQ111", "ABC124"))
    rejection = only_reject(out, PLATE_MISMATCH).rejection()
    assert isinstance(rejection, Rejection)
    dumped = json.loads(rejection.model_dump_json())
    assert (dumped["reason"], dumped["event"]["eventId"]) == ("plate_mismatch", "e1")
    assert dumped["event"]["raw"] == json.dumps(move("QQQ111", "ABC124"))


def test_reasons_are_one_stable_list() -> None:
    assert get_args(Reason) == REASONS
    expected = (
        INVALID_EVENT,
        PROCESSING_ERROR,
        PLATE_MISMATCH,
        TICKET_CANCELED,
        TOO_MANY_HELD_MOVES,
    )
    assert expected == REASONS
    assert all(reason.isidentifier() and reason.islower() for reason in REASONS)
