"""RFC 9457 problem-details responses: every error the receiver sends, with the field and reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from schemas.events import EVENT_TYPES

PROBLEM_TYPE = "urn:ticketstream:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"
WWW_AUTHENTICATE = 'Bearer realm="ticketstream", Basic realm="ticketstream", charset="UTF-8"'

# Pydantic's wording where it names Python types; the client sent JSON.
_REASONS = {
    "missing": "is required",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
}


class FieldError(BaseModel):
    """One broken rule: the field as a dotted path into the body, and why."""

    field: str = Field(examples=["ticketCost.amountInclVat"])
    reason: str = Field(examples=["must not be negative"])


class Problem(BaseModel):
    """An RFC 9457 problem details object, as every error response carries."""

    type: str = Field(
        description="`urn:ticketstream:problem:<kind>`; the kind is stable, match on it.",
        examples=["urn:ticketstream:problem:validation"],
    )
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["ticketCost.amountInclVat: must not be negative"])
    errors: list[FieldError] | None = Field(None, description="Every broken field rule (422 only).")


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
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as `{"field": "ticketCost.amountInclVat", "reason": "..."}` items."""
    items = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        # A tagged union puts the eventType first in the location; the client never sent it so.
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        reason = _REASONS.get(error["type"]) or error["msg"].removeprefix("Value error, ")
        if error["type"] == "union_tag_not_found":
            loc, reason = ["eventType"], "is required"
        elif error["type"] == "union_tag_invalid":
            loc, reason = ["eventType"], "must be one of " + ", ".join(EVENT_TYPES)
        elif error["type"] == "field_rule":
            # A rule across fields (schemas.events.field_error) names the field it blames.
            ctx = error.get("ctx", {})
            loc, reason = [*loc, str(ctx["field"])], str(ctx["reason"])
        items.append({"field": ".".join(loc) or "(body)", "reason": reason})
    return items
