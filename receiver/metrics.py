"""Prometheus metrics of one receiver app, in a registry of its own (no process globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class ReceiverMetrics:
    """The receiver's instruments."""

    registry: CollectorRegistry
    requests: Counter
    produce_latency: Histogram
    in_flight: Gauge
    queue_depth: Gauge


def receiver_metrics(queue_depth: Callable[[], float]) -> ReceiverMetrics:
    """Create the instruments; `queue_depth` is read at scrape time."""
    registry = CollectorRegistry(auto_describe=True)
    depth = Gauge(
        "ticketstream_producer_queue_depth",
        "Messages in the producer waiting for Kafka.",
        registry=registry,
    )
    depth.set_function(queue_depth)
    return ReceiverMetrics(
        registry=registry,
        requests=Counter(
            "ticketstream_webhook_requests",
            "Webhook requests by tenant, source, eventType and HTTP status.",
            ["tenant", "source", "event_type", "status"],
            registry=registry,
        ),
        produce_latency=Histogram(
            "ticketstream_produce_latency_seconds",
            "Time from produce() to Kafka's acknowledgement.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        ),
        in_flight=Gauge(
            "ticketstream_webhook_in_flight",
            "Webhook requests being handled.",
            registry=registry,
        ),
        queue_depth=depth,
    )
