"""The worker's Faust app: topics, the changelog-backed ticket table and the agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import generate_latest

from streams.metrics import WorkerMetrics, worker_metrics
from ticketstream.settings import Settings

TABLE_NAME = "tickets"
# aiohttp refuses a charset in content_type; the exposition format is UTF-8 anyway.
_PROMETHEUS_TEXT = "text/plain; version=0.0.4"


@dataclass(frozen=True)
class Worker:
    """A Faust app with its topics and table; values are raw bytes, (de)coded by the domain."""

    settings: Settings
    metrics: WorkerMetrics
    app: faust.App
    events: Any
    normalized: Any
    rejected: Any
    table: Any


def create_app(settings: Settings) -> Worker:
    """Build the worker for `settings`; the agent is attached by streams.agents."""
    from streams.agents import attach_agent

    app = faust.App(
        settings.worker_app_id,
        broker=";".join(f"kafka://{h}" for h in settings.kafka_bootstrap_servers.split(",")),
        store=settings.worker_store,
        datadir=str(settings.worker_data_dir),
        autodiscover=False,
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=settings.worker_standby_replicas,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Batch outputs and changelog writes instead of one produce request per message.
        producer_linger=0.02,
        # faust#324: waiting for empty streams on shutdown can hang forever.
        stream_wait_empty=False,
        broker_session_timeout=settings.worker_session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_seconds / 3),
        web_port=settings.worker_web_port,
        web_host="0.0.0.0",
        key_serializer="raw",
        value_serializer="raw",
    )

    def topic(name: str) -> Any:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )

    worker = Worker(
        settings=settings,
        metrics=worker_metrics(),
        app=app,
        events=topic(settings.topic_events),
        normalized=topic(settings.topic_normalized),
        rejected=topic(settings.topic_rejected),
        table=app.Table(
            TABLE_NAME,
            default=None,
            partitions=settings.partitions,
            key_type=bytes,
            value_type=bytes,
            help="Current state of every ticket, by {tenant}/{source}/{ticketId}.",
        ),
    )
    attach_agent(worker)
    _attach_pages(worker)
    return worker


def _attach_pages(worker: Worker) -> None:
    """GET /metrics (Prometheus) and GET /healthz on the worker's web port."""

    @worker.app.page("/metrics")
    async def metrics(view: Any, request: Any) -> Any:
        worker.metrics.refresh(worker.app, worker.settings.topic_events, worker.table)
        return view.bytes(generate_latest(worker.metrics.registry), content_type=_PROMETHEUS_TEXT)

    @worker.app.page("/healthz")
    async def healthz(view: Any, request: Any) -> Any:
        return view.text("ok")
