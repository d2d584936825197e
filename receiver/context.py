"""The per-process objects of a running receiver, created in its lifespan and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from receiver.auth import CredentialStore
from receiver.metrics import ReceiverMetrics
from receiver.publisher import Publisher
from ticketstream.settings import Settings


@dataclass(frozen=True)
class Context:
    """What every request handler needs."""

    settings: Settings
    auth: CredentialStore
    publisher: Publisher
    metrics: ReceiverMetrics
    openapi: dict[str, Any]
