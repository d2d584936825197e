"""Field types of the inbound webhooks: what each accepts and what it is normalized to (SPEC §2).

Each type carries the JSON Schema of what it accepts (validation) and of what it is normalized
to (serialization), so the OpenAPI document and the published schemas say what the code does.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

MAX_TICKET_ID = 64
MAX_PLATE = 12
MAX_CODE = 10**18 - 1
MAX_CENTS = 10**15 - 1

_DIGITS = re.compile(r"[0-9]{1,18}")
_AMOUNT = re.compile(r"(?P<units>[0-9]{1,15})(?:[.,](?P<cents>[0-9]{1,2}))?")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
# Extended ISO 8601 / RFC 3339 date-time with an explicit offset. Week dates, ordinal dates and
# the basic format parse too in Python, but no webhook sender means them; they are rejected.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)"
)
_PLATE_SEPARATORS = re.compile(r"[ \-]")
# Latin letters, digits and the Nordic/German letters plates carry. A wider alphabet would let
# Cyrillic A (U+0410) or Greek Omicron (U+039F) through: a plate that looks right to a warden
# but never matches the Latin one.
PLATE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZÅÄÖÆØÜ"
_PLATE_ALPHABET = re.compile(f"[{PLATE_LETTERS}{PLATE_LETTERS.lower()}0-9]*")
MAX_PLATE_INPUT = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _ticket_id(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("must be a string or an integer")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, float):
        # orjson reads integers beyond 64 bits as floats; neither is a usable ticket id.
        raise ValueError("must be a string or an integer of at most 64 bits")
    if not isinstance(value, str):
        raise ValueError("must be a string or an integer")
    if not value.strip():
        raise ValueError("must not be empty")
    if value != value.strip():
        # " 999" and "999" would be two tickets with two Kafka keys; refuse the ambiguity.
        raise ValueError("must not start or end with whitespace")
    if len(value) > MAX_TICKET_ID:
        raise ValueError(f"must be at most {MAX_TICKET_ID} characters")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _code(value: Any) -> int:
    """An integer, or a string of digits as the vendor's examples send ("1234")."""
    if isinstance(value, bool):
        raise ValueError("must be an integer or a string of digits")
    if isinstance(value, int):
        if not 0 <= value <= MAX_CODE:
            raise ValueError("must be between 0 and 10^18 - 1")
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise ValueError("must be an integer or a string of at most 18 digits")


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 date-time with an explicit UTC offset, converted to UTC."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        if _TIMESTAMP.fullmatch(value + "Z"):
            # A local time without offset is ambiguous by hours: it could fine the wrong car.
            raise ValueError("must carry a UTC offset (e.g. +00:00 or Z)")
        raise ValueError("must be an ISO 8601 timestamp with a UTC offset")
    offset = match.group("offset")
    if offset.startswith("-") and not offset.strip("-0:"):
        # RFC 3339 §4.3: "-00:00" says the offset is unknown, which is the case refused above.
        raise ValueError('must carry a known UTC offset ("-00:00" means unknown)')
    try:
        # Python 3.11 knows only the upper-case "T" and "Z" that RFC 3339 also allows in lower.
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except ValueError:
        raise ValueError("is not a valid date and time") from None
    except OverflowError:
        raise ValueError("is out of range") from None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a UTC offset (e.g. +00:00 or Z)")
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 timestamp string with a UTC offset")
    return parse_timestamp(value)


def normalize_plate(value: str) -> str:
    """Upper-case a licence plate and drop spaces and hyphens ("abc 123" -> "ABC123")."""
    return _PLATE_SEPARATORS.sub("", value).upper()


