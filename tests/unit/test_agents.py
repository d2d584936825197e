"""What the agent puts in a rejection for a message it cannot decode (no broker)."""

from __future__ import annotations

import pytest

from schemas.records import Rejection
from streams.agents import rejected_value


@pytest.mark.parametrize(
    ("value", "carried"),
    [
        (None, None),
        (b"not json", "not json"),
        (b'{"a": 1}', {"a": 1}),
        (b"[1, 2]", [1, 2]),
        (b'"text"', "text"),
        (b"5", "5"),
        (b"true", "true"),
        (b"null", "null"),
        (b"\xff\xfe", "\ufffd\ufffd"),
    ],
)
def test_any_message_fits_a_rejection(value: bytes | None, carried: object) -> None:
    assert rejected_value(value) == carried
    Rejection(reason="invalid_event", detail="d", event=rejected_value(value))
