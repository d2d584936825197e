"""A broker outage under load, on a broker of this test's own: 503 (never 200) while it is down,
200 again once it is back without restarting the receiver, and every 200 in the topic once.

The broker is a dedicated LocalKafka (not the session's), stopped and restarted on the same
data directory and ports, so this test works whatever cluster the rest of the session uses.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from deploy.localkafka import LocalKafka, free_port
from tests.integration.kafka import read_topic, settings_env, unique_settings
from tests.integration.receiver_helpers import WEBHOOK
from tests.seeds import seed_body
from ticketstream.processes import ManagedProcess
from ticketstream.topics import create_topics

pytestmark = pytest.mark.integration

PRODUCE_TIMEOUT = 3.0
# What a client may wait beyond the produce timeout: HTTP and scheduling on a busy 2-core box.
ANSWER_SLACK = 1.0
SENDERS = 4


@dataclass(frozen=True)
class Outcome:
    """One request: its ticket id, status, and when it started and ended (monotonic)."""

    ticket_id: str
    status: int
    started: float
    ended: float


class Load:
    """Threads that POST unique tickets back to back until stopped."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(SENDERS)
        ]
        self.run_id = uuid.uuid4().hex[:8]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=PRODUCE_TIMEOUT + 30)

    def _run(self, sender: int) -> None:
        body = seed_body("TicketCreated")
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        with httpx.Client(timeout=PRODUCE_TIMEOUT + 30) as client:
            n = 0
            while not self.stopping.is_set():
                n += 1
                ticket_id = f"{self.run_id}-{sender}-{n}"
                started = time.monotonic()
                try:
                    status = client.post(
                        self.url,
                        content=json.dumps({**body, "ticketId": ticket_id}),
                        headers=headers,
                    ).status_code
                except httpx.TransportError:
                    status = 0
                with self.lock:
                    self.outcomes.append(Outcome(ticket_id, status, started, time.monotonic()))

    def snapshot(self) -> list[Outcome]:
        with self.lock:
            return list(self.outcomes)

    def wait_for(self, status: int, after: float, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(o.status == status and o.started >= after for o in self.snapshot()):
                return
            time.sleep(0.1)
        raise AssertionError(f"no {status} for a request started after t={after:.1f} in {timeout}s")


def ready(base: str) -> int:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code
    except httpx.TransportError:
        return 0


@pytest.mark.timeout(300)
def test_broker_outage_gives_503_never_200_and_recovers_without_restart(tmp_path: Path) -> None:
    broker = LocalKafka(data_dir=tmp_path / "kafka")
    receiver: ManagedProcess | None = None
    load: Load | None = None
    try:
        broker.start()
        settings, token = unique_settings(
            broker.bootstrap_servers,
            tmp_path,
            http_port=free_port(),
            produce_timeout_seconds=PRODUCE_TIMEOUT,
            retry_after_seconds=2,
        )
        create_topics(settings)
        receiver = ManagedProcess(
            "receiver", ["receiver"], settings_env(settings), tmp_path / "receiver.log"
        ).start()
        base = f"http://127.0.0.1:{settings.http_port}"
        deadline = time.monotonic() + 30
        while ready(base) != 200:
            assert receiver.poll() is None, receiver.log_tail()
            assert time.monotonic() < deadline, f"receiver never ready:\n{receiver.log_tail()}"
            time.sleep(0.2)

        load = Load(base + WEBHOOK, token)
        load.start()
        load.wait_for(200, after=0, timeout=30)
        time.sleep(2)

        stopping = time.monotonic()
        broker.stop()
        down = time.monotonic()
        time.sleep(3 * PRODUCE_TIMEOUT)
        assert ready(base) == 503
        restarting = time.monotonic()
        broker.start()
        back = time.monotonic()
        load.wait_for(200, after=back, timeout=60)
        recovered = time.monotonic()
        time.sleep(3)
        load.stop()
        assert ready(base) == 200

        outcomes = load.snapshot()
        stored = Counter(
            json.loads(m.value() or b"")["event"]["ticketId"]
            for m in read_topic(
                broker.bootstrap_servers,
                settings.topic_events,
                sum(o.status == 200 for o in outcomes),
                timeout=60,
                settle=3.0,
            )
        )
    finally:
        if load is not None:
            load.stop()
        if receiver is not None:
            receiver.stop(grace=15)
        broker.cleanup()

    statuses = Counter(o.status for o in outcomes)
    ok = [o for o in outcomes if o.status == 200]
    refused = [o for o in outcomes if o.status == 503]
    during = [o for o in outcomes if o.started >= down and o.ended <= restarting]
    refused_stored = Counter(stored[o.ticket_id] for o in refused)
    report = (
        f"broker stop took {down - stopping:.1f}s, down {restarting - down:.1f}s, "
        f"restart took {back - restarting:.1f}s, first 200 after restart in "
        f"{recovered - back:.1f}s; statuses {dict(statuses)}; "
        f"requests wholly within the outage: {len(during)}; "
        f"longest 503 {max((o.ended - o.started for o in refused), default=0):.2f}s; "
        f"503s found in the topic 0/1/2+ times: {dict(sorted(refused_stored.items()))}"
    )
    print(report)

    assert set(statuses) <= {200, 503}, report
    assert during, report
    assert all(o.status == 503 for o in during), report
    for o in refused:
        assert o.ended - o.started <= PRODUCE_TIMEOUT + ANSWER_SLACK, (o, report)
    assert any(o.status == 200 and o.started >= back for o in outcomes), report
    # Every 200 is in the topic exactly once; nothing is there that was not sent.
    assert all(stored[o.ticket_id] == 1 for o in ok), report
    sent = {o.ticket_id for o in outcomes}
    assert set(stored) <= sent, report
