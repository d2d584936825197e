"""The normalized record: VAT split, cost, timestamps, and the record's shape (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.normalize import Ticket, build_cost, build_record, utc_string, vat_split, whole_seconds


@pytest.mark.parametrize(
    ("amount", "rate", "vat"),
    [
        (1000, 25, 200),  # the seed's example: 10.00 SEK at 25 %
        (1020, 25, 204),  # the seed's CreateOrUpdate "10,20"
        (3052, 25, 610),  # 610.4 rounds down
        (3053, 25, 611),  # 610.6 rounds up
        (14, 12, 2),  # 1.5: half to even, up
        (42, 12, 4),  # 4.5: half to even, down
        (5, 100, 2),  # 2.5: half to even, down
        (7, 100, 4),  # 3.5: half to even, up
        (1000, 0, 0),
        (0, 25, 0),
        (10**15 - 1, 6, 56603773584906),  # large amounts stay exact (no float rounding)
    ],
)
def test_vat_split_is_exact_and_rounds_half_even(amount: int, rate: int, vat: int) -> None:
    assert vat_split(amount, rate) == (vat, amount - vat)


@pytest.mark.parametrize(("amount", "rate"), [(None, 25), (1000, None), (None, None)])
def test_vat_split_needs_amount_and_rate(amount: int | None, rate: int | None) -> None:
    assert vat_split(amount, rate) == (None, None)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**15 - 1), st.integers(0, 100))
def test_vat_split_matches_integer_half_even(amount: int, rate: int) -> None:
    # An independent oracle in integers only: quotient and remainder, ties to the even quotient.
    quotient, remainder = divmod(amount * rate, 100 + rate)
    twice = 2 * remainder
    up = twice > 100 + rate or (twice == 100 + rate and quotient % 2 == 1)
    expected = quotient + 1 if up else quotient
    assert vat_split(amount, rate) == (expected, amount - expected)


def test_cost_is_none_when_no_field_is_known() -> None:
    assert build_cost(None, None, None) is None


def test_cost_has_all_five_keys_when_one_is_known() -> None:
    cost = build_cost(None, None, "SEK")
    assert cost is not None
    assert cost.model_dump() == {
        "amountInclVat": None,
        "vatRate": None,
        "vatAmount": None,
        "amountExclVat": None,
        "currencyCode": "SEK",
    }


def test_cost_splits_vat_when_amount_and_rate_are_known() -> None:
    cost = build_cost(1000, 25, None)
    assert cost is not None
    assert (cost.vatAmount, cost.amountExclVat, cost.currencyCode) == (200, 800, None)


def test_whole_seconds_truncates_and_converts_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    value = datetime(2025, 3, 11, 5, 50, 17, 999_999, tzinfo=cet)
    assert whole_seconds(value) == datetime(2025, 3, 11, 4, 50, 17, tzinfo=UTC)
    assert whole_seconds(value).tzinfo is UTC
    assert utc_string(value) == "2025-03-11T04:50:17Z"


def test_ticket_keeps_timestamps_in_whole_seconds() -> None:
    start = datetime(2025, 3, 11, 4, 50, 17, 250_000, tzinfo=UTC)
    ticket = Ticket(status="active", valid_from=start, valid_until=start)
    assert ticket.valid_from == ticket.valid_until == start.replace(microsecond=0)
    assert ticket == Ticket(
        status="active", valid_from=start.replace(microsecond=0), valid_until=start
    )


def test_record_has_the_spec_shape() -> None:
    ticket = Ticket(
        status="active",
        license_number="ABC124",
        previous_license_numbers=("ABC123",),
        zone_code=1234,
        parking_lot_id=2345,
        valid_from=datetime(2025, 3, 11, 4, 50, 17, tzinfo=UTC),
        valid_until=datetime(2025, 3, 11, 14, 24, 17, tzinfo=UTC),
        amount_incl_vat=1000,
        vat_rate=25,
        currency_code="SEK",
    )
    record = build_record(
        ticket,
        tenant="stockholm",
        source="easypark",
        ticket_id="999",
        version=3,
        event_type="TicketMoved",
        event_id="e-3",
        updated_at=datetime(2025, 3, 11, 5, 0, 2, 731_000, tzinfo=UTC),
    )
    # The example record of SPEC §4, field for field.
    assert record.model_dump(mode="json") == {
        "schemaVersion": 1,
        "tenant": "stockholm",
        "source": "easypark",
        "ticketId": "999",
        "status": "active",
        "zoneCode": 1234,
        "parkingLotId": 2345,
        "licenseNumber": "ABC124",
        "previousLicenseNumbers": ["ABC123"],
        "validFrom": "2025-03-11T04:50:17Z",
        "validUntil": "2025-03-11T14:24:17Z",
        "cost": {
            "amountInclVat": 1000,
            "vatRate": 25,
            "vatAmount": 200,
            "amountExclVat": 800,
            "currencyCode": "SEK",
        },
        "version": 3,
        "lastEventType": "TicketMoved",
        "lastEventId": "e-3",
        "updatedAt": "2025-03-11T05:00:02Z",
    }


def test_record_of_a_sparse_ticket_has_nulls() -> None:
    record = build_record(
        Ticket(status="stopped", license_number="EGY918"),
        tenant="t",
        source="s",
        ticket_id="1",
        version=1,
        event_type="TicketMoved",
        event_id="e",
        updated_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert (record.zoneCode, record.validFrom, record.validUntil, record.cost) == (
        None,
        None,
        None,
        None,
    )
    assert record.previousLicenseNumbers == []
