"""The OpenAPI 3.1 document of the receiver, generated from the models the receiver validates with.

`ticketstream openapi` writes it to docs/openapi.json; a test fails when that file drifts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from receiver.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE, WWW_AUTHENTICATE, Problem
from schemas.events import EVENT_ADAPTER

WEBHOOK_PATH = "/api/v1/actions/tickets"
COMMITTED = Path(__file__).parents[1] / "docs" / "openapi.json"
_REF = "#/components/schemas/{model}"

_DESCRIPTION = """\
Webhooks for every change of a parking ticket. One endpoint takes all six event types; \
`eventType` selects the shape. A `200` with body `[]` means the event is stored in Kafka \
(acks=all, idempotent producer). Every error is an RFC 9457 problem details object. \
See docs/API.md for the field rules, authentication and every error."""

# status -> (kind, title, detail of an example, description)
_PROBLEMS: dict[int, tuple[str, str, str, str]] = {
    400: (
        "invalid-json", "Bad Request", "the body is not valid JSON: unexpected character: "
        "line 1 column 1 (char 0)",
        "The body is not one JSON object (invalid JSON or UTF-8, not an object, a member "
        "name twice in one object, nested too deeply). Kinds: invalid-json, not-an-object, "
        "duplicate-key, too-deep, incomplete-body.",
    ),
    401: (
        "unauthorized", "Unauthorized", "valid Bearer or Basic credentials are required",
        "Missing, malformed or wrong credentials. Nothing was published.",
    ),
    403: (
        "forbidden", "Forbidden", "these credentials belong to another tenant",
        "The Host header (`api.{tenant}.…`) names another tenant than the credential's.",
    ),
    413: (
        "body-too-large", "Content Too Large", "the body must be at most 65536 bytes",
        "The body is over the size limit (TICKETSTREAM_MAX_BODY_BYTES, 64 KiB by default).",
    ),
    415: (
        "unsupported-media-type", "Unsupported Media Type",
        "the body must be JSON, sent with Content-Type: application/json",
        "Content-Type is absent or not JSON (application/json or application/*+json).",
    ),
    422: (
        "validation", "Unprocessable Content", "ticketCost.amountInclVat: must not be negative",
        "Valid JSON that breaks a field rule, or an unknown eventType; `errors` lists each.",
    ),
    429: (
        "rate-limited", "Too Many Requests",
        "this credential is over its rate limit; retry after 1s",
        "The credential is over its rate limit (configured per credential, off by default).",
    ),
    503: (
        "kafka-unavailable", "Service Unavailable",
        "Kafka did not acknowledge the event in time; send it again later (a retry is safe)",
        "Kafka unavailable, produce timed out, or the producer queue is full (kind "
        "kafka-unavailable); or too many password checks waiting (kind busy). The event may "
        "be retried safely.",
    ),
}  # fmt: skip


def _problem_response(status: int) -> dict[str, Any]:
    kind, title, detail, description = _PROBLEMS[status]
    example: dict[str, Any] = {
        "type": PROBLEM_TYPE + kind, "title": title, "status": status, "detail": detail
    }  # fmt: skip
    if status == 422:
        example["errors"] = [
            {"field": "ticketCost.amountInclVat", "reason": "must not be negative"}
        ]
    response: dict[str, Any] = {
        "description": description,
        "content": {
            PROBLEM_MEDIA_TYPE: {
                "schema": {"$ref": _REF.format(model="Problem")},
                "example": example,
            }
        },
    }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"$ref": "#/components/headers/WWWAuthenticate"}}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _plain(description: str, media_type: str = "text/plain") -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}


def openapi_document(version: str = "1") -> dict[str, Any]:
    """The whole document; a pure function of the models, so it is stable across runs."""
    event = EVENT_ADAPTER.json_schema(ref_template=_REF, mode="validation")
    schemas: dict[str, Any] = event.pop("$defs")
    schemas["TicketEvent"] = {
        "title": "TicketEvent",
        "description": "One webhook; `eventType` selects the shape. Unknown members are ignored "
        "(kept in the raw body on Kafka).",
        **event,
    }
    problem = Problem.model_json_schema(ref_template=_REF)
    schemas.update(problem.pop("$defs"))
    schemas["Problem"] = problem
    ops_security: list[dict[str, list[str]]] = []
    return {
        "openapi": "3.1.0",
        "info": {"title": "ticketstream receiver", "version": version, "description": _DESCRIPTION},
        "security": [{"bearerAuth": []}, {"basicAuth": []}],
        "paths": {
            WEBHOOK_PATH: {
                "post": {
                    "operationId": "postTicketEvent",
                    "summary": "Send one ticket event",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="TicketEvent")}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Stored in Kafka (acks=all).",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "maxItems": 0},
                                    "example": [],
                                }
                            },
                        },
                        **{str(status): _problem_response(status) for status in sorted(_PROBLEMS)},
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "The process is alive",
                    "security": ops_security,
                    "responses": {"200": _plain("Alive.")},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Kafka answers for the events topic",
                    "security": ops_security,
                    "responses": {
                        "200": _plain("Ready."),
                        "503": {
                            **_plain("Kafka unreachable."),
                            "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                        },
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics",
                    "security": ops_security,
                    "responses": {"200": _plain("Prometheus text exposition format.")},
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": ops_security,
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1 document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `ticketstream credentials add`.",
                },
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "A username with a password_hash in the credentials file.",
                },
            },
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before sending again.",
                    "schema": {"type": "integer", "minimum": 1},
                },
                "WWWAuthenticate": {
                    "description": "Both schemes: " + WWW_AUTHENTICATE,
                    "schema": {"type": "string"},
                },
            },
        },
    }


def render(document: dict[str, Any]) -> str:
    """The committed file's text: indented, stable key order, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
