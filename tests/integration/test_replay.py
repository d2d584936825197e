"""`ticketstream rejected replay` against a real broker and a real worker."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from schemas.records import TicketRecord
from tests.integration.conftest import Cluster, Stack
from tests.integration.kafka import read_topic, settings_env
from tests.integration.workload import TopicView, envelope_of, produce
from tests.seeds import seed_body
from ticketstream.replay import REPLAY_OF_HEADER

pytestmark = pytest.mark.integration


def _replay(stack: Stack, *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ticketstream.cli", "rejected", "replay", *args],
        env=settings_env(stack.settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_replay_after_a_fix(cluster: Cluster, stack: Stack) -> None:
    stack.start_worker()
    create = seed_body("TicketCreated")  # ticket 999 with plate ABC123
    wrong_move = {
        "eventType": "TicketMoved", "ticketId": "999",
        "fromLicenseNumber": "XYZ999", "toLicenseNumber": "ABC124",
    }  # fmt: skip
    other = {**seed_body("TicketCreated"), "ticketId": "1000"}
    moved = envelope_of(wrong_move)
    produce(
        stack.settings,
        [
            envelope_of(create),
            moved,
            envelope_of(other),
            envelope_of({"eventType": "TicketCanceled", "ticketId": "1000"}),
            envelope_of({**other, "eventType": "TicketUpdated"}),
        ],
    )
    rejected = read_topic(cluster.bootstrap, stack.settings.topic_rejected, 2, timeout=90)
    assert sorted(json.loads(m.value() or b"")["reason"] for m in rejected) == [
        "plate_mismatch",
        "ticket_canceled",
    ]

    # The sender corrects the plate; the move can now apply.
    produce(stack.settings, [envelope_of({**create, "licenseNumber": "XYZ999"})])

    dry = _replay(stack, "--reason", "plate_mismatch", "--dry-run")
    assert dry[0].startswith("would replay\tstockholm/easypark/999\treason=plate_mismatch")
    assert f"eventId={moved.eventId}" in dry[0]
    assert dry[-1] == "dry run: 1 of 1 selected would be replayed"
    events_before = read_topic(cluster.bootstrap, stack.settings.topic_events, 6, settle=1.0)
    assert len(events_before) == 6, "a dry run must publish nothing"

    done = _replay(stack, "--reason", "plate_mismatch")
    assert done[-1] == f"replayed 1 of 1 selected to {stack.settings.topic_events}"
    events = read_topic(cluster.bootstrap, stack.settings.topic_events, 7, settle=1.0)
    assert len(events) == 7
    [replayed] = [m for m in events if m.headers()]
    assert replayed.headers() == [(REPLAY_OF_HEADER, moved.eventId.encode())]
    again = json.loads(replayed.value() or b"")
    assert again["eventId"] != moved.eventId
    assert again["event"] == moved.model_dump(mode="json")["event"]

    view = TopicView(cluster.bootstrap, stack.settings.topic_normalized)
    try:
        view.wait_for(
            lambda last: (
                b"stockholm/easypark/999" in last
                and TicketRecord.model_validate_json(last[b"stockholm/easypark/999"]).licenseNumber
                == "ABC124"
            ),
            60,
            "the replayed move applied",
        )
        record = TicketRecord.model_validate_json(view.last[b"stockholm/easypark/999"])
    finally:
        view.close()
    assert record.previousLicenseNumbers == ["ABC123", "XYZ999"]
    assert record.lastEventId == again["eventId"]

    everything = _replay(stack, "--all", "--dry-run")
    assert everything[-1] == "dry run: 2 of 2 selected would be replayed"
