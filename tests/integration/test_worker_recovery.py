"""Real worker processes on a real broker: seed examples, SIGKILL and restart, two workers."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from tests.integration.conftest import Cluster, Stack
from tests.integration.kafka import read_topic
from tests.integration.workload import (
    TopicView,
    expected_records,
    expected_states,
    interleave,
    mismatches,
    produce,
    records_match,
    states_match,
    workload,
)
from tests.seeds import seed_bodies

pytestmark = pytest.mark.integration


def test_seed_examples_in_order(
    cluster: Cluster, stack: Stack, post: Callable[..., httpx.Response]
) -> None:
    stack.start_worker()
    stack.start_receiver()
    bodies = seed_bodies()
    order = [
        "TicketCreated",
        "TicketUpdated",
        "TicketMoved",
        "TicketCanceled",
        "CreateOrUpdate",
        "model-example-TicketMoved",
    ]
    for name in order:
        response = post(bodies[name])
        assert response.status_code == 200, (name, response.text)

    records = [
        json.loads(m.value() or b"")
        for m in read_topic(cluster.bootstrap, stack.settings.topic_normalized, 5, timeout=90)
    ]
    by_ticket = {
        ticket: [r for r in records if r["ticketId"] == ticket] for ticket in ("999", "71963")
    }
    created, updated, moved, canceled = by_ticket["999"]
    assert [r["version"] for r in by_ticket["999"]] == [1, 2, 3, 4]
    assert (created["status"], created["licenseNumber"]) == ("active", "ABC123")
    assert (updated["validFrom"], updated["validUntil"]) == (
        "2025-03-10T20:49:17Z",
        "2025-03-11T11:21:17Z",
    )
    assert updated["lastEventType"] == "TicketUpdated"
    assert (moved["licenseNumber"], moved["previousLicenseNumbers"]) == ("ABC124", ["ABC123"])
    assert moved["lastEventType"] == "TicketMoved"
    assert canceled["status"] == "canceled"
    assert canceled["licenseNumber"] == "ABC124"

    [full_form] = by_ticket["71963"]
    assert full_form["version"] == 1
    assert full_form["status"] == "active"
    assert full_form["licenseNumber"] == "EGY918"
    assert full_form["zoneCode"] == 1211
    assert full_form["validFrom"] == "2025-03-11T04:37:16Z"
    assert full_form["validUntil"] == "2025-03-11T15:45:16Z"
    assert full_form["cost"] == {
        "amountInclVat": 3052,
        "vatRate": 25,
        "vatAmount": 610,
        "amountExclVat": 2442,
        "currencyCode": "SEK",
    }
    assert full_form["lastEventType"] == "TicketMoved"

    [rejected] = read_topic(cluster.bootstrap, stack.settings.topic_rejected, 1, settle=1.0)
    rejection = json.loads(rejected.value() or b"")
    assert rejected.key() == b"stockholm/easypark/999"
    assert rejection["reason"] == "ticket_canceled"
    assert rejection["event"]["event"]["eventType"] == "CreateOrUpdate"
    assert rejection["event"]["raw"] == bodies["CreateOrUpdate"]


def test_undecodable_message_is_rejected_not_fatal(cluster: Cluster, stack: Stack) -> None:
    from confluent_kafka import Producer

    stack.start_worker()
    producer = Producer(stack.settings.producer_config())
    producer.produce(stack.settings.topic_events, key=b"stockholm/easypark/1", value=b"not json")
    producer.produce(stack.settings.topic_events, key=b"stockholm/easypark/1", value=b'{"a": 1}')
    assert producer.flush(10) == 0
    streams = workload(1, 3, seed=7)
    produce(stack.settings, streams[0])

    rejected = read_topic(cluster.bootstrap, stack.settings.topic_rejected, 2, timeout=90)
    reasons = [json.loads(m.value() or b"") for m in rejected]
    assert [r["reason"] for r in reasons] == ["invalid_event", "invalid_event"]
    assert reasons[0]["event"] == "not json"
    assert reasons[1]["event"] == {"a": 1}
    view = TopicView(cluster.bootstrap, stack.settings.topic_normalized)
    try:
        view.wait_for(records_match(expected_records(streams[0])), 60, "the ticket's record")
    finally:
        view.close()


@pytest.mark.parametrize("store", ["kept", "deleted"])
def test_sigkill_mid_stream_then_restart_matches_an_uninterrupted_run(
    cluster: Cluster, stack: Stack, store: str
) -> None:
    envelopes = interleave(workload(400, 12, seed=11), seed=12)
    states = expected_states(envelopes)
    records = expected_records(envelopes)
    produce(stack.settings, envelopes)
    changelog = TopicView(cluster.bootstrap, stack.settings.changelog_topic())
    normalized = TopicView(cluster.bootstrap, stack.settings.topic_normalized)
    try:
        worker = stack.start_worker("worker-1")
        # Kill it once it is well into the stream, but far from done.
        normalized.wait_for(lambda last: normalized.count >= 300, 90, "300 records")
        worker.kill()
        applied_before_kill = normalized.count
        assert applied_before_kill < len(envelopes), "the worker finished before it was killed"
        print(f"killed after {applied_before_kill} records of {len(envelopes)} envelopes")
        if store == "deleted":
            shutil.rmtree(stack.settings.worker_data_dir)
        stack.start_worker("worker-2")
        changelog.wait_for(states_match(states), 180, "the uninterrupted run's states")
        normalized.wait_for(records_match(records), 60, "the uninterrupted run's records")
        assert not mismatches(states, changelog.last)
        assert set(normalized.last) == set(records)
    finally:
        changelog.close()
        normalized.close()


def _members(settings_group: str, bootstrap: str, topic: str) -> list[set[int]]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [description] = admin.describe_consumer_groups([settings_group]).values()
    group = description.result(10)
    return [
        {tp.partition for tp in member.assignment.topic_partitions if tp.topic == topic}
        for member in group.members
    ]


def _wait_members(stack: Stack, bootstrap: str, want: int, timeout: float = 90.0) -> None:
    topic = stack.settings.topic_events
    deadline = time.monotonic() + timeout
    members: list[set[int]] = []
    while time.monotonic() < deadline:
        members = _members(stack.settings.worker_app_id, bootstrap, topic)
        owned = [m for m in members if m]
        covered = set().union(*owned) if owned else set()
        if len(owned) == want and covered == set(range(stack.settings.partitions)):
            return
        time.sleep(0.5)
    raise AssertionError(f"wanted {want} members sharing all partitions, saw {members}")


def test_two_workers_share_partitions_and_hand_over_state(cluster: Cluster, stack: Stack) -> None:
    streams = workload(300, 12, seed=21)
    phases = [interleave([s[i * 4 : (i + 1) * 4] for s in streams], seed=22 + i) for i in range(3)]
    changelog = TopicView(cluster.bootstrap, stack.settings.changelog_topic())
    normalized = TopicView(cluster.bootstrap, stack.settings.topic_normalized)
    try:
        first = stack.start_worker("worker-a")
        produce(stack.settings, phases[0])
        changelog.wait_for(states_match(expected_states(phases[0])), 120, "phase 1 states")

        stack.start_worker("worker-b", worker_data_dir=stack.workdir / "worker-b")
        _wait_members(stack, cluster.bootstrap, 2)
        produce(stack.settings, phases[1])
        so_far = phases[0] + phases[1]
        changelog.wait_for(states_match(expected_states(so_far)), 120, "phase 2 states")

        assert first.stop(grace=30) is not None
        _wait_members(stack, cluster.bootstrap, 1)
        produce(stack.settings, phases[2])
        everything = so_far + phases[2]
        changelog.wait_for(states_match(expected_states(everything)), 120, "final states")
        normalized.wait_for(records_match(expected_records(everything)), 60, "final records")
    finally:
        changelog.close()
        normalized.close()
