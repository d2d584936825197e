"""Reading a webhook's body: media type, size limit, and strict JSON (SPEC §2's 400/413/415)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from receiver.errors import ReceiverError


class BodyError(ReceiverError):
    """The body cannot be read as one JSON object; carries the problem it becomes at the edge."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicates)


def is_json(content_type: str | None) -> bool:
    """application/json or application/*+json, parameters allowed."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes whether or not Content-Length tells the truth."""
    declared = request.headers.get("content-length")
    too_large = BodyError(413, "body-too-large", f"the body must be at most {limit} bytes")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large
    if declared is not None and declared.isdigit() and "transfer-encoding" not in request.headers:
        # The server frames the body by Content-Length: no more than declared can arrive.
        try:
            return await request.body()
        except ClientDisconnect:
            raise BodyError(400, "incomplete-body", "the client disconnected") from None
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        raise BodyError(400, "incomplete-body", "the client disconnected") from None
    return b"".join(chunks)


def decode_object(body: bytes) -> dict[str, Any]:
    """One JSON object, strictly: UTF-8, no duplicate member names (RFC 7493 I-JSON)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson's messages name a position and a reason, never a slice of the input.
        raise BodyError(400, "invalid-json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BodyError(400, "not-an-object", "the body must be one JSON object")
    try:
        # orjson keeps the last of duplicate names; a consumer of the raw body may keep the
        # first. Refusing them means every reader sees the event that was validated.
        _STRICT.decode(body.decode())
    except _DuplicateKey as exc:
        raise BodyError(
            400, "duplicate-key", f"the member name {exc.key[:64]!r} appears twice in one object"
        ) from None
    except RecursionError:
        raise BodyError(400, "too-deep", "the body is nested too deeply") from None
    except ValueError as exc:
        # Not seen in fuzzing; if the two parsers ever disagree, it is still the client's body.
        raise BodyError(400, "invalid-json", f"the body is not valid JSON: {exc}") from None
    return data
