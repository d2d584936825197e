"""HTTP endpoints: the webhook, health, readiness and metrics; thin shells around the domain."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from uuid6 import uuid7

from receiver.auth import AuthError, Forbidden, RateLimited
from receiver.context import Context
from receiver.problems import WWW_AUTHENTICATE, field_errors, problem
from receiver.publisher import PublishError
from schemas.envelope import Envelope, envelope_bytes
from schemas.events import parse_event

log = logging.getLogger(__name__)

ACCEPTED = b"[]"


class _TooLarge(Exception):
    pass


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes whether or not Content-Length tells the truth."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def is_json(content_type: str | None) -> bool:
    """application/json or application/*+json, parameters allowed."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def post_ticket(request: Request) -> Response:
    """POST /api/v1/actions/tickets: authenticate, validate, publish, and answer `[]` once acked."""
    ctx: Context = request.state.ctx
    labels = {"tenant": "", "source": "", "event_type": ""}
    with ctx.metrics.in_flight.track_inprogress():
        response = await _handle(request, ctx, labels)
    ctx.metrics.requests.labels(status=str(response.status_code), **labels).inc()
    return response


async def _handle(request: Request, ctx: Context, labels: dict[str, str]) -> Response:
    settings = ctx.settings
    try:
        principal = await ctx.auth.authenticate(
            request.headers.get("authorization"), request.headers.get("host")
        )
    except AuthError as exc:
        log.info("unauthenticated request reason=%s", exc.reason)
        return problem(
            401, "unauthorized", "Unauthorized", "valid Bearer or Basic credentials are required",
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )  # fmt: skip
    except Forbidden:
        return problem(403, "forbidden", "Forbidden", "these credentials belong to another tenant")
    except RateLimited as exc:
        seconds = max(1, math.ceil(exc.retry_after))
        return problem(
            429, "rate-limited", "Too Many Requests",
            f"this credential is over its rate limit; retry after {seconds}s",
            headers={"Retry-After": str(seconds)},
        )  # fmt: skip
    labels["tenant"], labels["source"] = principal.tenant, principal.source

    if not is_json(request.headers.get("content-type")):
        return problem(
            415, "unsupported-media-type", "Unsupported Media Type",
            "the body must be JSON, sent with Content-Type: application/json",
        )  # fmt: skip
    try:
        body = await read_limited(request, settings.max_body_bytes)
    except _TooLarge:
        return problem(
            413, "body-too-large", "Content Too Large",
            f"the body must be at most {settings.max_body_bytes} bytes",
        )  # fmt: skip
    except ClientDisconnect:
        return problem(400, "incomplete-body", "Bad Request", "the client disconnected")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return problem(400, "invalid-json", "Bad Request", f"the body is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return problem(400, "not-an-object", "Bad Request", "the body must be one JSON object")
    try:
        event = parse_event(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        return problem(
            422, "validation", "Unprocessable Content",
            "; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors=errors,
        )  # fmt: skip
    labels["event_type"] = event.eventType

    envelope = Envelope(
        eventId=str(uuid7()),
        receivedAt=datetime.now(UTC),
        tenant=principal.tenant,
        source=principal.source,
        event=event,
        raw=body.decode(),
    )
    started = time.perf_counter()
    try:
        await ctx.publisher.publish(
            settings.topic_events, envelope.key.encode(), envelope_bytes(envelope)
        )
    except PublishError as exc:
        log.warning(
            "publish failed tenant=%s source=%s ticketId=%s eventId=%s reason=%s",
            envelope.tenant, envelope.source, event.ticketId, envelope.eventId, exc,
        )  # fmt: skip
        return problem(
            503, "kafka-unavailable", "Service Unavailable",
            "the event could not be stored; it was not accepted and may be retried safely",
            headers={"Retry-After": str(settings.retry_after_seconds)},
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
