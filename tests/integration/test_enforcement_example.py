"""examples/enforcement_lookup.py against a real receiver, worker and broker."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Cluster, Stack
from tests.integration.kafka import read_topic
from tests.seeds import seed_bodies

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parents[2] / "examples" / "enforcement_lookup.py"
DURING = "2025-03-11T05:00:00Z"


def lookup(stack: Stack, plate: str, zone: int) -> tuple[int, list[str]]:
    """Run the example as a user would; its exit code and printed lines."""
    done = subprocess.run(
        [
            sys.executable, str(SCRIPT),
            "--bootstrap", stack.settings.kafka_bootstrap_servers,
            "--topic", stack.settings.topic_normalized,
            "--plate", plate, "--zone", str(zone), "--at", DURING, "--timeout", "20",
        ],
        capture_output=True, text=True, timeout=40, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, done.stdout.splitlines()


def test_moved_then_canceled_ticket(
    cluster: Cluster, stack: Stack, post: Callable[..., httpx.Response]
) -> None:
    stack.start_worker()
    stack.start_receiver()
    bodies = seed_bodies()
    for name in ("TicketCreated", "TicketMoved", "model-example-TicketMoved"):
        assert post(bodies[name]).status_code == 200, name
    read_topic(cluster.bootstrap, stack.settings.topic_normalized, 3, timeout=60)

    code, lines = lookup(stack, "abc 124", 1234)
    assert code == 0, lines
    assert lines[0] == f"VALID: 1 ticket(s) for ABC124 in zone 1234 at {DURING}"
    ticket = json.loads(lines[1])
    assert (ticket["ticketId"], ticket["version"]) == ("999", 2)
    assert ticket["previousLicenseNumbers"] == ["ABC123"]
    assert lookup(stack, "ABC123", 1234) == (
        1,
        [f"NOT VALID: no ticket for ABC123 in zone 1234 at {DURING}"],
    )
    assert lookup(stack, "EGY918", 1211)[0] == 0

    assert post(bodies["TicketCanceled"]).status_code == 200
    read_topic(cluster.bootstrap, stack.settings.topic_normalized, 4, timeout=60)
    assert lookup(stack, "ABC124", 1234)[0] == 1
