"""RFC 9457 problem-details responses: every error the receiver sends, with the field and reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.responses import Response

from schemas.events import EVENT_TYPES

PROBLEM_TYPE = "urn:ticketstream:problem:"
WWW_AUTHENTICATE = 'Bearer realm="ticketstream", Basic realm="ticketstream", charset="UTF-8"'


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An `application/problem+json` response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + kind,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/problem+json",
        headers=dict(headers or {}),
    )


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as `{"field": "ticketCost.amountInclVat", "reason": "..."}` items."""
    items = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        # A tagged union puts the eventType first in the location; the client never sent it so.
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] == "union_tag_not_found":
            loc, reason = ["eventType"], "is required"
        elif error["type"] == "union_tag_invalid":
            loc, reason = ["eventType"], "must be one of " + ", ".join(EVENT_TYPES)
        elif loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        items.append({"field": ".".join(loc) or "(body)", "reason": reason})
    return items
