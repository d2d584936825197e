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
from receiver.openapi import WEBHOOK_PATH, openapi_document
from receiver.publisher import Publisher
from ticketstream.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["WEBHOOK_PATH", "create_app"]


def create_app(settings: Settings) -> Starlette:
    """A receiver for `settings`; the producer lives from startup to shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Context]]:
        auth = CredentialStore(
            settings.credentials_file,
            reload_interval=settings.credentials_reload_seconds,
            kdf_threads=settings.auth_kdf_threads,
            kdf_queue=settings.auth_kdf_queue,
        )
        publisher = Publisher(
            settings.producer_config(), ack_timeout=settings.produce_timeout_seconds
        )
        publisher.start()
        ctx = Context(
            settings=settings,
            auth=auth,
            publisher=publisher,
            metrics=receiver_metrics(publisher.queue_depth),
            openapi=openapi_document(),
        )
        log.info(
            "receiver ready kafka=%s topic=%s", settings.kafka_bootstrap_servers,
            settings.topic_events,
        )  # fmt: skip
        try:
            yield {"ctx": ctx}
        finally:
            publisher.close()
            auth.close()

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, routes.post_ticket, methods=["POST"]),
            Route("/healthz", routes.healthz, methods=["GET"]),
            Route("/readyz", routes.readyz, methods=["GET"]),
            Route("/metrics", routes.metrics, methods=["GET"]),
            Route("/openapi.json", routes.openapi, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
