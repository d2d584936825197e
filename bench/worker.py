"""Worker benchmark (not a test): events/s against a bare aiokafka passthrough, and recovery time.

    .venv/bin/python -m bench.worker [--envelopes 200000] [--tickets 50000]

In one run, on one local broker it starts itself:
1. preloads the envelopes (4 per ticket by default) into a fresh events topic;
2. (a) runs `ticketstream worker` (RocksDB store) over them and times it until the last
   normalized record is out; (b) runs a bare aiokafka consume -> produce passthrough over the same
   messages; prints events/s of both and the ratio (a)/(b) (target >= 0.5);
3. restarts the worker on an empty store and times the table's recovery from its changelog,
   next to a raw consumer reading the same changelog (target <= 2x).
Rates come from the broker's CreateTime stamps of the first and last output message, so the
consumer that counts them does not slow down what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, TopicPartition

from deploy.localkafka import LocalKafka, free_port
from schemas.envelope import envelope_bytes
from streams.state import Emit, TicketState, apply
from tests.integration.kafka import fresh_consumer, settings_env
from tests.integration.workload import interleave, produce, workload
from ticketstream.processes import ManagedProcess
from ticketstream.settings import Settings
from ticketstream.topics import create_topics


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def _output_span(bootstrap: str, topic: str, count: int, timeout: float) -> tuple[float, int]:
    """Wait until `count` messages are on `topic`; return (seconds between first and last, n)."""
    consumer = fresh_consumer(bootstrap, topic)
    first = last = None
    seen = 0
    deadline = time.monotonic() + timeout
    try:
        while seen < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {seen} of {count} messages after {timeout}s")
            for message in consumer.consume(10_000, timeout=0.5):
                if message.error():
                    continue
                seen += 1
                stamp = message.timestamp()[1] / 1000
                first = stamp if first is None else min(first, stamp)
                last = stamp if last is None else max(last, stamp)
    finally:
        consumer.close()
    if first is None or last is None:
        raise TimeoutError(f"{topic}: no messages")
    return last - first, seen


async def _passthrough(bootstrap: str, source: str, sink: str, count: int) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"passthrough-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=True,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        done = 0
        while done < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    await producer.send(sink, key=record.key, value=record.value)
                    done += 1
        await producer.flush()
    finally:
        await consumer.stop()
        await producer.stop()


def _changelog_read_seconds(bootstrap: str, topic: str, partitions: int) -> tuple[float, int]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"raw-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    ends = {}
    for p in range(partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        ends[p] = (low, high)
    consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ends.items()])
    remaining = {p for p, (low, high) in ends.items() if high > low}
    count = 0
    started = time.perf_counter()
    while remaining:
        for message in consumer.consume(10_000, timeout=0.5):
            if message.error():
                continue
            count += 1
            partition, offset = message.partition() or 0, message.offset() or 0
            if offset >= ends[partition][1] - 1:
                remaining.discard(partition)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed, count


# faust's format starts "[2026-12-04 21:30:35,126]", ticketstream's text format drops the [ ].
_STAMP = re.compile(r"^\[?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]?")


def _recovery_seconds(log_file: Path, started: float, timeout: float) -> tuple[float, float]:
    """(changelog read by faust, process start -> 'Recovery complete') from the worker's log."""
    deadline = time.monotonic() + timeout
    stamps: dict[str, float] = {}
    markers = (
        "Restoring state from changelog topics",
        "Done reading from changelog",
        "Recovery complete",
    )
    while time.monotonic() < deadline:
        text = log_file.read_text(errors="replace") if log_file.exists() else ""
        for line in text.splitlines():
            match = _STAMP.match(line)
            for marker in markers:
                if match and marker in line and marker not in stamps:
                    at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
                    stamps[marker] = at.timestamp()
        if all(marker in stamps for marker in markers):
            return stamps[markers[1]] - stamps[markers[0]], stamps[markers[2]] - started
        time.sleep(0.5)
    raise TimeoutError(f"recovery markers {markers} not all in {log_file} after {timeout}s")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--envelopes", type=int, default=200_000)
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=12)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    with LocalKafka(heap="1g", progress=_say) as broker:
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            partitions=args.partitions,
            worker_data_dir=workdir / "store-1",
            worker_web_port=free_port(),
            credentials_file=workdir / "none.toml",
        )
        create_topics(settings)
        _say(f"generating {args.envelopes} envelopes over {args.tickets} tickets")
        per_ticket = max(1, args.envelopes // args.tickets)
        envelopes = interleave(workload(args.tickets, per_ticket, seed=1), seed=2)
        states: dict[bytes, TicketState] = {}
        emits = 0
        for envelope in envelopes:
            key = envelope.key.encode()
            states[key], outputs = apply(states.get(key), envelope)
            emits += sum(isinstance(o, Emit) for o in outputs)
        size = sum(len(envelope_bytes(e)) for e in envelopes[:1000]) / 1000
        _say(f"preloading {len(envelopes)} envelopes (~{size:.0f} bytes each), {emits} records due")
        produce(settings, envelopes)

        worker = ManagedProcess(
            "worker", ["worker"], settings_env(settings), workdir / "worker-1.log"
        ).start()
        try:
            span_a, _ = _output_span(
                broker.bootstrap_servers, settings.topic_normalized, emits, 1800
            )
        finally:
            worker.stop(grace=30)
        rate_a = len(envelopes) / span_a
        _say(f"(a) worker: {rate_a:.0f} events/s")

        sink = f"passthrough-{uuid.uuid4().hex[:6]}"
        from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic(sink, num_partitions=args.partitions, replication_factor=1)])[
            sink
        ].result(30)
        asyncio.run(
            _passthrough(broker.bootstrap_servers, settings.topic_events, sink, len(envelopes))
        )
        span_b, _ = _output_span(broker.bootstrap_servers, sink, len(envelopes), 600)
        rate_b = len(envelopes) / span_b
        _say(f"(b) aiokafka passthrough: {rate_b:.0f} events/s")

        faust_sink = f"faust-passthrough-{uuid.uuid4().hex[:6]}"
        admin.create_topics(
            [NewTopic(faust_sink, num_partitions=args.partitions, replication_factor=1)]
        )[faust_sink].result(30)
        bare = subprocess.Popen(
            [sys.executable, "-m", "bench.faust_passthrough", "worker", "-l", "warn"],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
                 "BENCH_BOOTSTRAP": broker.bootstrap_servers,
                 "BENCH_SOURCE": settings.topic_events, "BENCH_SINK": faust_sink,
                 "BENCH_PARTITIONS": str(args.partitions)},
            cwd=workdir, stdout=(workdir / "faust-passthrough.log").open("wb"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            span_c, _ = _output_span(broker.bootstrap_servers, faust_sink, len(envelopes), 600)
        finally:
            bare.terminate()
            bare.wait(30)
        rate_c = len(envelopes) / span_c
        _say(f"(c) bare faust passthrough: {rate_c:.0f} events/s")

        fresh = settings.model_copy(update={"worker_data_dir": workdir / "store-2"})
        started = time.time()
        recovering = ManagedProcess(
            "worker", ["worker"], settings_env(fresh), workdir / "worker-2.log"
        ).start()
        try:
            restore, recovery = _recovery_seconds(workdir / "worker-2.log", started, 1800)
        finally:
            recovering.stop(grace=30)
        raw, changelog_records = _changelog_read_seconds(
            broker.bootstrap_servers, settings.changelog_topic(), args.partitions
        )

    shutil.rmtree(workdir, ignore_errors=True)
    print()
    print("machine: 2 cores shared by broker, worker and the counting consumer")
    print(f"envelopes: {len(envelopes)} over {args.tickets} tickets, {args.partitions} partitions")
    print(f"(a) ticketstream worker : {rate_a:9.0f} events/s  ({span_a:.1f} s first->last record)")
    print(f"(b) aiokafka passthrough: {rate_b:9.0f} events/s  ({span_b:.1f} s)")
    print(f"ratio (a)/(b)           : {rate_a / rate_b:9.2f}  (target >= 0.5)")
    print(f"(c) bare faust agent passthrough (the framework's ceiling): {rate_c:9.0f} events/s")
    print(
        f"ratio (c)/(b)           : {rate_c / rate_b:9.2f}   ratio (a)/(c): {rate_a / rate_c:.2f}"
    )
    print(f"changelog records       : {changelog_records}")
    print(f"table restore (fresh store, faust reading the changelog): {restore:6.1f} s")
    print(f"  process start -> 'Recovery complete'                  : {recovery:6.1f} s")
    print(f"raw consumer reading the same changelog                 : {raw:6.1f} s")
    print(f"ratio restore/raw       : {restore / raw:9.2f}  (target <= 2)")


if __name__ == "__main__":
    main()
