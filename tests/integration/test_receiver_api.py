"""The real `ticketstream receiver` process against the real broker: SPEC §2 end to end."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from receiver.credentials import add_bearer_client
from tests.integration.conftest import Cluster, Stack
from tests.integration.kafka import read_topic
from tests.integration.receiver_helpers import (
    BASIC_PASSWORD,
    BASIC_USER,
    WEBHOOK,
    add_basic_client,
    basic_header,
    raw_request,
)
from tests.seeds import seed_bodies

pytestmark = pytest.mark.integration

SEEDS = seed_bodies()
Post = Callable[..., httpx.Response]


def envelopes(cluster: Cluster, stack: Stack, count: int) -> list[tuple[bytes, dict[str, object]]]:
    messages = read_topic(cluster.bootstrap, stack.settings.topic_events, count, settle=1.0)
    return [(m.key() or b"", json.loads(m.value() or b"")) for m in messages]


def test_every_seed_example_is_stored_with_its_envelope(
    cluster: Cluster, stack: Stack, post: Post
) -> None:
    stack.start_receiver()
    before = datetime.now(UTC)
    for name in sorted(SEEDS):
        response = post(SEEDS[name])
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.content == b"[]"
    after = datetime.now(UTC)

    stored = envelopes(cluster, stack, len(SEEDS))
    assert len(stored) == len(SEEDS)
    by_raw = {envelope["raw"]: (key, envelope) for key, envelope in stored}
    assert set(by_raw) == set(SEEDS.values())  # the raw body, byte for byte
    event_ids = []
    for name, body in SEEDS.items():
        key, envelope = by_raw[body]
        ticket = json.loads(body)["ticketId"]
        assert key == f"stockholm/easypark/{ticket}".encode()
        assert (envelope["tenant"], envelope["source"]) == ("stockholm", "easypark")
        event_id = uuid.UUID(str(envelope["eventId"]))
        assert event_id.version == 7
        event_ids.append(event_id)
        received = datetime.fromisoformat(str(envelope["receivedAt"]))
        assert before - timedelta(seconds=1) <= received <= after + timedelta(seconds=1)
        event = envelope["event"]
        assert isinstance(event, dict)
        assert event["eventType"] == json.loads(body)["eventType"], name
    assert len(set(event_ids)) == len(SEEDS)
    moved = by_raw[SEEDS["model-example-TicketMoved"]][1]["event"]
    assert isinstance(moved, dict)
    assert moved["ticketId"] == "71963"
    flexible = by_raw[SEEDS["CreateOrUpdate"]][1]["event"]
    assert isinstance(flexible, dict)
    assert flexible["ticketCost"] == {"amountInclVat": 1020, "vatRate": 25, "currencyCode": "SEK"}


def test_rejected_requests_publish_nothing(cluster: Cluster, stack: Stack, post: Post) -> None:
    stack.start_receiver()
    create = SEEDS["TicketCreated"]
    assert post(create, Authorization="Bearer wrong").status_code == 401
    assert post(create, Host="api.malmo.example.com").status_code == 403
    assert post(create, **{"Content-Type": "text/plain"}).status_code == 415
    assert post("{", **{"Content-Type": "application/json"}).status_code == 400
    assert post(create.replace("ABC123", "ABC 123 !")).status_code == 422
    assert post("x" * 70_000).status_code == 413
    marker = SEEDS["TicketCanceled"].replace('"999"', '"after-the-errors"')
    assert post(marker).status_code == 200
    stored = envelopes(cluster, stack, 1)
    assert [key for key, _ in stored] == [b"stockholm/easypark/after-the-errors"]


def test_basic_credentials_and_tenant_from_the_credential(
    cluster: Cluster, stack: Stack, post: Post
) -> None:
    add_basic_client(stack.settings.credentials_file, tenant="goteborg", source="parkster")
    stack.start_receiver()
    body = SEEDS["TicketCanceled"]
    assert post(body, Authorization=basic_header(BASIC_USER, BASIC_PASSWORD)).status_code == 200
    assert post(body, Authorization=basic_header(BASIC_USER, "nope")).status_code == 401
    # Host names the credential's own tenant: fine; the Bearer client's tenant: 403.
    ok = post(
        body, Authorization=basic_header(BASIC_USER, BASIC_PASSWORD), Host="api.goteborg.x.se"
    )
    assert ok.status_code == 200
    wrong = post(
        body, Authorization=basic_header(BASIC_USER, BASIC_PASSWORD), Host="api.stockholm.x.se"
    )
    assert wrong.status_code == 403
    keys = sorted(key for key, _ in envelopes(cluster, stack, 2))
    assert keys == [b"goteborg/parkster/999"] * 2


def test_credentials_file_is_reloaded_without_a_restart(stack: Stack, post: Post) -> None:
    receiver = stack.start_receiver()
    body = SEEDS["TicketCanceled"]
    file = stack.settings.credentials_file
    new_token = add_bearer_client(file, "stockholm", "newapp")
    deadline = time.monotonic() + 10
    while post(body, Authorization=f"Bearer {new_token}").status_code != 200:
        assert time.monotonic() < deadline, "the new credential was not picked up"
        time.sleep(0.2)

    good = file.read_text()
    file.write_text(good + "\n[[client]]\ntenant = 'BROKEN'\n")
    time.sleep(2.5)
    # A broken file keeps the last good configuration, and says why in the log.
    assert post(body, Authorization=f"Bearer {new_token}").status_code == 200
    assert post(body).status_code == 200
    assert "credentials reload failed" in receiver.log_tail(200)


def test_http_edge_cases_on_the_wire(stack: Stack) -> None:
    stack.start_receiver()
    port = stack.settings.http_port
    head = (
        f"POST {WEBHOOK} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {stack.token}\r\n"
        "Content-Type: application/json\r\nConnection: close\r\n"
    )
    body = SEEDS["TicketCanceled"].encode()

    # Chunked transfer encoding, no Content-Length: read to the end.
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
    response = raw_request(
        port, (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunked + b"0\r\n\r\n"
    )
    assert response.status == 200
    assert response.body == b"[]"

    # Neither Content-Length nor chunked: HTTP/1.1 says the request has no body.
    response = raw_request(port, (head + "\r\n").encode() + body)
    assert response.status == 400
    assert response.json()["type"] == "urn:ticketstream:problem:invalid-json"

    # A Content-Length shorter than what follows: only that much is the body.
    response = raw_request(port, (head + "Content-Length: 5\r\n\r\n").encode() + body)
    assert response.status == 400

    # Invalid UTF-8 inside a string.
    bad = b'{"eventType": "TicketCanceled", "ticketId": "\xc3\x28"}'
    response = raw_request(port, (head + f"Content-Length: {len(bad)}\r\n\r\n").encode() + bad)
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"

    # Declared too large: refused before the body is read.
    response = raw_request(port, (head + "Content-Length: 10000000\r\n\r\n").encode())
    assert response.status == 413

    # Expect: 100-continue works.
    response = raw_request(
        port,
        (head + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode() + body,
    )
    assert response.status in (100, 200)


def test_operations_endpoints(stack: Stack, post: Post) -> None:
    stack.start_receiver()
    assert httpx.get(f"{stack.base_url}/healthz").status_code == 200
    deadline = time.monotonic() + 20
    while httpx.get(f"{stack.base_url}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.2)
    for name in ("TicketCreated", "TicketCreated", "TicketCanceled"):
        assert post(SEEDS[name]).status_code == 200
    assert post("{}").status_code == 422
    assert post(SEEDS["TicketCreated"], Authorization="Bearer nope").status_code == 401

    text = httpx.get(f"{stack.base_url}/metrics").text
    assert (
        'ticketstream_webhook_requests_total{event_type="TicketCreated",source="easypark",'
        'status="200",tenant="stockholm"} 2.0' in text
    )
    assert (
        'ticketstream_webhook_requests_total{event_type="TicketCanceled",source="easypark",'
        'status="200",tenant="stockholm"} 1.0' in text
    )
    assert (
        'ticketstream_webhook_requests_total{event_type="",source="easypark",status="422",'
        'tenant="stockholm"} 1.0' in text
    )
    assert (
        'ticketstream_webhook_requests_total{event_type="",source="",status="401",tenant=""} 1.0'
        in text
    )
    assert "ticketstream_produce_latency_seconds_count 3.0" in text
    assert "ticketstream_webhook_in_flight 0.0" in text
    assert "ticketstream_producer_queue_depth 0.0" in text

    document = httpx.get(f"{stack.base_url}/openapi.json").json()
    assert document["openapi"] == "3.1.0"


def test_no_secret_in_the_receivers_log(stack: Stack, post: Post) -> None:
    add_basic_client(stack.settings.credentials_file)
    stack.settings = stack.settings.model_copy(update={"log_level": "DEBUG"})
    receiver = stack.start_receiver()
    body = SEEDS["TicketCreated"]
    wrong_password = "wrong-" + BASIC_PASSWORD
    assert post(body).status_code == 200
    assert post(body, Authorization=f"Bearer {stack.token}x").status_code == 401
    assert post(body, Authorization=basic_header(BASIC_USER, wrong_password)).status_code == 401
    assert post(body, Authorization=basic_header(BASIC_USER, BASIC_PASSWORD)).status_code == 200
    assert post(body, Host="api.other.example.com").status_code == 403
    assert post("{}").status_code == 422
    receiver.stop()
    log = receiver.log_file.read_text()
    assert "credentials loaded" in log  # the log is there, at DEBUG
    for secret in (
        stack.token,
        BASIC_PASSWORD,
        wrong_password,
        basic_header(BASIC_USER, BASIC_PASSWORD).split()[1],
        basic_header(BASIC_USER, wrong_password).split()[1],
    ):
        assert secret not in log
