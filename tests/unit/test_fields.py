"""schemas.fields: what each webhook field accepts and what it is normalized to (SPEC §2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.fields import (
    MAX_CENTS,
    PLATE_LETTERS,
    Cents,
    Code,
    Currency,
    FlexibleCents,
    Plate,
    TicketId,
    Timestamp,
    VatRate,
)

ticket_id: TypeAdapter[str] = TypeAdapter(TicketId)
code: TypeAdapter[int] = TypeAdapter(Code)
timestamp: TypeAdapter[datetime] = TypeAdapter(Timestamp)
plate: TypeAdapter[str] = TypeAdapter(Plate)
cents: TypeAdapter[int] = TypeAdapter(Cents)
flexible: TypeAdapter[int] = TypeAdapter(FlexibleCents)
vat: TypeAdapter[int] = TypeAdapter(VatRate)
currency: TypeAdapter[str] = TypeAdapter(Currency)


NOT_ISO = "must be an ISO 8601 timestamp with a UTC offset"
ALPHABET = "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens"


def reason(adapter: TypeAdapter[Any], value: object) -> str:
    with pytest.raises(ValidationError) as info:
        adapter.validate_python(value)
    [error] = info.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


# --- ticketId -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalized"),
    [("999", "999"), (71963, "71963"), (0, "0"), ("a/b c", "a/b c"), ("x" * 64, "x" * 64)],
)
def test_ticket_id_accepts_strings_and_integers(value: object, normalized: str) -> None:
    assert ticket_id.validate_python(value) == normalized


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (" 999", "must not start or end with whitespace"),
        ("999\n", "must not start or end with whitespace"),
        ("999\u00a0", "must not start or end with whitespace"),
        ("x" * 65, "must be at most 64 characters"),
        ("a\x00b", "must not contain control characters"),
        ("a\u2028b", "must not contain control characters"),
        (True, "must be a string or an integer"),
        (None, "must be a string or an integer"),
        (1.5, "must be a string or an integer of at most 64 bits"),
        ([], "must be a string or an integer"),
    ],
)
def test_ticket_id_rejects(value: object, why: str) -> None:
    assert reason(ticket_id, value) == why


# --- zoneCode, parkingLotId -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalized"),
    [(1234, 1234), ("1234", 1234), ("0012", 12), (0, 0), ("9" * 18, 10**18 - 1)],
)
def test_code_accepts_integers_and_digit_strings(value: object, normalized: int) -> None:
    assert code.validate_python(value) == normalized


@pytest.mark.parametrize(
    "value",
    [-1, 10**18, "", "12a", " 12", "1e3", "\u0661\u0662", "\uff19", True, 12.0, "9" * 19, None],
)
def test_code_rejects(value: object) -> None:
    with pytest.raises(ValidationError):
        code.validate_python(value)


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2025-03-11T04:37:16+00:00", datetime(2025, 3, 11, 4, 37, 16, tzinfo=UTC)),
        ("2025-03-11T04:37:16Z", datetime(2025, 3, 11, 4, 37, 16, tzinfo=UTC)),
        ("2025-03-11T05:37:16+01:00", datetime(2025, 3, 11, 4, 37, 16, tzinfo=UTC)),
        ("2025-03-11T05:37:16+0100", datetime(2025, 3, 11, 4, 37, 16, tzinfo=UTC)),
        ("2025-03-10T23:37:16-05", datetime(2025, 3, 11, 4, 37, 16, tzinfo=UTC)),
        ("2025-03-11 04:37:16z", datetime(2025, 3, 11, 4, 37, 16, tzinfo=UTC)),
        ("2025-03-11T04:37Z", datetime(2025, 3, 11, 4, 37, tzinfo=UTC)),
        ("2025-03-11T04:37:16.25Z", datetime(2025, 3, 11, 4, 37, 16, 250000, tzinfo=UTC)),
        ("2025-03-11t04:37:16z", datetime(2025, 3, 11, 4, 37, 16, tzinfo=UTC)),
    ],
)
def test_timestamp_with_offset_is_converted_to_utc(value: str, utc: datetime) -> None:
    parsed = timestamp.validate_python(value)
    assert parsed == utc
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2025-03-11T04:37:16", "must carry a UTC offset (e.g. +00:00 or Z)"),
        ("2025-03-11 04:37", "must carry a UTC offset (e.g. +00:00 or Z)"),
        ("2025-03-11T04:37:16-00:00", 'must carry a known UTC offset ("-00:00" means unknown)'),
        ("2025-03-11", "must be an ISO 8601 timestamp with a UTC offset"),
        ("20250311T043716Z", "must be an ISO 8601 timestamp with a UTC offset"),
        ("2025-W11-2T04:37:16Z", "must be an ISO 8601 timestamp with a UTC offset"),
        ("2025-03-11T04:37:16+00:00:30", "must be an ISO 8601 timestamp with a UTC offset"),
        ("11/03/2025 04:37", "must be an ISO 8601 timestamp with a UTC offset"),
        ("\uff12\uff10\uff12\uff15-03-11T04:37:16Z", NOT_ISO),
        ("2025-02-30T04:37:16Z", "is not a valid date and time"),
        ("2025-03-11T24:00:00Z", "is not a valid date and time"),
        ("2025-03-11T04:37:16+24:00", "is not a valid date and time"),
        ("0001-01-01T00:00:00+01:00", "is out of range"),
        ("9999-12-31T23:59:59-01:00", "is out of range"),
        (1741667836, "must be an ISO 8601 timestamp string with a UTC offset"),
        (None, "must be an ISO 8601 timestamp string with a UTC offset"),
    ],
)
def test_timestamp_rejects(value: object, why: str) -> None:
    assert reason(timestamp, value) == why


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(2200, 1, 1),
        timezones=st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
            lambda m: timezone(timedelta(minutes=m))
        ),
    )
)
def test_any_offset_timestamp_parses_to_the_same_instant(value: datetime) -> None:
    text = value.isoformat()
    if text.endswith("-00:00"):
        return  # the unknown-offset spelling, rejected on purpose
    parsed = timestamp.validate_python(text)
    assert parsed == value
    assert parsed.tzinfo is UTC
    assert timestamp.dump_python(parsed, mode="json").endswith("Z")


# --- licence plates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("ABC123", "ABC123"),
        ("abc 123", "ABC123"),
        ("abc-123", "ABC123"),
        (" a b-c 1 2 3 ", "ABC123"),
        ("åäö 123", "ÅÄÖ123"),
        ("ÆØÜ-1", "ÆØÜ1"),
        ("A\u030abc", "ÅBC"),  # decomposed Å is the same plate as the precomposed one
        ("X" * 12, "X" * 12),
        ("7", "7"),
    ],
)
def test_plate_is_normalized(value: str, normalized: str) -> None:
    assert plate.validate_python(value) == normalized


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "must have 1 to 12 letters or digits"),
        (" - ", "must have 1 to 12 letters or digits"),
        ("X" * 13, "must have 1 to 12 letters or digits"),
        ("X" + " " * 64, "must be at most 64 characters"),
        ("\u0410BC123", "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens"),
        ("\u039fBC123", "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens"),
        ("\u0131BC", "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens"),
        ("stra\u00dfe", "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens"),
        ("\uff21BC123", "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens"),
        ("ABC\u0661\u0662\u0663", ALPHABET),
        ("ABC_123", "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens"),
        ("ABC\t123", "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens"),
        ("ABC\u2013123", "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens"),
        (123, "must be a string"),
    ],
)
def test_plate_rejects(value: object, why: str) -> None:
    assert reason(plate, value) == why


@given(st.text(max_size=20))
def test_a_normalized_plate_uses_only_the_plate_alphabet(value: str) -> None:
    try:
        normalized = plate.validate_python(value)
    except ValidationError:
        return
    assert 1 <= len(normalized) <= 12
    assert set(normalized) <= set(PLATE_LETTERS + "0123456789")
    assert plate.validate_python(normalized) == normalized  # normalizing twice changes nothing


# --- amounts, VAT, currency -----------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1000, MAX_CENTS])
def test_cents_accepts_integers(value: int) -> None:
    assert cents.validate_python(value) == value


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (-1, "must not be negative"),
        (MAX_CENTS + 1, "must be less than 10^15 cents"),
        ("1000", "must be an integer number of cents"),
        (10.5, "must be an integer number of cents"),
        (True, "must be an integer number of cents"),
    ],
)
def test_cents_rejects(value: object, why: str) -> None:
    assert reason(cents, value) == why


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("10,20", 1020),
        ("10.20", 1020),
        ("10,2", 1020),
        ("10.05", 1005),
        ("0,99", 99),
        ("1020", 1020),
        ("0", 0),
        (1020, 1020),
        ("9999999999999,99", MAX_CENTS),
        ("999999999999999", MAX_CENTS),
    ],
)
def test_flexible_amount(value: object, normalized: int) -> None:
    assert flexible.validate_python(value) == normalized


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("10000000000000,00", "must be less than 10^15 cents"),
        ("999999999999999,99", "must be less than 10^15 cents"),
        ("1000000000000000", 'must be cents, or a string like "10,20" or "10.20"'),
        ("10,200", 'must be cents, or a string like "10,20" or "10.20"'),
        ("1.000,50", 'must be cents, or a string like "10,20" or "10.20"'),
        ("-10,20", 'must be cents, or a string like "10,20" or "10.20"'),
        (" 10,20", 'must be cents, or a string like "10,20" or "10.20"'),
        ("10,", 'must be cents, or a string like "10,20" or "10.20"'),
        (",20", 'must be cents, or a string like "10,20" or "10.20"'),
        ("", 'must be cents, or a string like "10,20" or "10.20"'),
        ("\u0661\u0660,\u0662\u0660", 'must be cents, or a string like "10,20" or "10.20"'),
        (-5, "must not be negative"),
        (MAX_CENTS + 1, "must be less than 10^15 cents"),
        (10.2, "must be an integer number of cents"),
    ],
)
def test_flexible_amount_rejects(value: object, why: str) -> None:
    assert reason(flexible, value) == why


@given(st.integers(0, MAX_CENTS))
def test_flexible_amount_in_units_equals_cents(amount: int) -> None:
    units, rest = divmod(amount, 100)
    assert flexible.validate_python(f"{units},{rest:02d}") == amount
    assert flexible.validate_python(f"{units}.{rest:02d}") == amount
    assert flexible.validate_python(str(amount)) == amount


@pytest.mark.parametrize(("value", "ok"), [(0, True), (25, True), (100, True), (101, False)])
def test_vat_rate_is_a_percentage(value: int, ok: bool) -> None:
    if ok:
        assert vat.validate_python(value) == value
    else:
        assert reason(vat, value) == "must be between 0 and 100"


@pytest.mark.parametrize("value", [-1, "25", 25.0, True, None])
def test_vat_rate_rejects_non_integers(value: object) -> None:
    with pytest.raises(ValidationError):
        vat.validate_python(value)


@pytest.mark.parametrize(("value", "normalized"), [("SEK", "SEK"), ("sek", "SEK"), ("eUr", "EUR")])
def test_currency_is_upper_cased(value: str, normalized: str) -> None:
    assert currency.validate_python(value) == normalized


@pytest.mark.parametrize("value", ["SE", "SEKK", "S3K", "ÅÄÖ", " SEK", 752, None])
def test_currency_rejects(value: object) -> None:
    assert reason(currency, value) == "must be a three-letter ISO 4217 code"
