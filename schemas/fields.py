"""Field types of the inbound webhooks: what each accepts and what it is normalized to (SPEC §2)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_DIGITS = re.compile(r"[0-9]{1,18}")
_AMOUNT = re.compile(r"(?P<units>[0-9]{1,15})(?:[.,](?P<cents>[0-9]{1,2}))?")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_PLATE_SEPARATORS = re.compile(r"[ \-]")
MAX_TICKET_ID = 64
MAX_PLATE = 12


def _ticket_id(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("must be a string or an integer")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("must be a string or an integer")
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > MAX_TICKET_ID:
        raise ValueError(f"must be at most {MAX_TICKET_ID} characters")
    return value


def _code(value: Any) -> int:
    """An integer, or a string of digits as the vendor's examples send ("1234")."""
    if isinstance(value, bool):
        raise ValueError("must be an integer or a string of digits")
    if isinstance(value, int):
        if value < 0 or value >= 10**18:
            raise ValueError("must be between 0 and 10^18")
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise ValueError("must be an integer or a string of digits")


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 timestamp with a UTC offset") from None
    else:
        raise ValueError("must be an ISO 8601 timestamp string with a UTC offset")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        # A local time without offset is ambiguous by hours: it could fine the wrong car.
        raise ValueError("must carry a UTC offset (e.g. +00:00 or Z)")
    return parsed.astimezone(UTC)


def normalize_plate(value: str) -> str:
    """Upper-case a licence plate and drop spaces and hyphens ("abc 123" -> "ABC123")."""
    return _PLATE_SEPARATORS.sub("", value).upper()


def _plate(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    plate = normalize_plate(value)
    if not 1 <= len(plate) <= MAX_PLATE:
        raise ValueError(f"must have 1 to {MAX_PLATE} letters or digits")
    if not all(ch.isalpha() or "0" <= ch <= "9" for ch in plate):
        raise ValueError("may hold only letters, digits, spaces and hyphens")
    return plate


def _cents(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer number of cents")
    if value < 0:
        raise ValueError("must not be negative")
    if value >= 10**15:
        raise ValueError("is too large")
    return value


def _flexible_cents(value: Any) -> int:
    """CreateOrUpdate amounts: cents, or a string "10,20" / "10.20" in units, or digits in cents."""
    if isinstance(value, str):
        match = _AMOUNT.fullmatch(value.strip())
        if match is None:
            raise ValueError('must be cents, or a string like "10,20" or "10.20"')
        units, cents = match.group("units"), match.group("cents")
        if cents is None:
            return int(units)
        return int(units) * 100 + int(cents.ljust(2, "0"))
    return _cents(value)


def _vat_rate(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer percentage")
    if not 0 <= value <= 100:
        raise ValueError("must be between 0 and 100")
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise ValueError("must be a three-letter ISO 4217 code")
    return value.upper()


def format_utc(value: datetime) -> str:
    """UTC timestamp with a Z suffix; microseconds kept only when present."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


TicketId = Annotated[str, BeforeValidator(_ticket_id)]
Code = Annotated[int, BeforeValidator(_code)]
Timestamp = Annotated[
    datetime, BeforeValidator(_timestamp), PlainSerializer(format_utc, return_type=str)
]
Plate = Annotated[str, BeforeValidator(_plate)]
Cents = Annotated[int, BeforeValidator(_cents)]
FlexibleCents = Annotated[int, BeforeValidator(_flexible_cents)]
VatRate = Annotated[int, BeforeValidator(_vat_rate)]
Currency = Annotated[str, BeforeValidator(_currency)]
