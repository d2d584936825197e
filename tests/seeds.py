"""The vendor reference's examples, read from the seed text itself (never retyped)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SEED_FILE = Path(__file__).parent / "fixtures" / "ticket-webhooks-api.txt"

_CURL_BODY = re.compile(r"--data '(?P<body>\{.*?\})'", re.DOTALL)
_RESOURCE = re.compile(r"JSON Resource\n(?P<body>\{.*?\n\})\n[A-Z]", re.DOTALL)


def seed_bodies() -> dict[str, str]:
    """Every example body in the seed, exactly as written, by a stable name."""
    text = SEED_FILE.read_text()
    bodies: dict[str, str] = {}
    resource = _RESOURCE.search(text)
    assert resource is not None, "the seed's JSON Resource example is gone"
    bodies["model-example-TicketMoved"] = resource.group("body")
    for match in _CURL_BODY.finditer(text):
        body = match.group("body")
        bodies[json.loads(body)["eventType"]] = body
    return bodies


def seed_body(name: str) -> dict[str, Any]:
    """One seed example decoded."""
    decoded: dict[str, Any] = json.loads(seed_bodies()[name])
    return decoded
