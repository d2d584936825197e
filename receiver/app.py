"""The receiver's ASGI app: routes, and a lifespan that owns the producer."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

from receiver import routes
from receiver.auth import CredentialStore
from receiver.context import Context
from receiver.metrics import receiver_metrics
from receiver.publisher import Publisher
from ticketstream.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/v1/actions/tickets"


def create_app(settings: Settings) -> Starlette:
    """A receiver for `settings`; the producer lives from startup to shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Context]]:
        auth = CredentialStore(settings.credentials_file)
        publisher = Publisher(
            settings.producer_config(), ack_timeout=settings.produce_timeout_seconds
        )
        ctx = Context(
            settings=settings,
            auth=auth,
            publisher=publisher,
            metrics=receiver_metrics(publisher.queue_depth),
        )
        log.info(
            "receiver ready kafka=%s topic=%s", settings.kafka_bootstrap_servers,
            settings.topic_events,
        )  # fmt: skip
        try:
            yield {"ctx": ctx}
        finally:
            publisher.close()

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, routes.post_ticket, methods=["POST"]),
            Route("/healthz", routes.healthz, methods=["GET"]),
            Route("/readyz", routes.readyz, methods=["GET"]),
            Route("/metrics", routes.metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
