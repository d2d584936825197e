"""Is there a valid parking ticket for plate X in zone Z at time T? A reader of tickets.normalized.

    python examples/enforcement_lookup.py --bootstrap HOST:PORT --plate ABC123 --zone 1234 \\
        [--at 2025-03-11T05:00:00Z] [--topic tickets.normalized]

Prints the valid tickets found and exits 0, or prints that there is none and exits 1 (2 on an
error). Needs only confluent-kafka. How to read the topic (docs/STREAMS.md, docs/CONTRACTS.md):

- The topic is compacted and keyed `{tenant}/{source}/{ticketId}`; every record is the whole
  ticket. Read every partition from the beginning to build the view. Do not share a consumer
  group between instances of a lookup service: each would see only its share of the partitions.
  This script assigns itself all of them, under a group id of its own, and commits nothing.
- Per key keep the record with the highest `version`; one whose version is not higher than the
  one held is a redelivery (after a worker crash the same version can arrive twice) or stale.
- A canceled ticket is not valid, whatever its dates say. There are no tombstones.
- `previousLicenseNumbers` is history: those plates are not covered any more.
- Valid: status active or stopped, plate and zone equal, validFrom <= T, and validUntil null
  (open-ended) or T < validUntil. Plates compare normalized: upper case, no spaces or hyphens.

The view functions take records as decoded JSON objects and touch no Kafka: a long-running
service would keep the same view and feed it from a consumer that never stops.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

Record = Mapping[str, Any]
View = dict[str, Record]

DESCRIPTION = "Is there a valid parking ticket for plate X in zone Z at time T?"
SCHEMA_VERSION = 1
VALID_STATUSES = frozenset({"active", "stopped"})
_SEPARATORS = re.compile(r"[ \-]")


def normalize_plate(plate: str) -> str:
    """The plate as records carry it: "abc 123" and "ABC-123" are "ABC123"."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFC", plate)).upper()


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset; a time without one is refused, not guessed."""
    value = datetime.fromisoformat(text.strip().upper())
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add Z or +01:00)")
    return value.astimezone(UTC)


def record_key(record: Record) -> str:
    """`{tenant}/{source}/{ticketId}`, the topic's key, rebuilt from the record."""
    return f"{record['tenant']}/{record['source']}/{record['ticketId']}"


def update(view: View, key: str, record: Record | None) -> bool:
    """Apply one message to the view: the highest version per key wins. True if it changed."""
    if record is None:
        # ticketstream writes no tombstones; a compacted topic's convention is "deleted".
        return view.pop(key, None) is not None
    if record.get("schemaVersion") != SCHEMA_VERSION:
        raise ValueError(f"{key}: schemaVersion {record.get('schemaVersion')!r} is unknown here")
    held = view.get(key)
    if held is not None and record["version"] <= held["version"]:
        return False
    view[key] = record
    return True


def build_view(messages: Iterable[tuple[str | None, Record | None]]) -> View:
    """The view of a stream of (key, record) messages, in any order per key."""
    view: View = {}
    for key, record in messages:
        if key is None:
            if record is None:
                continue
            key = record_key(record)
        update(view, key, record)
    return view


def is_valid(record: Record, plate: str, zone: int, at: datetime) -> bool:
    """True if the record is a ticket that covers `plate` in `zone` at `at`."""
    valid_from, valid_until = record.get("validFrom"), record.get("validUntil")
    return (
        record.get("status") in VALID_STATUSES
        and record.get("licenseNumber") == normalize_plate(plate)
        and record.get("zoneCode") == zone
        # A ticket without a start time covers nothing: nobody can say since when.
        and valid_from is not None
        and parse_time(valid_from) <= at
        and (valid_until is None or at < parse_time(valid_until))
    )


def valid_tickets(view: View, plate: str, zone: int, at: datetime) -> list[Record]:
    """Every ticket in the view valid for `plate` in `zone` at `at`, by key."""
    return [view[key] for key in sorted(view) if is_valid(view[key], plate, zone, at)]


def read_topic(
    bootstrap: str, topic: str, *, group: str, timeout: float
) -> Iterator[tuple[str | None, Record | None]]:
    """Every message of `topic` from the beginning up to its end now, as (key, record)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise LookupError(f"topic {topic} not found: {metadata.error if metadata else ''}")
        consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(metadata.partitions)]
        )
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(at_end) < len(metadata.partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end within {timeout:.0f}s")
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"reading {topic}: {error}")
                partition = message.partition()
                if partition is not None:
                    at_end.add(partition)
                continue
            key, value = message.key(), message.value()
            yield (
                key.decode() if key is not None else None,
                json.loads(value) if value is not None else None,
            )
    finally:
        consumer.close()


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(description=DESCRIPTION)
    cli.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, host:port")
    cli.add_argument("--plate", required=True, help="licence plate, e.g. ABC123 or 'abc 123'")
    cli.add_argument("--zone", required=True, type=int, help="zone code, e.g. 1234")
    cli.add_argument("--at", type=parse_time, help="ISO 8601 time with offset (default: now)")
    cli.add_argument("--topic", default="tickets.normalized", help="the normalized topic")
    cli.add_argument("--group", help="consumer group id (default: a new one per run)")
    cli.add_argument("--timeout", type=float, default=30.0, help="seconds to read the topic")
    return cli


def main(argv: list[str] | None = None) -> int:
    """Build the view from the topic, print the answer; 0 valid, 1 not valid, 2 error."""
    args = parser().parse_args(argv)
    at: datetime = args.at or datetime.now(UTC).replace(microsecond=0)
    group = args.group or f"enforcement-lookup-{uuid.uuid4()}"
    try:
        view = build_view(read_topic(args.bootstrap, args.topic, group=group, timeout=args.timeout))
    except (KafkaException, LookupError, TimeoutError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    plate, when = normalize_plate(args.plate), at.isoformat().replace("+00:00", "Z")
    found = valid_tickets(view, plate, args.zone, at)
    if not found:
        print(f"NOT VALID: no ticket for {plate} in zone {args.zone} at {when}")
        return 1
    print(f"VALID: {len(found)} ticket(s) for {plate} in zone {args.zone} at {when}")
    for record in found:
        print(json.dumps(record, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
