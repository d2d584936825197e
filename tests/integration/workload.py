"""Streams of envelopes for worker tests, their expected outcome, and reading results back."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Producer

from schemas.envelope import Envelope, envelope_bytes
from schemas.events import parse_event
from schemas.records import TicketRecord
from streams.state import TicketState, apply, current_record, state_from_bytes
from tests.integration.kafka import fresh_consumer
from ticketstream.settings import Settings

_LETTERS = "ABCDEFGHJKLMNPRSTUWXYZ"
_BASE = datetime(2025, 3, 11, 4, 0, tzinfo=UTC)


def _plate(rng: random.Random) -> str:
    return "".join(rng.choices(_LETTERS, k=3)) + f"{rng.randrange(1000):03d}"


def _ticket_bodies(rng: random.Random, ticket_id: str, count: int) -> list[dict[str, Any]]:
    """One ticket's webhooks: a create, then updates, stops, moves (some wrong), maybe a cancel."""
    plate = _plate(rng)
    start = _BASE + timedelta(minutes=rng.randrange(600))
    zone = rng.randrange(1000, 1100)

    def ticket(event_type: str, minutes: int, amount: int | str) -> dict[str, Any]:
        return {
            "eventType": event_type,
            "ticketId": ticket_id,
            "zoneCode": str(zone),
            "startDate": start.isoformat(),
            "endDate": (start + timedelta(minutes=minutes)).isoformat(),
            "licenseNumber": plate,
            "ticketCost": {"amountInclVat": amount, "vatRate": 25, "currencyCode": "SEK"},
        }

    bodies: list[dict[str, Any]] = []
    if rng.random() < 0.1:  # a move that arrives before its create is held
        new_plate = _plate(rng)
        bodies.append(
            {"eventType": "TicketMoved", "ticketId": ticket_id,
             "fromLicenseNumber": plate, "toLicenseNumber": new_plate}
        )  # fmt: skip
        bodies.append(ticket("TicketCreated", 60, 1000))
        plate = new_plate
    else:
        bodies.append(ticket("TicketCreated", 60, 1000))
    while len(bodies) < count:
        roll = rng.random()
        minutes = rng.randrange(30, 600)
        if roll < 0.3:
            bodies.append(ticket("TicketUpdated", minutes, minutes * 10))
        elif roll < 0.45:
            bodies.append(ticket("CreateOrUpdate", minutes, f"{minutes // 10},{minutes % 100:02d}"))
        elif roll < 0.6:
            new_plate = _plate(rng)
            wrong = rng.random() < 0.2
            bodies.append(
                {"eventType": "TicketMoved", "ticketId": ticket_id,
                 "fromLicenseNumber": _plate(rng) if wrong else plate,
                 "toLicenseNumber": new_plate}
            )  # fmt: skip
            if not wrong:
                plate = new_plate
        elif roll < 0.7:
            bodies.append(ticket("TicketStopped", minutes, minutes * 10))
        elif roll < 0.8 and bodies:
            bodies.append(dict(bodies[-1]))  # the sender delivers a webhook twice
        elif roll < 0.83:
            bodies.append({"eventType": "TicketCanceled", "ticketId": ticket_id})
        else:
            bodies.append(ticket("TicketUpdated", minutes, minutes * 7))
    return bodies


def workload(
    tickets: int, per_ticket: int, *, seed: int, tenant: str = "stockholm", source: str = "easypark"
) -> list[list[Envelope]]:
    """Per ticket, its envelopes in order (ticketIds unique to this call)."""
    rng = random.Random(seed)
    prefix = uuid.uuid4().hex[:6]
    received = datetime.now(UTC)
    streams = []
    for number in range(tickets):
        envelopes = []
        for body in _ticket_bodies(rng, f"{prefix}-{number}", per_ticket):
            received += timedelta(milliseconds=1)
            envelopes.append(
                Envelope(
                    eventId=str(uuid.uuid4()),
                    receivedAt=received,
                    tenant=tenant,
                    source=source,
                    event=parse_event(body),
                    raw=json.dumps(body),
                )
            )
        streams.append(envelopes)
    return streams


