"""All settings of ticketstream, read from `TICKETSTREAM_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """One settings object for receiver, worker and tools; every field is `TICKETSTREAM_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="TICKETSTREAM_", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    topic_events: str = Field("tickets.events", description="Accepted webhooks (envelopes).")
    topic_normalized: str = Field(
        "tickets.normalized", description="Normalized ticket records (compacted)."
    )
    topic_rejected: str = Field(
        "tickets.rejected", description="Events the worker could not apply."
    )
    partitions: int = Field(12, ge=1, description="Partitions of every topic, changelog included.")
    replication_factor: int = Field(1, ge=1, description="Replication factor of created topics.")
    credentials_file: Path = Field(
        Path("credentials.toml"), description="TOML file of clients (SPEC §2); hot-reloaded."
    )

    http_host: str = Field("0.0.0.0", description="Address the receiver listens on.")
    http_port: int = Field(8080, description="Port the receiver listens on.")
    max_body_bytes: int = Field(65536, ge=1, description="Largest accepted request body.")
    produce_timeout_seconds: float = Field(
        5.0, gt=0, description="Longest wait for Kafka's acknowledgement before answering 503."
    )
    retry_after_seconds: int = Field(5, ge=1, description="Retry-After sent with 503.")
    producer_linger_ms: float = Field(
        2.0, ge=0, description="How long the producer waits to batch messages."
    )
    producer_compression: Literal["none", "lz4", "zstd", "snappy", "gzip"] = Field(
        "lz4", description="Compression of the producer's batches on tickets.events."
    )
    producer_queue_max_messages: int = Field(
        100_000, ge=1, description="Messages the producer may hold unacknowledged; beyond, 503."
    )
    credentials_reload_seconds: float = Field(
        1.0, gt=0, description="How often the receiver checks the credentials file for changes."
    )
    auth_kdf_threads: int = Field(
        2, ge=1, description="Threads checking Basic passwords (scrypt, 16 MiB each)."
    )
    auth_kdf_queue: int = Field(
        64, ge=0, description="Password checks that may wait for a thread; beyond, 503."
    )

    worker_app_id: str = Field(
        "ticketstream-worker", description="Faust app id: consumer group and changelog prefix."
    )
    worker_store: Literal["rocksdb://", "memory://"] = Field(
        "rocksdb://", description="Table store of the worker."
    )
    worker_data_dir: Path = Field(
        Path("var/worker"), description="Where the worker keeps its RocksDB table store."
    )
    worker_web_port: int = Field(6066, description="Port of the worker's metrics/web server.")
    worker_standby_replicas: int = Field(
        0, ge=0, description="Standby replicas of the ticket table on other workers."
    )
    worker_session_timeout_seconds: float = Field(
        30.0, gt=0, description="How long a silent worker keeps its partitions."
    )

    log_level: str = Field("INFO", description="Python log level.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as plain text or as JSON objects with context fields."
    )

    def producer_config(self) -> dict[str, Any]:
        """librdkafka settings of the receiver's producer: idempotent, acks=all, bounded waits."""
        return {
            "bootstrap.servers": self.kafka_bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": self.producer_linger_ms,
            "compression.type": self.producer_compression,
            # librdkafka fails timed-out messages from a once-a-second scan: a second of headroom
            # lets its delivery report, success or not, arrive within the produce timeout.
            "message.timeout.ms": int(self.message_timeout_seconds() * 1000),
            "socket.nagle.disable": True,
            "queue.buffering.max.messages": self.producer_queue_max_messages,
            "socket.keepalive.enable": True,
        }

    def message_timeout_seconds(self) -> float:
        """librdkafka's message.timeout.ms, in seconds: the produce timeout less the scan slack."""
        timeout = self.produce_timeout_seconds
        return max(timeout - 1.0, timeout / 2)

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings every other client starts from (admin, tools, consumers)."""
        return {"bootstrap.servers": self.kafka_bootstrap_servers}

    def changelog_topic(self) -> str:
        """The ticket table's changelog topic, named as faust names it."""
        return f"{self.worker_app_id}-tickets-changelog"
