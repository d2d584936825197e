"""Prometheus metrics of one worker, in a registry of its own, served on the worker's web port."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

WORKER_METRICS = (
    "ticketstream_worker_events_total",
    "ticketstream_worker_rejections_total",
    "ticketstream_worker_process_seconds",
    "ticketstream_worker_event_age_seconds",
    "ticketstream_worker_consumer_lag",
    "ticketstream_worker_table_keys",
)


@dataclass
class WorkerMetrics:
    """The worker's instruments, and the last offset it read per partition (for the lag)."""

    registry: CollectorRegistry
    events: Counter
    rejections: Counter
    process_seconds: Histogram
    event_age: Histogram
    consumer_lag: Gauge
    table_keys: Gauge
    last_offsets: dict[int, int] = field(default_factory=dict)

    def refresh(self, app: Any, topic: str, table: Any) -> None:
        """Update the gauges read from faust: lag per partition and the table's size."""
        from faust.types import TP

        with contextlib.suppress(Exception):
            assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}
            # A revoked partition is another worker's now: stop reporting a stale lag for it.
            for partition in set(self.last_offsets) - assigned:
                del self.last_offsets[partition]
                with contextlib.suppress(KeyError):
                    self.consumer_lag.remove(str(partition))
        for partition, offset in list(self.last_offsets.items()):
            with contextlib.suppress(Exception):  # the partition may have just been revoked
                highwater = app.consumer.highwater(TP(topic, partition))
                if highwater is not None:
                    self.consumer_lag.labels(partition=str(partition)).set(
                        max(0, highwater - offset - 1)
                    )
        keys = table_size(table)
        if keys is not None:
            self.table_keys.set(keys)


def table_size(table: Any) -> int | None:
    """Keys in this worker's part of the table: RocksDB's estimate, or the exact memory count."""
    store = table.data
    databases = getattr(store, "_dbs", None)
    if databases is None:
        with contextlib.suppress(TypeError):
            return len(store)
        return None
    total = 0
    for database in list(databases.values()):
        estimate = database.property_int_value("rocksdb.estimate-num-keys")
        total += int(estimate or 0)
    return total


def worker_metrics() -> WorkerMetrics:
    """Create the instruments."""
    registry = CollectorRegistry(auto_describe=True)
    return WorkerMetrics(
        registry=registry,
        events=Counter(
            "ticketstream_worker_events",
            "Events read from tickets.events, by eventType and outcome"
            " (applied, unchanged, rejected, duplicate).",
            ["event_type", "outcome"],
            registry=registry,
        ),
        rejections=Counter(
            "ticketstream_worker_rejections",
            "Records sent to tickets.rejected, by reason.",
            ["reason"],
            registry=registry,
        ),
        process_seconds=Histogram(
            "ticketstream_worker_process_seconds",
            "Time to apply one event and queue its outputs.",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1),
            registry=registry,
        ),
        event_age=Histogram(
            "ticketstream_worker_event_age_seconds",
            "Time from the receiver accepting an event to the worker applying it.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        ),
        consumer_lag=Gauge(
            "ticketstream_worker_consumer_lag",
            "Messages on tickets.events not yet read by this worker, per partition.",
            ["partition"],
            registry=registry,
        ),
        table_keys=Gauge(
            "ticketstream_worker_table_keys",
            "Tickets in this worker's partitions of the table (RocksDB: an estimate).",
            registry=registry,
        ),
    )
