"""schemas.events: the six event shapes, required/nullable rules, TicketMoved's two forms (SPEC §2).

The seed examples are read from the vendor reference text itself (tests/seeds.py), never retyped.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from receiver.problems import field_errors
from schemas.events import (
    EVENT_ADAPTER,
    CreateOrUpdate,
    TicketCanceled,
    TicketCreated,
    TicketMoved,
    TicketStopped,
    TicketUpdated,
    parse_event,
)
from tests.seeds import seed_bodies, seed_body

SEEDS = seed_bodies()
SCHEMA = EVENT_ADAPTER.json_schema(mode="validation")


def errors_of(body: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as info:
        parse_event(body)
    return field_errors(info.value)


def test_the_seed_has_all_six_examples() -> None:
    assert sorted(SEEDS) == [
        "CreateOrUpdate",
        "TicketCanceled",
        "TicketCreated",
        "TicketMoved",
        "TicketUpdated",
        "model-example-TicketMoved",
    ]


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_example_is_accepted_as_written(name: str) -> None:
    event = EVENT_ADAPTER.validate_json(SEEDS[name])
    assert event.eventType == json.loads(SEEDS[name])["eventType"]


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_example_matches_the_published_json_schema(name: str) -> None:
    jsonschema.validate(json.loads(SEEDS[name]), SCHEMA)


def test_create_example_is_normalized() -> None:
    event = parse_event(seed_body("TicketCreated"))
    assert isinstance(event, TicketCreated)
    assert EVENT_ADAPTER.dump_python(event, mode="json") == {
        "eventType": "TicketCreated",
        "ticketId": "999",
        "zoneCode": 1234,
        "parkingLotId": 2345,
        "startDate": "2025-03-11T04:50:17Z",
        "endDate": "2025-03-11T14:24:17Z",
        "licenseNumber": "ABC123",
        "ticketCost": {"amountInclVat": 1000, "vatRate": 25, "currencyCode": "SEK"},
    }


def test_create_or_update_example_reads_the_string_amount_as_units() -> None:
    event = parse_event(seed_body("CreateOrUpdate"))
    assert isinstance(event, CreateOrUpdate)
    assert event.ticketCost is not None
    assert event.ticketCost.amountInclVat == 1020


def test_model_example_is_a_full_ticket_move_with_an_integer_ticket_id() -> None:
    event = parse_event(seed_body("model-example-TicketMoved"))
    assert isinstance(event, TicketMoved)
    assert event.is_full_ticket
    assert event.ticketId == "71963"
    assert event.licenseNumber == "EGY918"
    assert event.zoneCode == 1211


def test_from_to_move_example() -> None:
    event = parse_event(seed_body("TicketMoved"))
    assert isinstance(event, TicketMoved)
    assert not event.is_full_ticket
    assert (event.fromLicenseNumber, event.toLicenseNumber) == ("ABC123", "ABC124")


def test_updated_and_stopped_share_the_update_example_shape() -> None:
    body = seed_body("TicketUpdated")
    assert isinstance(parse_event(body), TicketUpdated)
    assert isinstance(parse_event({**body, "eventType": "TicketStopped"}), TicketStopped)


def test_cancel_needs_only_the_ticket_id() -> None:
    assert parse_event(seed_body("TicketCanceled")) == TicketCanceled(
        eventType="TicketCanceled", ticketId="999"
    )


def test_unknown_fields_are_ignored() -> None:
    body = {**seed_body("TicketCreated"), "vendorExtra": {"a": [1, 2]}, "note": "hi"}
    body["ticketCost"] = {**body["ticketCost"], "discount": 5}
    assert parse_event(body) == parse_event(seed_body("TicketCreated"))


# --- required and nullable ------------------------------------------------------------------

CREATE_REQUIRED = ["ticketId", "zoneCode", "startDate", "licenseNumber"]
UPDATE_REQUIRED = [*CREATE_REQUIRED, "endDate", "ticketCost"]


@pytest.mark.parametrize("event_type", ["TicketCreated", "CreateOrUpdate"])
@pytest.mark.parametrize("field", CREATE_REQUIRED)
def test_create_requires(event_type: str, field: str) -> None:
    body = {**seed_body(event_type), "eventType": event_type}
    del body[field]
    assert errors_of(body) == [{"field": field, "reason": "is required"}]


@pytest.mark.parametrize("event_type", ["TicketCreated", "CreateOrUpdate"])
def test_create_allows_null_end_lot_and_cost_fields(event_type: str) -> None:
    body = {
        **seed_body(event_type),
        "endDate": None,
        "parkingLotId": None,
        "ticketCost": {"amountInclVat": None, "vatRate": None, "currencyCode": None},
    }
    event = parse_event(body)
    assert isinstance(event, TicketCreated | CreateOrUpdate)
    assert event.endDate is None
    assert event.parkingLotId is None
    del body["ticketCost"], body["endDate"], body["parkingLotId"]
    assert parse_event(body).ticketCost is None  # type: ignore[union-attr]


@pytest.mark.parametrize("event_type", ["TicketUpdated", "TicketStopped"])
@pytest.mark.parametrize("field", UPDATE_REQUIRED)
def test_update_and_stop_require(event_type: str, field: str) -> None:
    body = {**seed_body("TicketUpdated"), "eventType": event_type}
    del body[field]
    assert errors_of(body) == [{"field": field, "reason": "is required"}]


@pytest.mark.parametrize("event_type", ["TicketUpdated", "TicketStopped"])
@pytest.mark.parametrize("field", ["amountInclVat", "vatRate", "currencyCode"])
def test_update_and_stop_require_the_whole_cost(event_type: str, field: str) -> None:
    body = {**seed_body("TicketUpdated"), "eventType": event_type}
    body["ticketCost"] = {**body["ticketCost"], field: None}
    [error] = errors_of(body)
    assert error["field"] == f"ticketCost.{field}"


@pytest.mark.parametrize("event_type", ["TicketUpdated", "TicketStopped"])
def test_update_and_stop_allow_a_null_parking_lot(event_type: str) -> None:
    body = {**seed_body("TicketUpdated"), "eventType": event_type, "parkingLotId": None}
    assert parse_event(body).parkingLotId is None  # type: ignore[union-attr]


def test_end_before_start_is_refused() -> None:
    body = {**seed_body("TicketCreated"), "endDate": "2025-03-11T04:50:16+00:00"}
    assert errors_of(body) == [{"field": "endDate", "reason": "must not be before startDate"}]


def test_end_equal_to_start_is_fine_and_offsets_compare_as_instants() -> None:
    body = {
        **seed_body("TicketCreated"),
        "startDate": "2025-03-11T06:50:17+02:00",
        "endDate": "2025-03-11T04:50:17Z",
    }
    event = parse_event(body)
    assert event.startDate == event.endDate  # type: ignore[union-attr]


def test_string_amounts_are_only_for_create_or_update() -> None:
    body = seed_body("CreateOrUpdate")
    for event_type in ("TicketCreated", "TicketUpdated", "TicketStopped"):
        assert errors_of({**body, "eventType": event_type}) == [
            {"field": "ticketCost.amountInclVat", "reason": "must be an integer number of cents"}
        ]


def test_every_broken_field_is_named() -> None:
    body = {
        "eventType": "TicketCreated",
        "ticketId": "",
        "zoneCode": "x",
        "startDate": "2025-03-11T04:50:17",
        "licenseNumber": "ÅÄÖ-\u0410",
        "ticketCost": {"amountInclVat": -1, "vatRate": 101, "currencyCode": "kronor"},
    }
    assert [e["field"] for e in errors_of(body)] == [
        "ticketId",
        "zoneCode",
        "startDate",
        "licenseNumber",
        "ticketCost.amountInclVat",
        "ticketCost.vatRate",
        "ticketCost.currencyCode",
    ]


def test_cost_must_be_an_object() -> None:
    body = {**seed_body("TicketCreated"), "ticketCost": 1000}
    assert errors_of(body) == [{"field": "ticketCost", "reason": "must be an object"}]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "is required"),
        ({"ticketId": "1"}, "is required"),
        ({"eventType": "TicketDeleted", "ticketId": "1"}, "must be one of"),
        ({"eventType": "ticketcreated", "ticketId": "1"}, "must be one of"),
        ({"eventType": 5, "ticketId": "1"}, "must be one of"),
        ({"eventType": None, "ticketId": "1"}, "must be one of"),
    ],
)
def test_event_type_is_required_and_known(body: dict[str, Any], reason: str) -> None:
    [error] = errors_of(body)
    assert error["field"] == "eventType"
    assert error["reason"].startswith(reason)


# --- TicketMoved ----------------------------------------------------------------------------


def move(**fields: object) -> dict[str, Any]:
    return {"eventType": "TicketMoved", "ticketId": "999", **fields}


def test_move_needs_both_plates_of_the_from_to_form() -> None:
    assert errors_of(move(fromLicenseNumber="ABC123")) == [
        {"field": "toLicenseNumber", "reason": "is required when fromLicenseNumber is given"}
    ]
    assert errors_of(move(toLicenseNumber="ABC124")) == [
        {"field": "fromLicenseNumber", "reason": "is required when toLicenseNumber is given"}
    ]


def test_move_needs_a_plate() -> None:
    assert errors_of(move()) == [
        {
            "field": "licenseNumber",
            "reason": "is required unless fromLicenseNumber and toLicenseNumber are",
        }
    ]


def test_move_with_both_forms_must_agree_on_the_new_plate() -> None:
    agreed = parse_event(
        move(fromLicenseNumber="abc 123", toLicenseNumber="ABC124", licenseNumber="abc-124")
    )
    assert isinstance(agreed, TicketMoved)
    assert not agreed.is_full_ticket
    assert errors_of(
        move(fromLicenseNumber="ABC123", toLicenseNumber="ABC124", licenseNumber="ABC123")
    ) == [{"field": "licenseNumber", "reason": "must equal toLicenseNumber when both are sent"}]


def test_full_ticket_move_checks_dates_too() -> None:
    body = {**seed_body("model-example-TicketMoved"), "endDate": "2025-03-11T04:37:15+00:00"}
    assert errors_of(body) == [{"field": "endDate", "reason": "must not be before startDate"}]


# --- the JSON Schema is never stricter than the validator -----------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_FIELD_VALUES = st.one_of(
    _JSON,
    st.sampled_from(["1234", "0012", "ab c-12", "ÅÄÖ 9", "2025-03-11T04:37:16Z", "10,20", "SEK"]),
    st.sampled_from(["2025-03-11 04:37+0100", "2025-03-11T04:37:16", "-1", " 1", "12.5", "z"]),
    st.integers(-(2**64), 2**64),
)


@st.composite
def mutated_seed(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    body["eventType"] = draw(
        st.sampled_from(sorted({json.loads(s)["eventType"] for s in SEEDS.values()}))
    )
    for _ in range(draw(st.integers(0, 3))):
        field = draw(
            st.sampled_from([*body, "fromLicenseNumber", "toLicenseNumber", "parkingLotId"])
        )
        if field == "ticketCost" and isinstance(body.get(field), dict) and draw(st.booleans()):
            part = draw(st.sampled_from(["amountInclVat", "vatRate", "currencyCode"]))
            body["ticketCost"][part] = draw(_FIELD_VALUES)
        elif draw(st.booleans()):
            body.pop(field, None)
        else:
            body[field] = draw(_FIELD_VALUES)
    return body


@given(mutated_seed())
def test_whatever_the_validator_accepts_the_schema_accepts(body: dict[str, Any]) -> None:
    try:
        parse_event(body)
    except ValidationError:
        return
    jsonschema.validate(body, SCHEMA)
