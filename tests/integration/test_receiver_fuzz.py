"""Fuzzing the real app on the real broker: never a 5xx but 503, problem+json on every error.

The app is create_app(settings) behind Starlette's TestClient, so its lifespan runs the real
producer; bodies, headers and content types are drawn by hypothesis. CI (CI=true) runs
thousands of cases, a local run a few hundred.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Cluster
from tests.integration.kafka import read_topic
from tests.integration.receiver_helpers import (
    BASIC_PASSWORD,
    BASIC_USER,
    WEBHOOK,
    InProcess,
    basic_header,
    in_process,
)
from tests.seeds import seed_bodies

pytestmark = pytest.mark.integration

EXAMPLES = 4000 if os.environ.get("CI") else 400
SEEDS = seed_bodies()
STATUSES = {200, 400, 401, 403, 413, 415, 422, 429, 503}
seen: Counter[int] = Counter()


@pytest.fixture(scope="module")
def app(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    with in_process(cluster.bootstrap, workdir, max_body_bytes=4096) as running:
        yield running


# --- what a sender might send ---------------------------------------------------------------

_printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
_latin1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
_field_values = st.one_of(
    _json_values,
    st.sampled_from(
        ["1234", "0", "ABC 123", "åäö-1", "\u0410BC", "10,20", "10.5", "sek", "", " 1", "x" * 70]
    ),
    st.sampled_from(
        [
            "2025-03-11T04:37:16Z",
            "2025-03-11T04:37:16",
            "2025-03-11T04:37:16-00:00",
            "0001-01-01T00:00+01",
        ]
    ),
    st.integers(-(2**64), 2**64),
)
_event_types = st.sampled_from(
    [
        "TicketCreated",
        "TicketUpdated",
        "TicketStopped",
        "TicketMoved",
        "TicketCanceled",
        "CreateOrUpdate",
        "x",
    ]
)


@st.composite
def mutated_seed(draw: st.DrawFn) -> bytes:
    body: dict[str, Any] = json.loads(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    if draw(st.booleans()):
        body["eventType"] = draw(_event_types)
    # A unique ticket id most of the time, so accepted events can be counted on the topic.
    body["ticketId"] = draw(st.one_of(st.uuids().map(str), _field_values))
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from([*body, "fromLicenseNumber", "toLicenseNumber", "extra"]))
        if name == "ticketCost" and isinstance(body.get(name), dict):
            body[name][draw(st.sampled_from(["amountInclVat", "vatRate", "currencyCode"]))] = draw(
                _field_values
            )
        elif draw(st.integers(0, 3)) == 0:
            body.pop(name, None)
        else:
            body[name] = draw(_field_values)
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def byte_mutation(draw: st.DrawFn) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))].encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["replace", "delete", "insert"]))
        byte = draw(st.integers(0, 255))
        if action == "replace":
            data[at] = byte
        elif action == "delete":
            del data[at]
        else:
            data.insert(at, byte)
    return bytes(data)


bodies = st.one_of(
    mutated_seed(),
    mutated_seed(),
    byte_mutation(),
    st.binary(max_size=300),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"", b"{}", b"[]", b"null", b"[" * 2000, b"{" * 500, b"x" * 5000]),
    st.sampled_from([s.encode() for s in SEEDS.values()]),
)


def _authorizations(app: InProcess) -> st.SearchStrategy[str | None]:
    valid = st.just(f"Bearer {app.token}")
    return st.one_of(
        valid,
        st.just(basic_header(BASIC_USER, BASIC_PASSWORD)),
        st.one_of(
            st.just(None),
            st.sampled_from(["Bearer", "Basic", "Basic ====", "bearer x", "Digest a=b"]),
            _latin1,
            _printable.map(lambda s: "Bearer " + s),
            st.binary(max_size=30).map(lambda b: basic_header(BASIC_USER, b.hex())),
        ),
    )


_json_type = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "application/cloudevents+json"]
)
content_types = st.one_of(
    _json_type,
    _json_type,
    _json_type,
    st.one_of(
        st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "", "json"]),
        st.none(),
        _latin1,
    ),
)
hosts = st.one_of(
    st.none(),
    st.none(),
    st.sampled_from(["api.stockholm.example.com", "api.malmo.example.com", "[::1]:8080", "api..x"]),
    _printable,
)
extra_headers = st.dictionaries(
    st.sampled_from(
        ["X-Request-Id", "Accept", "Accept-Encoding", "Content-Encoding", "Expect", "Cookie"]
    ),
    _latin1,
    max_size=3,
)


# --- the properties -------------------------------------------------------------------------


def check(response: Any) -> None:
    status = response.status_code
    seen[status] += 1
    assert status in STATUSES, (status, response.text)
    if status == 200:
        assert response.content == b"[]"
        assert response.headers["content-type"] == "application/json"
        return
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("urn:ticketstream:problem:")
    assert problem["title"]
    assert problem["detail"]
    if status == 401:
        assert "Bearer" in response.headers["www-authenticate"]
    if status in (429, 503):
        assert int(response.headers["retry-after"]) >= 1
    if status == 422:
        assert problem["errors"]
        assert all(error["field"] and error["reason"] for error in problem["errors"])


def send(app: InProcess, data: st.DataObject, headers: dict[str, str], body: bytes) -> Any:
    # As bytes, so values beyond ASCII go on the wire as the latin-1 octets HTTP allows.
    raw = {name.encode(): value.encode("latin-1") for name, value in headers.items()}
    if data.draw(st.booleans(), label="chunked"):
        return app.client.post(WEBHOOK, content=iter([body[:7], body[7:]]), headers=raw)
    return app.client.post(WEBHOOK, content=body, headers=raw)


_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=EXAMPLES * 2 // 5, **_SETTINGS)  # type: ignore[arg-type]
@given(data=st.data())
def test_any_headers_get_a_defined_answer(app: InProcess, data: st.DataObject) -> None:
    headers: dict[str, str] = data.draw(extra_headers, label="headers")
    authorization = data.draw(_authorizations(app), label="authorization")
    content_type = data.draw(content_types, label="content_type")
    host = data.draw(hosts, label="host")
    if authorization is not None:
        headers["Authorization"] = authorization
    if content_type is not None:
        headers["Content-Type"] = content_type
    if host is not None:
        headers["Host"] = host
    check(send(app, data, headers, data.draw(bodies, label="body")))


@settings(max_examples=EXAMPLES * 3 // 5, **_SETTINGS)  # type: ignore[arg-type]
@given(data=st.data())
def test_any_body_gets_a_defined_answer(app: InProcess, data: st.DataObject) -> None:
    headers = {"Authorization": f"Bearer {app.token}", "Content-Type": "application/json"}
    check(send(app, data, headers, data.draw(bodies, label="body")))


def test_every_accepted_fuzz_request_is_in_the_topic_once(app: InProcess) -> None:
    # Runs after the fuzz test above (file order): each 200 it saw is one message, no more.
    accepted = seen[200]
    assert accepted > 0, f"the fuzzer never produced an accepted event: {dict(seen)}"
    messages = read_topic(
        app.settings.kafka_bootstrap_servers, app.settings.topic_events, accepted, settle=2.0
    )
    assert len(messages) == accepted
    print(f"fuzz statuses: {dict(sorted(seen.items()))}")
