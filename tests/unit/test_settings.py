"""Settings come from TICKETSTREAM_* variables; topics from the settings."""

from __future__ import annotations

import pytest

from ticketstream.settings import Settings
from ticketstream.topics import topic_specs


def test_defaults_match_the_spec() -> None:
    settings = Settings()
    assert settings.topic_events == "tickets.events"
    assert settings.topic_normalized == "tickets.normalized"
    assert settings.topic_rejected == "tickets.rejected"
    assert settings.partitions == 12


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETSTREAM_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("TICKETSTREAM_TOPIC_EVENTS", "a.events")
    monkeypatch.setenv("TICKETSTREAM_PARTITIONS", "6")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert settings.topic_events == "a.events"
    assert settings.partitions == 6


def test_producer_is_idempotent_with_acks_all() -> None:
    config = Settings(produce_timeout_seconds=2.5).producer_config()
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    # A second less, so librdkafka's once-a-second timeout scan reports within the 2.5 s.
    assert config["message.timeout.ms"] == 1500
    assert Settings(produce_timeout_seconds=1.0).producer_config()["message.timeout.ms"] == 500


def test_topics_and_cleanup_policies() -> None:
    specs = {spec.name: spec.config["cleanup.policy"] for spec in topic_specs(Settings())}
    assert specs == {
        "tickets.events": "delete",
        "tickets.normalized": "compact",
        "tickets.rejected": "delete",
        "ticketstream-worker-tickets-changelog": "compact",
    }
