"""Write the published contracts: JSON Schemas in schemas/json/ and docs/asyncapi.json.

`python -m schemas.generate` rewrites them from the models and the default settings;
`python -m schemas.generate --check` only reports the files that drifted (exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import CoreSchema

from schemas.envelope import Envelope
from schemas.events import (
    EVENT_ADAPTER,
    CreateOrUpdate,
    TicketCanceled,
    TicketCreated,
    TicketMoved,
    TicketStopped,
    TicketUpdated,
)
from schemas.records import Rejection, TicketRecord
from ticketstream.settings import Settings
from ticketstream.topics import TopicSpec, topic_specs

ROOT = Path(__file__).resolve().parents[1]
JSON_DIR = ROOT / "schemas" / "json"
ASYNCAPI = ROOT / "docs" / "asyncapi.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FORMAT = "application/schema+json;version=2020-12"
COMMAND = "python -m schemas.generate"
KEY_PATTERN = "^[a-z0-9-]+/[a-z0-9-]+/.+$"
KAFKA_BINDING = "0.5.0"

Mode = Literal["validation", "serialization"]
# name -> (model, mode, description). Inbound events are what the receiver accepts
# (validation); everything on a topic is what the code writes (serialization).
PUBLISHED: dict[str, tuple[type[BaseModel] | TypeAdapter[Any], Mode, str | None]] = {
    "TicketEvent": (
        EVENT_ADAPTER,
        "validation",
        "One webhook body as POSTed to /api/v1/actions/tickets; `eventType` selects the shape. "
        "Unknown members are ignored. Not expressed here, enforced by the receiver: endDate not "
        "before startDate; TicketMoved carries fromLicenseNumber and toLicenseNumber together, "
        "or licenseNumber alone (or all three, licenseNumber equal to toLicenseNumber).",
    ),
    **{
        model.__name__: (model, "validation", None)
        for model in (
            TicketCreated,
            TicketUpdated,
            TicketStopped,
            TicketMoved,
            TicketCanceled,
            CreateOrUpdate,
        )
    },
    "Envelope": (Envelope, "serialization", None),
    "TicketRecord": (TicketRecord, "serialization", None),
    "Rejection": (Rejection, "serialization", None),
}


class _Generator(GenerateJsonSchema):
    # Field titles pydantic derives from names ("Ticketid") add nothing to a published schema.
    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


def json_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema `name` (a key of PUBLISHED), with `$schema`, `$id` and title."""
    model, mode, description = PUBLISHED[name]
    adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    schema = adapter.json_schema(mode=mode, schema_generator=_Generator)
    schema.pop("title", None)
    head: dict[str, Any] = {"$schema": DIALECT, "$id": schema_id(name), "title": name}
    if description is not None:
        head["description"] = description
    return {**head, **schema}


def schema_id(name: str) -> str:
    """The `$id` of a published schema: a URN, since the files have no one canonical URL."""
    return f"urn:ticketstream:schema:{name}"


def schema_path(name: str) -> Path:
    """Where the published schema `name` is committed."""
    return JSON_DIR / f"{name}.json"


def default_settings() -> Settings:
    """The settings' defaults, whatever `TICKETSTREAM_*` variables this process has."""
    return Settings.model_construct()