def envelope_of(body: Mapping[str, Any], tenant: str = "stockholm") -> Envelope:
    """One webhook body wrapped as the receiver would (source easypark), received now."""
    return Envelope(
        eventId=str(uuid.uuid4()),
        receivedAt=datetime.now(UTC),
        tenant=tenant,
        source="easypark",
        event=parse_event(body),
        raw=json.dumps(dict(body)),
    )


def interleave(streams: list[list[Envelope]], *, seed: int) -> list[Envelope]:
    """All envelopes in one random order that keeps each ticket's own order."""
    rng = random.Random(seed)
    cursors = [0] * len(streams)
    pending = [i for i, stream in enumerate(streams) if stream]
    result = []
    while pending:
        pick = rng.choice(pending)
        result.append(streams[pick][cursors[pick]])
        cursors[pick] += 1
        if cursors[pick] == len(streams[pick]):
            pending.remove(pick)
    return result


def expected_states(envelopes: list[Envelope]) -> dict[bytes, TicketState]:
    """What one uninterrupted run reaches: apply folded over each ticket's envelopes."""
    states: dict[bytes, TicketState] = {}
    for envelope in envelopes:
        key = envelope.key.encode()
        states[key], _ = apply(states.get(key), envelope)
    return states


def expected_records(envelopes: list[Envelope]) -> dict[bytes, TicketRecord]:
    """The last record per key that the uninterrupted run emits."""
    records = {}
    for key, state in expected_states(envelopes).items():
        tenant, source, ticket_id = key.decode().split("/", 2)
        record = current_record(state, tenant=tenant, source=source, ticket_id=ticket_id)
        if record is not None:
            records[key] = record
    return records


def produce(settings: Settings, envelopes: list[Envelope]) -> None:
    """Publish envelopes to the events topic as the receiver does (idempotent, acks=all)."""
    producer = Producer({**settings.producer_config(), "linger.ms": 20})
    for envelope in envelopes:
        while True:
            try:
                producer.produce(
                    settings.topic_events, key=envelope.key.encode(), value=envelope_bytes(envelope)
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0, "not every envelope was acknowledged"


class TopicView:
    """The last value per key of a topic, kept current by polling from the beginning."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.last: dict[bytes, bytes] = {}
        self.count = 0
        self._consumer = fresh_consumer(bootstrap, topic)

    def poll(self, seconds: float) -> None:
        """Read what arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in self._consumer.consume(1000, timeout=0.2):
                if message.error() or message.key() is None:
                    continue
                self.count += 1
                self.last[message.key() or b""] = message.value() or b""

    def wait_for(
        self, done: Callable[[dict[bytes, bytes]], bool], timeout: float, what: str
    ) -> None:
        """Poll until `done(last)` holds, or fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done(self.last):
            assert time.monotonic() < deadline, f"{self.topic}: {what} not reached in {timeout}s"
            self.poll(0.5)

    def close(self) -> None:
        """Leave the consumer group."""
        self._consumer.close()


def states_match(expected: dict[bytes, TicketState]) -> Callable[[dict[bytes, bytes]], bool]:
    """Predicate for a changelog view: every key's latest state equals the expected one."""

    def done(last: dict[bytes, bytes]) -> bool:
        return all(
            key in last and state_from_bytes(last[key]) == state for key, state in expected.items()
        )

    return done


def records_match(expected: dict[bytes, TicketRecord]) -> Callable[[dict[bytes, bytes]], bool]:
    """Predicate for a normalized view: every key's latest record equals the expected one."""

    def done(last: dict[bytes, bytes]) -> bool:
        return all(
            key in last and TicketRecord.model_validate_json(last[key]) == record
            for key, record in expected.items()
        )

    return done


def mismatches(
    expected: dict[bytes, TicketState], last: dict[bytes, bytes]
) -> list[tuple[bytes, Any, Any]]:
    """Keys whose latest changelog state differs from the expected one (for failure messages)."""
    wrong = []
    for key, state in expected.items():
        found = state_from_bytes(last[key]) if key in last else None
        if found != state:
            wrong.append((key, state, found))
    return wrong
