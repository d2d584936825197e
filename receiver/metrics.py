"""Prometheus metrics of one receiver app, in a registry of its own (no process globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class InFlight:
    """Requests being handled: a plain counter, read by the gauge at scrape time."""

    count: int = 0


@dataclass(frozen=True)
class ReceiverMetrics:
    """The receiver's instruments."""

    registry: CollectorRegistry
    requests: Counter
    produce_latency: Histogram
    in_flight: InFlight
    queue_depth: Gauge
    # labels() takes a lock and builds a key on every call; a label set is reused endlessly.
    _children: dict[tuple[str, str, str, str], Counter] = field(default_factory=dict)

    def count(self, tenant: str, source: str, event_type: str, status: int) -> None:
        """Count one answered webhook request."""
        key = (tenant, source, event_type, str(status))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(*key)
        child.inc()


def receiver_metrics(queue_depth: Callable[[], float]) -> ReceiverMetrics:
    """Create the instruments; `queue_depth` is read at scrape time."""
    registry = CollectorRegistry(auto_describe=True)
    depth = Gauge(
        "ticketstream_producer_queue_depth",
        "Messages in the producer waiting for Kafka.",
        registry=registry,
    )
    depth.set_function(queue_depth)
    in_flight = InFlight()
    Gauge(
        "ticketstream_webhook_in_flight", "Webhook requests being handled.", registry=registry
    ).set_function(lambda: in_flight.count)
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
        in_flight=in_flight,
        queue_depth=depth,
    )
