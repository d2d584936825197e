"""The published contracts: schemas/json/*.json and docs/asyncapi.json, kept true to the code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from schemas.envelope import envelope_bytes, new_envelope, split_key, ticket_key
from schemas.events import EVENT_TYPES, parse_event
from schemas.fields import parse_timestamp
from schemas.generate import (
    ASYNCAPI,
    COMMAND,
    DIALECT,
    PUBLISHED,
    ROOT,
    default_settings,
    drifted,
    outputs,
    schema_path,
    stale,
)
from streams.state import REASONS, Emit, Reject, TicketState, apply
from tests.seeds import seed_bodies
from ticketstream.settings import Settings
from ticketstream.topics import TopicSpec, topic_specs

SEEDS = seed_bodies()


def committed(name: str) -> dict[str, Any]:
    """A committed schema file, decoded."""
    loaded: dict[str, Any] = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return loaded


def validator(name: str) -> Draft202012Validator:
    """A validator for the committed schema `name`, checking formats (date-time) too."""
    return Draft202012Validator(committed(name), format_checker=FormatChecker())


def test_committed_files_are_what_the_models_generate() -> None:
    files = outputs()
    out_of_date = [path.relative_to(ROOT).as_posix() for path in [*drifted(files), *stale(files)]]
    assert not out_of_date, (
        f"{', '.join(out_of_date)} drifted from the models: run `{COMMAND}` "
        "and commit schemas/json/ and docs/asyncapi.json"
    )


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_each_schema_is_a_valid_2020_12_schema_with_id_and_title(name: str) -> None:
    schema = committed(name)
    Draft202012Validator.check_schema(schema)
    assert (schema["$schema"], schema["title"]) == (DIALECT, name)
    assert schema["$id"] == f"urn:ticketstream:schema:{name}"


def test_there_is_one_schema_per_event_type_and_per_topic_value() -> None:
    assert set(PUBLISHED) == {*EVENT_TYPES, "TicketEvent", "Envelope", "TicketRecord", "Rejection"}
    assert len({committed(name)["$id"] for name in PUBLISHED}) == len(PUBLISHED)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_examples_validate_against_their_event_schema(name: str) -> None:
    body = json.loads(SEEDS[name])
    validator("TicketEvent").validate(body)
    validator(body["eventType"]).validate(body)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_a_seed_without_its_event_type_fails_the_union(name: str) -> None:
    body = json.loads(SEEDS[name])
    del body["eventType"]
    assert not validator("TicketEvent").is_valid(body)


def test_the_event_schemas_refuse_what_the_receiver_refuses() -> None:
    created = json.loads(SEEDS["TicketCreated"])
    assert not validator("TicketCreated").is_valid({**created, "startDate": "2025-03-11T04:50:17"})
    assert not validator("TicketCreated").is_valid({**created, "zoneCode": "12a"})
    assert not validator("TicketCreated").is_valid({**created, "licenseNumber": "\u0410BC123"})
    amount = {**created["ticketCost"], "amountInclVat": "10,20"}
    assert not validator("TicketCreated").is_valid({**created, "ticketCost": amount})
    assert validator("CreateOrUpdate").is_valid(
        {**created, "eventType": "CreateOrUpdate", "ticketCost": amount}
    )


def worker_outputs() -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Envelopes, records and rejections (as their wire bytes) of all seeds applied in order."""
    order = ["TicketCreated", "TicketUpdated", "TicketMoved", "TicketCanceled", "CreateOrUpdate"]
    states: dict[str, TicketState] = {}
    envelopes, records, rejections = [], [], []
    for i, name in enumerate([*order, "model-example-TicketMoved"]):
        received = parse_timestamp(f"2025-03-11T05:00:0{i}Z")
        envelope = new_envelope(
            "stockholm", "easypark", parse_event(json.loads(SEEDS[name])), SEEDS[name],
            received_at=received,
        )  # fmt: skip
        envelopes.append(envelope_bytes(envelope))
        states[envelope.key], outs = apply(states.get(envelope.key), envelope)
        for out in outs:
            if isinstance(out, Emit):
                records.append(out.record.model_dump_json().encode())
            elif isinstance(out, Reject):
                rejections.append(out.rejection().model_dump_json().encode())
    return envelopes, records, rejections


ENVELOPES, RECORDS, REJECTIONS = worker_outputs()


def test_the_worker_emits_records_and_a_rejection_for_the_seeds() -> None:
    assert (len(ENVELOPES), len(RECORDS), len(REJECTIONS)) == (6, 5, 1)


@pytest.mark.parametrize(
    ("name", "values"),
    [("Envelope", ENVELOPES), ("TicketRecord", RECORDS), ("Rejection", REJECTIONS)],
)
def test_real_topic_values_validate_against_their_schema(name: str, values: list[bytes]) -> None:
    for value in values:
        validator(name).validate(json.loads(value))


