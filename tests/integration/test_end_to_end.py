"""One webhook through real processes: uvicorn receiver, Kafka, Faust worker, normalized topic."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.conftest import Cluster, Stack
from tests.integration.kafka import read_topic
from tests.seeds import seed_bodies

pytestmark = pytest.mark.integration


def test_seed_create_example_reaches_the_normalized_topic(
    cluster: Cluster, stack: Stack, post: Callable[..., httpx.Response]
) -> None:
    stack.start_worker()
    stack.start_receiver()
    body = seed_bodies()["TicketCreated"]

    before = datetime.now(UTC)
    response = post(body)
    after = datetime.now(UTC)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == b"[]"

    [event] = read_topic(cluster.bootstrap, stack.settings.topic_events, 1, settle=1.0)
    assert event.key() == b"stockholm/easypark/999"
    envelope = json.loads(event.value() or b"")
    assert set(envelope) == {"eventId", "receivedAt", "tenant", "source", "event", "raw"}
    assert envelope["tenant"] == "stockholm"
    assert envelope["source"] == "easypark"
    assert envelope["raw"] == body
    received = datetime.fromisoformat(envelope["receivedAt"])
    assert before - timedelta(seconds=1) <= received <= after + timedelta(seconds=1)
    assert envelope["event"] == {
        "eventType": "TicketCreated",
        "ticketId": "999",
        "zoneCode": 1234,
        "parkingLotId": 2345,
        "startDate": "2025-03-11T04:50:17Z",
        "endDate": "2025-03-11T14:24:17Z",
        "licenseNumber": "ABC123",
        "ticketCost": {"amountInclVat": 1000, "vatRate": 25, "currencyCode": "SEK"},
    }

    [normalized] = read_topic(
        cluster.bootstrap, stack.settings.topic_normalized, 1, timeout=90, settle=1.0
    )
    assert normalized.key() == b"stockholm/easypark/999"
    record = json.loads(normalized.value() or b"")
    updated = received.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert record == {
        "schemaVersion": 1,
        "tenant": "stockholm",
        "source": "easypark",
        "ticketId": "999",
        "status": "active",
        "zoneCode": 1234,
        "parkingLotId": 2345,
        "licenseNumber": "ABC123",
        "previousLicenseNumbers": [],
        "validFrom": "2025-03-11T04:50:17Z",
        "validUntil": "2025-03-11T14:24:17Z",
        "cost": {
            "amountInclVat": 1000,
            "vatRate": 25,
            "vatAmount": 200,
            "amountExclVat": 800,
            "currencyCode": "SEK",
        },
        "version": 1,
        "lastEventType": "TicketCreated",
        "lastEventId": envelope["eventId"],
        "updatedAt": updated,
    }
    assert read_topic(cluster.bootstrap, stack.settings.topic_rejected, 0, settle=0.5) == []
