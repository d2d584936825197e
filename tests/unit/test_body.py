"""receiver.body: any bytes are either one JSON object or a BodyError, never anything else."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.body import BodyError, decode_object, is_json

_json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
).map(lambda value: json.dumps(value))


@given(st.one_of(st.binary(max_size=200), _json_text.map(str.encode)))
def test_any_bytes_are_an_object_or_a_body_error(body: bytes) -> None:
    outcome: dict[str, object] | BodyError
    try:
        outcome = decode_object(body)
    except BodyError as exc:
        outcome = exc
    if isinstance(outcome, BodyError):
        assert outcome.status == 400
        assert outcome.kind in {"invalid-json", "not-an-object", "duplicate-key", "too-deep"}
    else:
        assert isinstance(outcome, dict)


@given(st.dictionaries(st.text(max_size=6), st.integers(), min_size=1, max_size=5), st.data())
def test_a_repeated_member_name_is_refused_at_any_depth(
    obj: dict[str, int], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(obj)))
    inner = json.dumps(obj)[:-1] + f", {json.dumps(name)}: 0}}"
    body = data.draw(st.sampled_from([inner, f'{{"x": {inner}}}', f'{{"x": [1, {inner}]}}']))
    with pytest.raises(BodyError) as info:
        decode_object(body.encode())
    assert info.value.kind == "duplicate-key"


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        (" APPLICATION/JSON ", True),
        ("application/problem+json", True),
        ("application/jsonx", False),
        ("text/json", False),
        ("application/+json", True),
        ("", False),
        (None, False),
    ],
)
def test_media_types(content_type: str | None, ok: bool) -> None:
    assert is_json(content_type) is ok
