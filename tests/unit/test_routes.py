"""receiver.routes through the real app, with no Kafka: every answer that needs no broker.

The app runs its real lifespan against an address nobody listens on; the 200 path and the
broker-backed checks are in tests/integration/test_receiver_*.py.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from deploy.localkafka import free_port
from receiver import credentials
from receiver.credentials import hash_password, token_digest
from receiver.openapi import WEBHOOK_PATH, openapi_document
from receiver.problems import WWW_AUTHENTICATE
from tests.seeds import seed_bodies
from ticketstream.settings import Settings

TOKEN = "unit-token-" + "a" * 32
LIMITED_TOKEN = "unit-token-" + "b" * 32
PASSWORD = "correct horse"
CREATE = seed_bodies()["TicketCreated"]
CANCEL = b'{"eventType": "TicketCanceled", "ticketId": "1", '


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    path = tmp_path_factory.mktemp("routes") / "credentials.toml"
    path.write_text(
        f"""
[[client]]
tenant = "stockholm"
source = "easypark"
token_sha256 = "{token_digest(TOKEN)}"

[[client]]
tenant = "stockholm"
source = "parkster"
username = "parkster"
password_hash = "{hash_password(PASSWORD, n=16, r=1, p=1)}"

[[client]]
tenant = "malmo"
source = "limited"
token_sha256 = "{token_digest(LIMITED_TOKEN)}"
rate_limit = 0.001
burst = 1
"""
    )
    return Settings(
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        credentials_file=path,
        produce_timeout_seconds=1.0,
        max_body_bytes=4096,
        auth_kdf_threads=1,
        auth_kdf_queue=0,
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    from receiver.app import create_app

    with TestClient(create_app(settings), base_url="http://localhost") as test_client:
        yield test_client


def post(
    client: TestClient,
    body: bytes | str = CREATE,
    *,
    auth: str | None = f"Bearer {TOKEN}",
    content_type: str | None = "application/json",
    **headers: str,
) -> Any:
    sent = {**headers}
    if auth is not None:
        sent["Authorization"] = auth
    if content_type is not None:
        sent["Content-Type"] = content_type
    return client.post(WEBHOOK_PATH, content=body, headers=sent)


def assert_problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:ticketstream:problem:{kind}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


# --- 401, 403, 429 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token",
        "bearer wrong-token",
        f"Token {TOKEN}",
        TOKEN,
        "Basic !!!",
        basic("parkster", "wrong"),
        basic("nobody", PASSWORD),
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer " + "x" * 5000,
    ],
)
def test_bad_credentials_are_401_naming_both_schemes(client: TestClient, auth: str | None) -> None:
    response = post(client, auth=auth)
    assert_problem(response, 401, "unauthorized")
    challenge = response.headers["www-authenticate"]
    assert challenge == WWW_AUTHENTICATE
    assert "Bearer" in challenge
    assert "Basic" in challenge


@pytest.mark.parametrize(
    "auth", [f"Bearer {TOKEN}", f"BEARER {TOKEN}", basic("parkster", PASSWORD)]
)
def test_both_schemes_any_case_get_past_auth(client: TestClient, auth: str) -> None:
    # text/plain stops the request right after authentication: no broker needed.
    assert_problem(
        post(client, auth=auth, content_type="text/plain"), 415, "unsupported-media-type"
    )


@pytest.mark.parametrize("host", ["api.malmo.example.com", "API.MALMO.example.com:443"])
def test_host_of_another_tenant_is_403(client: TestClient, host: str) -> None:
    assert_problem(post(client, host=host), 403, "forbidden")


@pytest.mark.parametrize(
    "host", ["api.stockholm.example.com", "localhost:8080", "receiver.internal", "10.0.0.1"]
)
def test_host_of_own_tenant_or_no_tenant_is_allowed(client: TestClient, host: str) -> None:
    response = post(client, host=host, content_type=None)
    assert_problem(response, 415, "unsupported-media-type")


def test_rate_limited_credential_gets_429_with_retry_after(client: TestClient) -> None:
    auth = f"Bearer {LIMITED_TOKEN}"
    assert post(client, auth=auth, content_type="text/plain").status_code == 415
    response = post(client, auth=auth, content_type="text/plain")
    assert_problem(response, 429, "rate-limited")
    assert int(response.headers["retry-after"]) >= 1


def test_flood_of_password_checks_is_bounded_with_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = credentials.verify_password

    def slow(password: str | bytes, encoded: str) -> bool:
        release.wait(10)
        return real(password, encoded)

    monkeypatch.setattr(credentials, "verify_password", slow)
    first: list[Any] = []
    waiting = threading.Thread(
        target=lambda: first.append(post(client, auth=basic("parkster", "guess-1")))
    )
    waiting.start()
    try:
        time.sleep(0.3)  # the one KDF thread is now busy, and the queue holds nothing
        response = post(client, auth=basic("parkster", "guess-2"))
        assert_problem(response, 503, "busy")
        assert response.headers["retry-after"] == "5"
    finally:
        release.set()
        waiting.join(10)
    assert first[0].status_code == 401


# --- 415, 413, 400 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "json"],
)
def test_non_json_content_type_is_415(client: TestClient, content_type: str | None) -> None:
    assert_problem(post(client, content_type=content_type), 415, "unsupported-media-type")


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/vnd.ticket+json"],
)
def test_json_content_types_are_accepted(client: TestClient, content_type: str) -> None:
    # An invalid body then shows the media type was accepted.
    assert_problem(post(client, b"[", content_type=content_type), 400, "invalid-json")


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    body = '{"eventType": "TicketCanceled", "ticketId": "1", "pad": "' + "x" * 4096 + '"}'
    assert_problem(post(client, body), 413, "body-too-large")


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b"x" * 100

    response = client.post(
        WEBHOOK_PATH,
        content=chunks(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert_problem(response, 413, "body-too-large")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"", "invalid-json"),
        (b"{", "invalid-json"),
        (b"{'a': 1}", "invalid-json"),
        (b'{"a": NaN}', "invalid-json"),
        (b'{"a": 1e400}', "invalid-json"),
        (b'{"ticketId": "\xff"}', "invalid-json"),
        (b'{"ticketId": "\\ud800"}', "invalid-json"),
        (b'\xef\xbb\xbf{"eventType": "TicketCanceled", "ticketId": "1"}', "invalid-json"),
        ('{"eventType": "TicketCanceled", "ticketId": "1"}'.encode("utf-16"), "invalid-json"),
        (b"[" * 1100 + b"]" * 1100, "invalid-json"),
        (b"[]", "not-an-object"),
        (b'"TicketCreated"', "not-an-object"),
        (b"null", "not-an-object"),
        (b"123", "not-an-object"),
        (b'{"eventType": "TicketCanceled", "ticketId": "1", "ticketId": "2"}', "duplicate-key"),
        (CANCEL + b'"x": {"a": 1, "a": 1}}', "duplicate-key"),
        (CANCEL + b'"x": ' + b"[" * 1000 + b"]" * 1000 + b"}", "too-deep"),
    ],
)  # fmt: skip
def test_bodies_that_are_not_one_json_object_are_400(
    client: TestClient, body: bytes, kind: str
) -> None:
    assert_problem(post(client, body), 400, kind)


def test_400_does_not_echo_the_body(client: TestClient) -> None:
    secret = "s3cr3t-in-body"
    response = post(client, '{"note": "' + secret + '", oops}')
    assert_problem(response, 400, "invalid-json")
    assert secret not in response.text


# --- 422 ------------------------------------------------------------------------------------


def test_rule_breaking_event_is_422_naming_every_field(client: TestClient) -> None:
    body = json.loads(CREATE)
    body["licenseNumber"] = "\u0410BC123"
    body["ticketCost"]["amountInclVat"] = -5
    problem = assert_problem(post(client, json.dumps(body)), 422, "validation")
    assert problem["errors"] == [
        {
            "field": "licenseNumber",
            "reason": "may hold only the letters A-Z and ÅÄÖÆØÜ, digits, spaces and hyphens",
        },
        {"field": "ticketCost.amountInclVat", "reason": "must not be negative"},
    ]
    assert "licenseNumber: may hold only" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"ticketId": "1"}', "eventType"),
        ('{"eventType": "TicketDeleted", "ticketId": "1"}', "eventType"),
        ('{"eventType": "TicketCanceled"}', "ticketId"),
        ('{"eventType": "TicketCanceled", "ticketId": 123456789012345678901234567890}', "ticketId"),
        ('{"eventType": "TicketCreated", "ticketId": "1", "zoneCode": 1e2}', "zoneCode"),
    ],
)
def test_422_names_the_field(client: TestClient, body: str, field: str) -> None:
    problem = assert_problem(post(client, body), 422, "validation")
    assert problem["errors"][0]["field"] == field


# --- 503 without Kafka, operations endpoints ------------------------------------------------


def test_valid_event_without_kafka_is_503_within_the_produce_timeout(client: TestClient) -> None:
    started = time.monotonic()
    response = post(client)
    elapsed = time.monotonic() - started
    assert_problem(response, 503, "kafka-unavailable")
    assert response.headers["retry-after"] == "5"
    assert elapsed < 1.0 + 0.5  # produce_timeout_seconds plus the test's own overhead


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


def test_openapi_document_is_served(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == openapi_document()


def test_only_post_on_the_webhook(client: TestClient) -> None:
    assert client.get(WEBHOOK_PATH).status_code == 405


def test_metrics_count_requests_by_tenant_source_event_type_and_status(
    client: TestClient,
) -> None:
    post(client, auth="Bearer nope")
    post(client, host="api.malmo.example.com")
    post(client, '{"eventType": "TicketCanceled"}')
    text = client.get("/metrics").text
    assert (
        'ticketstream_webhook_requests_total{event_type="",source="",status="401",tenant=""}'
        in text
    )
    assert (
        'ticketstream_webhook_requests_total{event_type="",source="easypark",status="403",'
        'tenant="stockholm"}' in text
    )
    assert (
        'ticketstream_webhook_requests_total{event_type="",source="easypark",status="422",'
        'tenant="stockholm"}' in text
    )
    assert "ticketstream_webhook_in_flight 0.0" in text
    assert "ticketstream_producer_queue_depth" in text
    assert "ticketstream_produce_latency_seconds_bucket" in text
