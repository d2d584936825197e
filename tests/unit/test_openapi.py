"""receiver.openapi: a valid OpenAPI 3.1 document, generated from the models, kept in the repo."""

from __future__ import annotations

import json

import jsonschema
import pytest
from openapi_spec_validator import validate

from receiver.openapi import COMMITTED, WEBHOOK_PATH, openapi_document, render
from tests.seeds import seed_bodies

DOCUMENT = openapi_document()


def test_committed_document_matches_the_app() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(DOCUMENT), (
        "docs/openapi.json drifted from the models: run `ticketstream openapi` and commit it"
    )


def test_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    validate(DOCUMENT)


def test_webhook_operation() -> None:
    post = DOCUMENT["paths"][WEBHOOK_PATH]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketEvent"
    }
    assert sorted(post["responses"]) == [
        "200",
        "400",
        "401",
        "403",
        "413",
        "415",
        "422",
        "429",
        "503",
    ]
    for status, response in post["responses"].items():
        if status == "200":
            assert response["content"]["application/json"]["example"] == []
            continue
        problem = response["content"]["application/problem+json"]
        assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert problem["example"]["status"] == int(status)
    assert "WWW-Authenticate" in post["responses"]["401"]["headers"]
    assert "Retry-After" in post["responses"]["429"]["headers"]
    assert "Retry-After" in post["responses"]["503"]["headers"]
    assert DOCUMENT["security"] == [{"bearerAuth": []}, {"basicAuth": []}]
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert (schemes["bearerAuth"]["scheme"], schemes["basicAuth"]["scheme"]) == ("bearer", "basic")


def test_event_union_is_discriminated_by_event_type() -> None:
    union = DOCUMENT["components"]["schemas"]["TicketEvent"]
    assert union["discriminator"]["propertyName"] == "eventType"
    assert sorted(union["discriminator"]["mapping"]) == [
        "CreateOrUpdate",
        "TicketCanceled",
        "TicketCreated",
        "TicketMoved",
        "TicketStopped",
        "TicketUpdated",
    ]


def test_field_schemas_say_what_the_validator_accepts() -> None:
    created = DOCUMENT["components"]["schemas"]["TicketCreated"]["properties"]
    zone_types = {alt["type"] for alt in created["zoneCode"]["anyOf"]}
    assert zone_types == {"integer", "string"}
    assert {alt["type"] for alt in created["ticketId"]["anyOf"]} == {"integer", "string"}
    flexible = DOCUMENT["components"]["schemas"]["FlexibleTicketCost"]["properties"]
    amount_types = {alt.get("type") for alt in flexible["amountInclVat"]["anyOf"][0]["anyOf"]}
    assert amount_types == {"integer", "string"}


@pytest.mark.parametrize("name", sorted(seed_bodies()))
def test_seed_examples_validate_against_the_document(name: str) -> None:
    schema = {"$ref": "#/components/schemas/TicketEvent", "components": DOCUMENT["components"]}
    jsonschema.validate(json.loads(seed_bodies()[name]), schema)


def test_problem_schema_validates_an_error_body() -> None:
    schema = {"$ref": "#/components/schemas/Problem", "components": DOCUMENT["components"]}
    body = {
        "type": "urn:ticketstream:problem:validation",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "ticketId: is required",
        "errors": [{"field": "ticketId", "reason": "is required"}],
    }
    jsonschema.validate(body, schema)