def test_the_record_schema_refuses_what_is_not_a_record() -> None:
    record = json.loads(RECORDS[0])
    check = validator("TicketRecord")
    for broken in (
        {**record, "status": "expired"},
        {**record, "schemaVersion": 2},
        {**record, "surprise": 1},
        {k: v for k, v in record.items() if k != "version"},
        {**record, "cost": {"amountInclVat": 1000}},
    ):
        with pytest.raises(ValidationError):
            check.validate(broken)


# --- docs/asyncapi.json ------------------------------------------------------------------------

ASYNC = json.loads(ASYNCAPI.read_text(encoding="utf-8"))
# channel id in the document -> the value schema of its messages (None: internal, unpublished)
VALUES = {"events": "Envelope", "normalized": "TicketRecord", "rejected": "Rejection"}


def resolve(document: dict[str, Any], ref: str) -> Any:
    """Follow a local `#/a/b` reference."""
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def topic_mismatches(
    document: dict[str, Any], specs: list[TopicSpec], settings: Settings
) -> list[str]:
    """How the document's channels differ from the topics ticketstream creates."""
    channels = {channel["address"]: channel for channel in document["channels"].values()}
    problems = [f"no channel for topic {s.name}" for s in specs if s.name not in channels]
    problems += [
        f"channel {address} is no topic of ticketstream"
        for address in channels
        if address not in {s.name for s in specs}
    ]
    for spec in specs:
        kafka = channels.get(spec.name, {}).get("bindings", {}).get("kafka", {})
        policy = kafka.get("topicConfiguration", {}).get("cleanup.policy")
        if policy != spec.config["cleanup.policy"].split(","):
            created = spec.config["cleanup.policy"]
            problems.append(f"{spec.name}: cleanup.policy {policy}, the topic has {created}")
        if kafka.get("partitions") != settings.partitions:
            problems.append(f"{spec.name}: partitions {kafka.get('partitions')}")
    return problems


def test_asyncapi_channels_are_the_topics_with_their_policies() -> None:
    settings = default_settings()
    assert topic_mismatches(ASYNC, topic_specs(settings), settings) == []
    assert Settings.model_fields["partitions"].default == 12


def test_a_renamed_topic_or_changed_policy_would_be_caught() -> None:
    settings = default_settings().model_copy(update={"topic_normalized": "tickets.current"})
    assert topic_mismatches(ASYNC, topic_specs(settings), settings) == [
        "no channel for topic tickets.current",
        "channel tickets.normalized is no topic of ticketstream",
        "tickets.current: cleanup.policy None, the topic has compact",
        "tickets.current: partitions None",
    ]
    specs = topic_specs(default_settings())
    specs[2] = TopicSpec(specs[2].name, {"cleanup.policy": "compact,delete"})
    assert topic_mismatches(ASYNC, specs, default_settings()) == [
        "tickets.rejected: cleanup.policy ['delete'], the topic has compact,delete"
    ]


def test_asyncapi_document_shape() -> None:
    assert ASYNC["asyncapi"] == "3.0.0"
    assert ASYNC["defaultContentType"] == "application/json"
    assert set(ASYNC["channels"]) == {*VALUES, "changelog"}
    changelog = ASYNC["channels"]["changelog"]
    assert changelog["address"] == default_settings().changelog_topic()
    for operation in ASYNC["operations"].values():
        assert operation["action"] in ("send", "receive")
        channel = resolve(ASYNC, operation["channel"]["$ref"])
        for message in operation["messages"]:
            assert resolve(ASYNC, message["$ref"]) in channel["messages"].values()
    consumer = ASYNC["operations"]["applyEvent"]["bindings"]["kafka"]["groupId"]
    assert consumer["const"] == default_settings().worker_app_id


@pytest.mark.parametrize("channel", sorted(VALUES))
def test_asyncapi_values_reference_the_published_schemas(channel: str) -> None:
    [message] = ASYNC["channels"][channel]["messages"].values()
    payload = message["payload"]
    assert payload["schemaFormat"] == "application/schema+json;version=2020-12"
    target = (ASYNCAPI.parent / payload["schema"]["$ref"]).resolve()
    assert target == schema_path(VALUES[channel])
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == VALUES[channel]


@pytest.mark.parametrize("channel", sorted([*VALUES, "changelog"]))
def test_asyncapi_keys_are_ticket_keys(channel: str) -> None:
    [message] = ASYNC["channels"][channel]["messages"].values()
    key_schema = message["bindings"]["kafka"]["key"]
    check = Draft202012Validator(key_schema)
    key = ticket_key("stockholm", "easypark", "a/b 1")
    assert check.is_valid(key)
    assert split_key(key) == ("stockholm", "easypark", "a/b 1")
    assert not check.is_valid("Stockholm/easypark/1")
    assert not check.is_valid("stockholm/easypark/")


def test_asyncapi_lists_every_rejection_reason() -> None:
    description = ASYNC["channels"]["rejected"]["description"]
    assert all(reason in description for reason in REASONS)


def test_generate_check_reports_a_drifted_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{}\n", encoding="utf-8")
    assert drifted({path: "{}\n"}) == []
    assert drifted({path: '{"a": 1}\n', tmp_path / "missing.json": ""}) == [
        path,
        tmp_path / "missing.json",
    ]
