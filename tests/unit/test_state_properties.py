"""Properties of apply over random event sequences of one ticket, delivered at least once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.envelope import Envelope
from schemas.records import TicketRecord
from streams.state import (
    Emit,
    Output,
    TicketState,
    apply,
    current_record,
    state_from_bytes,
    state_to_bytes,
)

T0 = datetime(2025, 3, 11, 5, 0, 0, tzinfo=UTC)
# Few plates, so that moves often match and sometimes do not; spelled as senders do.
PLATES = st.sampled_from(["AAA111", "aaa-111", "BBB222", "ccc 333"])
STARTS = st.sampled_from(
    ["2025-03-11T04:00:00+00:00", "2025-03-11T04:00:00.400Z", "2025-03-11T06:30:00+02:00"]
)
ENDS = st.sampled_from(["2025-03-11T12:00:00+00:00", "2025-03-11T14:00:00.999Z"])
AMOUNTS = st.sampled_from([0, 1000, 1020, 3052])
RATES = st.sampled_from([0, 6, 12, 25])
CURRENCIES = st.sampled_from(["SEK", "eur"])
# Weighted: the from/to move has the most branches, and a cancel ends the interesting part.
KINDS = (
    *("TicketCreated", "CreateOrUpdate", "TicketUpdated", "TicketStopped") * 2,
    *("TicketMoved",) * 4,
    *("full-TicketMoved",) * 2,
    "TicketCanceled",
)

FAST = settings(max_examples=150, deadline=None)


def _maybe(
    draw: st.DrawFn, target: dict[str, Any], key: str, values: st.SearchStrategy[Any]
) -> None:
    # Absent and null are both "not sent"; both must keep the earlier value.
    choice = draw(st.sampled_from(["absent", "null", "value"]))
    if choice != "absent":
        target[key] = None if choice == "null" else draw(values)


@st.composite
def costs(draw: st.DrawFn, *, required: bool, flexible: bool) -> dict[str, Any]:
    """A ticketCost object: every part present for Updated/Stopped, any part missing otherwise."""
    amounts = AMOUNTS | st.sampled_from(["10,20", "12.5", "1500"]) if flexible else AMOUNTS
    if required:
        return {
            "amountInclVat": draw(amounts),
            "vatRate": draw(RATES),
            "currencyCode": draw(CURRENCIES),
        }
    cost: dict[str, Any] = {}
    _maybe(draw, cost, "amountInclVat", amounts)
    _maybe(draw, cost, "vatRate", RATES)
    _maybe(draw, cost, "currencyCode", CURRENCIES)
    return cost


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """One webhook body for ticket T1 of any type, valid per SPEC §2."""
    kind = draw(st.sampled_from(KINDS))
    body: dict[str, Any] = {"eventType": kind.removeprefix("full-"), "ticketId": "T1"}
    if kind == "TicketCanceled":
        return body
    if kind == "TicketMoved":
        body.update(fromLicenseNumber=draw(PLATES), toLicenseNumber=draw(PLATES))
        return body
    body["licenseNumber"] = draw(PLATES)
    _maybe(draw, body, "parkingLotId", st.sampled_from([7, "8"]))
    if kind in ("TicketUpdated", "TicketStopped"):
        body.update(zoneCode=draw(st.sampled_from([1, "2"])), startDate=draw(STARTS))
        body.update(endDate=draw(ENDS), ticketCost=draw(costs(required=True, flexible=False)))
        return body
    if kind == "full-TicketMoved":
        _maybe(draw, body, "zoneCode", st.sampled_from([1, "2"]))
        _maybe(draw, body, "startDate", STARTS)
    else:
        body.update(zoneCode=draw(st.sampled_from([1, "2"])), startDate=draw(STARTS))
    _maybe(draw, body, "endDate", ENDS)
    flexible = kind == "CreateOrUpdate"
    _maybe(draw, body, "ticketCost", costs(required=False, flexible=flexible))
    return body


def envelope(body: dict[str, Any], index: int, event_id: str | None = None) -> Envelope:
    return Envelope.model_validate(
        {
            "eventId": event_id or f"e{index}",
            "receivedAt": T0 + timedelta(seconds=index, microseconds=index * 1000),
            "tenant": "stockholm",
            "source": "easypark",
            "event": body,
            "raw": json.dumps(body),
        }
    )


@dataclass(frozen=True)
class Redelivery:
    """After event `after`: re-read the last `replay` events, with the state as of `restore`."""

    after: int
    replay: int
    # Index of the last event the restored state has applied (-1: none); the table may be
    # ahead of the committed offset, never behind it.
    restore: int


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Envelope], list[Redelivery]]:
    """A sequence of envelopes and the redeliveries an at-least-once consumer may add."""
    envelopes = [envelope(body, i) for i, body in enumerate(draw(st.lists(bodies(), max_size=20)))]
    redeliveries = []
    for after in range(len(envelopes)):
        if draw(st.integers(0, 3)) == 0:
            replay = draw(st.integers(1, after + 1))
            restore = draw(st.integers(after - replay, after))
            redeliveries.append(Redelivery(after, replay, restore))
    return envelopes, redeliveries


def run_clean(envelopes: list[Envelope]) -> tuple[TicketState | None, list[Output]]:
    state, outputs = None, []
    for item in envelopes:
        state, out = apply(state, item)
        outputs += out
    return state, outputs


def run_redelivered(
    envelopes: list[Envelope], redeliveries: list[Redelivery]
) -> tuple[TicketState | None, list[Output]]:
    state: TicketState | None = None
    outputs: list[Output] = []
    # The state right after each event was last applied: what the changelog may hold.
    after: dict[int, TicketState | None] = {-1: None}
    plan = {redelivery.after: redelivery for redelivery in redeliveries}
    for index, item in enumerate(envelopes):
        state, out = apply(state, item)
        outputs += out
        after[index] = state
        redelivery = plan.get(index)
        if redelivery is None:
            continue
        restored = after[redelivery.restore]
        # The restored state is read back from the changelog, so it goes through the codec.
        state = None if restored is None else state_from_bytes(state_to_bytes(restored))
        for again in range(index + 1 - redelivery.replay, index + 1):
            state, out = apply(state, envelopes[again])
            outputs += out
            after[again] = state
    return state, outputs


def without_duplicates(outputs: list[Output]) -> list[Output]:
    # Sound because a clean run never emits two equal outputs (distinct versions or events).
    kept: list[Output] = []
    for output in outputs:
        if output not in kept:
            kept.append(output)
    return kept


def emitted(outputs: list[Output]) -> list[TicketRecord]:
    return [output.record for output in outputs if isinstance(output, Emit)]


def record_of(state: TicketState | None) -> TicketRecord | None:
    if state is None:
        return None
    return current_record(state, tenant="stockholm", source="easypark", ticket_id="T1")


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_redelivery_gives_the_same_state_and_outputs(
    scenario: tuple[list[Envelope], list[Redelivery]],
) -> None:
    envelopes, redeliveries = scenario
    clean_state, clean_outputs = run_clean(envelopes)
    state, outputs = run_redelivered(envelopes, redeliveries)
    assert state == clean_state
    assert record_of(state) == record_of(clean_state)
    assert without_duplicates(outputs) == clean_outputs


@FAST
@given(st.lists(bodies(), max_size=20))
def test_versions_are_gapless_and_the_state_holds_the_last_record(
    bodies_: list[dict[str, Any]],
) -> None:
    state, outputs = run_clean([envelope(body, i) for i, body in enumerate(bodies_)])
    records = emitted(outputs)
    assert [record.version for record in records] == list(range(1, len(records) + 1))
    assert record_of(state) == (records[-1] if records else None)
    # updatedAt never goes back (receivedAt rises here), not even for a held move.
    stamps = [record.updatedAt for record in records]
    assert stamps == sorted(stamps)


@FAST
@given(st.lists(bodies(), max_size=20))
def test_every_state_round_trips_through_bytes(bodies_: list[dict[str, Any]]) -> None:
    state = None
    for index, body in enumerate(bodies_):
        state, _ = apply(state, envelope(body, index))
        assert state_from_bytes(state_to_bytes(state)) == state


@FAST
@given(st.lists(bodies(), max_size=20))
def test_canceled_is_terminal_and_plates_keep_their_history(
    bodies_: list[dict[str, Any]],
) -> None:
    _, outputs = run_clean([envelope(body, i) for i, body in enumerate(bodies_)])
    records = emitted(outputs)
    for before, after in pairwise(records):
        assert before.status != "canceled"
        if after.licenseNumber == before.licenseNumber:
            assert after.previousLicenseNumbers == before.previousLicenseNumbers
        else:
            assert before.licenseNumber is not None
            expected = [*before.previousLicenseNumbers, before.licenseNumber]
            assert after.previousLicenseNumbers == expected


@FAST
@given(st.lists(bodies(), min_size=1, max_size=20))
def test_a_webhook_sent_twice_in_a_row_emits_once(bodies_: list[dict[str, Any]]) -> None:
    state = None
    for index, body in enumerate(bodies_):
        held_before = state is not None and state.current is None and bool(state.held_moves)
        state, _ = apply(state, envelope(body, index))
        # The sender's retry: same content, a new eventId.
        _, out = apply(state, envelope(body, index, event_id=f"retry-{index}"))
        if not held_before:
            assert emitted(out) == []
        # A create that released held moves is the exception: its copy carries the
        # pre-move plate, which like any update with another plate moves the ticket back.
