"""HTTP endpoints: the webhook, health, readiness and metrics; thin shells around the domain."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from receiver.auth import AuthError, Forbidden, RateLimited
from receiver.body import BodyError, decode_object, is_json, read_limited
from receiver.context import Context
from receiver.errors import Busy
from receiver.problems import WWW_AUTHENTICATE, field_errors, problem
from receiver.publisher import PublishError
from schemas.envelope import encode_envelope, new_event_id, ticket_key
from schemas.events import parse_event
from ticketstream.logs import fields

log = logging.getLogger(__name__)

ACCEPTED = b"[]"
_TITLES = {400: "Bad Request", 413: "Content Too Large"}


async def post_ticket(request: Request) -> Response:
    """POST /api/v1/actions/tickets: authenticate, validate, publish, and answer `[]` once acked."""
    # The lifespan state itself: request.state would wrap a copy of it on every request.
    ctx: Context = request.scope["state"]["ctx"]
    labels = {"tenant": "", "source": "", "event_type": ""}
    in_flight = ctx.metrics.in_flight
    in_flight.count += 1
    try:
        response = await _handle(request, ctx, labels)
    finally:
        in_flight.count -= 1
    ctx.metrics.count(
        labels["tenant"], labels["source"], labels["event_type"], response.status_code
    )
    return response


async def _handle(request: Request, ctx: Context, labels: dict[str, str]) -> Response:
    settings = ctx.settings
    retry_after = {"Retry-After": str(settings.retry_after_seconds)}
    try:
        principal = await ctx.auth.authenticate(
            request.headers.get("authorization"), request.headers.get("host")
        )
    except AuthError as exc:
        # The reason and credential id are safe to log; the header never is.
        log.info(
            "unauthenticated request: %s", exc.reason, extra=fields(credential=exc.credential_id)
        )
        return problem(
            401, "unauthorized", "Unauthorized", "valid Bearer or Basic credentials are required",
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )  # fmt: skip
    except Forbidden as exc:
        labels["tenant"], labels["source"] = exc.principal.tenant, exc.principal.source
        log.info("forbidden request %s", exc)
        return problem(403, "forbidden", "Forbidden", "these credentials belong to another tenant")
    except RateLimited as exc:
        labels["tenant"], labels["source"] = exc.principal.tenant, exc.principal.source
        seconds = max(1, math.ceil(exc.retry_after))
        return problem(
            429, "rate-limited", "Too Many Requests",
            f"this credential is over its rate limit; retry after {seconds}s",
            headers={"Retry-After": str(seconds)},
        )  # fmt: skip
    except Busy as exc:
        log.warning("request refused: %s", exc)
        return problem(
            503, "busy", "Service Unavailable",
            "too many password checks are waiting; retry later", headers=retry_after,
        )  # fmt: skip
    labels["tenant"], labels["source"] = principal.tenant, principal.source

    if not is_json(request.headers.get("content-type")):
        return problem(
            415, "unsupported-media-type", "Unsupported Media Type",
            "the body must be JSON, sent with Content-Type: application/json",
        )  # fmt: skip
    try:
        body = await read_limited(request, settings.max_body_bytes)
        data = decode_object(body)
    except BodyError as exc:
        return problem(exc.status, exc.kind, _TITLES[exc.status], exc.detail)
    try:
        event = parse_event(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        return problem(
            422, "validation", "Unprocessable Content",
            "; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors=errors,
        )  # fmt: skip
    labels["event_type"] = event.eventType

    tenant, source, event_id = principal.tenant, principal.source, new_event_id()
    # orjson accepted the body, so it is valid UTF-8.
    value = encode_envelope(event_id, datetime.now(UTC), tenant, source, event, body.decode())
    started = time.perf_counter()
    try:
        await ctx.publisher.publish(
            settings.topic_events, ticket_key(tenant, source, event.ticketId).encode(), value
        )
    except PublishError as exc:
        log.warning(
            "publish failed: %s", exc,
            extra=fields(tenant=tenant, source=source, ticketId=event.ticketId, eventId=event_id),
        )  # fmt: skip
        return problem(
            503, "kafka-unavailable", "Service Unavailable",
            "Kafka did not acknowledge the event in time; send it again later (a retry is safe)",
            headers=retry_after,
        )  # fmt: skip
    ctx.metrics.produce_latency.observe(time.perf_counter() - started)
    return Response(ACCEPTED, media_type="application/json")


async def healthz(request: Request) -> Response:
    """Process is alive."""
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    """Ready when Kafka answers for the events topic."""
    ctx: Context = request.state.ctx
    if await ctx.publisher.reachable(ctx.settings.topic_events):
        return PlainTextResponse("ready")
    return PlainTextResponse(
        "kafka unreachable",
        status_code=503,
        headers={"Retry-After": str(ctx.settings.retry_after_seconds)},
    )


async def metrics(request: Request) -> Response:
    """Prometheus exposition of this receiver's metrics."""
    ctx: Context = request.state.ctx
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    """The OpenAPI document of this API."""
    ctx: Context = request.state.ctx
    return JSONResponse(ctx.openapi)