def _topic(
    spec: TopicSpec, partitions: int, description: str, message: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """A channel for one topic, with its one message inline."""
    return {
        "address": spec.name,
        "description": description,
        "messages": {
            message: {
                "name": message,
                "contentType": "application/json",
                "payload": payload,
                "bindings": {
                    # Inline, not a $ref: the AsyncAPI 3.0 JSON Schema takes a $ref here for
                    # both branches of a oneOf and rejects it.
                    "kafka": {"key": ticket_key_schema(), "bindingVersion": KAFKA_BINDING}
                },
            }
        },
        "bindings": {
            "kafka": {
                "partitions": partitions,
                "topicConfiguration": {"cleanup.policy": spec.config["cleanup.policy"].split(",")},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def ticket_key_schema() -> dict[str, Any]:
    """The JSON Schema of every topic's key."""
    return {
        "type": "string",
        "pattern": KEY_PATTERN,
        "description": _KEY,
        "examples": ["stockholm/easypark/999"],
    }


def _published(name: str) -> dict[str, Any]:
    relative = schema_path(name).relative_to(ROOT).as_posix()
    return {"schemaFormat": SCHEMA_FORMAT, "schema": {"$ref": f"../{relative}"}}


def _operation(action: str, channel: str, message: str, summary: str) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
        "summary": summary,
    }


_INFO = """\
The Kafka topics of ticketstream, with the default settings. The topic names are settings \
(TICKETSTREAM_TOPIC_EVENTS, TICKETSTREAM_TOPIC_NORMALIZED, TICKETSTREAM_TOPIC_REJECTED; the \
changelog is `{TICKETSTREAM_WORKER_APP_ID}-tickets-changelog`), and so is the partition count \
(TICKETSTREAM_PARTITIONS, one count for every topic). Every message is keyed \
`{tenant}/{source}/{ticketId}`: all messages of one ticket share a partition, in order. How to \
read the topics: docs/CONTRACTS.md and docs/STREAMS.md."""
_KEY = """\
`{tenant}/{source}/{ticketId}`, UTF-8. Tenant and source are lower-case `[a-z0-9-]+`; the \
ticketId may contain `/`, so split on the first two slashes only."""
_NORMALIZED = """\
The whole record of a ticket after every change. Compacted: read from the beginning and keep \
the highest `version` per key. Valid for plate P in zone Z at time T: status active or stopped, \
licenseNumber P, zoneCode Z, validFrom <= T and (validUntil null or T < validUntil). Canceled \
records stay on the topic; there are no tombstones."""


def asyncapi_document(settings: Settings) -> dict[str, Any]:
    """AsyncAPI 3.0 description of the topics for `settings` (names, keys, values, policies)."""
    from streams.state import REASONS

    events, normalized, rejected, changelog = topic_specs(settings)
    n = settings.partitions
    state = {"type": "object", "description": "streams.state.TicketState as JSON."}
    return {
        "asyncapi": "3.0.0",
        "id": "urn:ticketstream",
        "info": {"title": "ticketstream topics", "version": "1", "description": _INFO},
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": settings.kafka_bootstrap_servers,
                "protocol": "kafka",
                "description": "The broker of `make dev`; elsewhere "
                "TICKETSTREAM_KAFKA_BOOTSTRAP_SERVERS.",
            }
        },
        "channels": {
            "events": _topic(
                events, n, "Every accepted webhook, published before the receiver answers 200: "
                "eventId (UUIDv7), receivedAt, tenant, source, the validated event and the raw "
                "body.", "Envelope", _published("Envelope"),
            ),
            "normalized": _topic(
                normalized, n, _NORMALIZED, "TicketRecord", _published("TicketRecord")
            ),
            "rejected": _topic(
                rejected, n, "Events the worker could not apply. `reason` is one of: "
                + ", ".join(REASONS) + ".", "Rejection", _published("Rejection"),
            ),
            "changelog": _topic(
                changelog, n, "The worker's ticket table (Faust). Internal, not a contract: "
                "the value may change with any release; read tickets.normalized instead.",
                "TicketState", state,
            ),
        },
        "operations": {
            "publishEvent": _operation(
                "send", "events", "Envelope", "The receiver publishes each accepted webhook."
            ),
            "applyEvent": {
                **_operation(
                    "receive", "events", "Envelope", "The worker applies each event in order."
                ),
                "bindings": {
                    "kafka": {
                        "groupId": {"type": "string", "const": settings.worker_app_id},
                        "bindingVersion": KAFKA_BINDING,
                    }
                },
            },
            "emitRecord": _operation(
                "send", "normalized", "TicketRecord", "The worker emits the record on a change."
            ),
            "emitRejection": _operation(
                "send", "rejected", "Rejection", "The worker rejects an event it cannot apply."
            ),
            "storeState": _operation(
                "send", "changelog", "TicketState", "The worker stores the ticket's new state."
            ),
        },
    }  # fmt: skip


def render(document: dict[str, Any]) -> str:
    """A committed file's text: two-space indent, insertion order, UTF-8, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file and its text."""
    files = {schema_path(name): render(json_schema(name)) for name in PUBLISHED}
    files[ASYNCAPI] = render(asyncapi_document(default_settings()))
    return files


def drifted(files: dict[Path, str]) -> list[Path]:
    """The generated files whose committed text differs (or that are missing)."""
    return [
        path
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def stale(files: dict[Path, str]) -> list[Path]:
    """Committed schema files that no model generates any more."""
    return sorted(set(JSON_DIR.glob("*.json")) - set(files))


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) every generated contract file."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    files = outputs()
    changed, extra = drifted(files), stale(files)
    if args.check:
        for path in [*changed, *extra]:
            print(f"{path.relative_to(ROOT)} is out of date: run `{COMMAND}`", file=sys.stderr)
        return 1 if changed or extra else 0
    JSON_DIR.mkdir(parents=True, exist_ok=True)
    for path in changed:
        path.write_text(files[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    for path in extra:
        path.unlink()
        print(f"removed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