def _plate(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > MAX_PLATE_INPUT:
        raise ValueError(f"must be at most {MAX_PLATE_INPUT} characters")
    # NFC first, so a decomposed "A" + combining ring is the same plate as a precomposed "Å".
    # The alphabet is checked before upper-casing: dotless i (U+0131) upper-cases to "I" and
    # sharp s to "SS".
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    compact = _PLATE_SEPARATORS.sub("", value)
    if not _PLATE_ALPHABET.fullmatch(compact):
        raise ValueError("may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens")
    if not 1 <= len(compact) <= MAX_PLATE:
        raise ValueError(f"must have 1 to {MAX_PLATE} letters or digits")
    return compact.upper()


def _cents(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer number of cents")
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_CENTS:
        raise ValueError("must be less than 10^15 cents")
    return value


def _flexible_cents(value: Any) -> int:
    """CreateOrUpdate amounts: cents, or a string "10,20" / "10.20" in units, or digits in cents."""
    if not isinstance(value, str):
        return _cents(value)
    match = _AMOUNT.fullmatch(value)
    if match is None:
        raise ValueError('must be cents, or a string like "10,20" or "10.20"')
    units, cents = match.group("units"), match.group("cents")
    amount = int(units) if cents is None else int(units) * 100 + int(cents.ljust(2, "0"))
    if amount > MAX_CENTS:
        raise ValueError("must be less than 10^15 cents")
    return amount


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
    if value.tzinfo is not UTC:  # validated timestamps are UTC already: skip the conversion
        value = value.astimezone(UTC)
    return value.isoformat()[:-6] + "Z"


def _accepts(schema: dict[str, Any]) -> WithJsonSchema:
    return WithJsonSchema(schema, mode="validation")


def _emits(schema: dict[str, Any]) -> WithJsonSchema:
    return WithJsonSchema(schema, mode="serialization")


_UINT_STRING = {"type": "string", "pattern": "^[0-9]{1,18}$"}

TicketId = Annotated[
    str,
    BeforeValidator(_ticket_id),
    _accepts(
        {
            "description": "Non-empty, at most 64 characters, no surrounding whitespace or "
            "control characters; an integer is read as its decimal string.",
            "anyOf": [
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TICKET_ID,
                    "pattern": r"^\S(.*\S)?$",
                },
                {"type": "integer"},
            ],
        }
    ),
    _emits({"type": "string", "minLength": 1, "maxLength": MAX_TICKET_ID}),
]
Code = Annotated[
    int,
    BeforeValidator(_code),
    _accepts(
        {
            "description": "An integer, or a string of digits.",
            "anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_CODE}, _UINT_STRING],
        }
    ),
    _emits({"type": "integer", "minimum": 0, "maximum": MAX_CODE}),
]
Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp),
    PlainSerializer(format_utc, return_type=str),
    _accepts(
        {
            "description": "ISO 8601 date-time with a UTC offset (Z, ±hh:mm, ±hhmm or ±hh); "
            'a time without offset is rejected, and so is "-00:00" (offset unknown).',
            "type": "string",
            "pattern": f"^{_TIMESTAMP.pattern}$".replace("?P<offset>", ""),
        }
    ),
    _emits({"description": "UTC, Z suffix.", "type": "string", "format": "date-time"}),
]
Plate = Annotated[
    str,
    BeforeValidator(_plate),
    _accepts(
        {
            "description": "Letters A-Z and ÅÄÖÆØÜ (either case), digits, spaces and hyphens; "
            "1 to 12 letters and digits. Normalized to upper case without spaces and hyphens.",
            "type": "string",
            "maxLength": MAX_PLATE_INPUT,
            "pattern": f"^[{PLATE_LETTERS}{PLATE_LETTERS.lower()}0-9 \\-]+$",
        }
    ),
    _emits({"type": "string", "pattern": f"^[{PLATE_LETTERS}0-9]{{1,{MAX_PLATE}}}$"}),
]
_CENTS_SCHEMA = {"type": "integer", "minimum": 0, "maximum": MAX_CENTS}
Cents = Annotated[
    int,
    BeforeValidator(_cents),
    WithJsonSchema({"description": "Integer cents.", **_CENTS_SCHEMA}),
]
FlexibleCents = Annotated[
    int,
    BeforeValidator(_flexible_cents),
    _accepts(
        {
            "description": 'Integer cents; or a string: "10,20" and "10.20" are currency units '
            '(1020 cents), digits alone are cents ("1020").',
            "anyOf": [
                _CENTS_SCHEMA,
                {"type": "string", "pattern": "^[0-9]{1,15}([.,][0-9]{1,2})?$"},
            ],
        }
    ),
    _emits({"description": "Integer cents.", **_CENTS_SCHEMA}),
]
VatRate = Annotated[
    int,
    BeforeValidator(_vat_rate),
    WithJsonSchema({"description": "Percent.", "type": "integer", "minimum": 0, "maximum": 100}),
]
Currency = Annotated[
    str,
    BeforeValidator(_currency),
    _accepts(
        {"description": "Three-letter ISO 4217 code.", "type": "string", "pattern": "^[A-Za-z]{3}$"}
    ),
    _emits({"description": "Upper-case ISO 4217 code.", "type": "string", "pattern": "^[A-Z]{3}$"}),
]
