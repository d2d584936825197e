"""The worker's Prometheus metrics, scraped from a real worker process."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from deploy.localkafka import free_port
from tests.integration.conftest import Cluster, Stack
from tests.integration.workload import envelope_of, produce
from tests.seeds import seed_body

pytestmark = pytest.mark.integration


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url, timeout=5)
    if response.status_code != 200:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_worker_counts_outcomes_rejections_lag_and_table(cluster: Cluster, stack: Stack) -> None:
    port = free_port()
    worker = stack.start_worker(worker_web_port=port, log_format="json")
    created = envelope_of(seed_body("TicketCreated"))
    wrong_move = envelope_of(
        {"eventType": "TicketMoved", "ticketId": "999",
         "fromLicenseNumber": "XYZ999", "toLicenseNumber": "ABC124"}
    )  # fmt: skip
    same_again = envelope_of({**seed_body("TicketCreated"), "eventType": "CreateOrUpdate"})
    produce(stack.settings, [created, created, wrong_move, same_again])
    producer = Producer(stack.settings.producer_config())
    producer.produce(stack.settings.topic_events, key=b"stockholm/easypark/1", value=b"{")
    assert producer.flush(10) == 0

    def events(event_type: str, outcome: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        labels = (("event_type", event_type), ("outcome", outcome))
        return "ticketstream_worker_events_total", labels

    expected = {
        events("TicketCreated", "applied"): 1.0,
        events("TicketCreated", "duplicate"): 1.0,
        events("TicketMoved", "rejected"): 1.0,
        events("CreateOrUpdate", "unchanged"): 1.0,
        events("", "rejected"): 1.0,
        ("ticketstream_worker_rejections_total", (("reason", "plate_mismatch"),)): 1.0,
        ("ticketstream_worker_rejections_total", (("reason", "invalid_event"),)): 1.0,
    }
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 60
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    while time.monotonic() < deadline:
        try:
            samples = _samples(url)
        except httpx.TransportError:
            samples = {}
        if all(samples.get(name) == value for name, value in expected.items()):
            break
        time.sleep(0.5)
    found = {name: samples.get(name) for name in expected}
    assert found == expected
    assert samples[("ticketstream_worker_process_seconds_count", ())] == 5.0
    assert samples[("ticketstream_worker_event_age_seconds_count", ())] == 4.0
    assert samples[("ticketstream_worker_table_keys", ())] >= 1.0
    lags = {labels: v for (name, labels), v in samples.items() if name.endswith("consumer_lag")}
    assert lags, "no consumer lag reported"
    assert all(value == 0.0 for value in lags.values()), lags
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok"

    lines = [line for line in worker.log_file.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is a JSON object
    [rejected] = [e for e in entries if e.get("reason") == "plate_mismatch"]
    assert rejected["message"] == "rejected"
    assert (rejected["tenant"], rejected["source"], rejected["ticketId"]) == (
        "stockholm",
        "easypark",
        "999",
    )
    assert rejected["eventId"] == wrong_move.eventId
