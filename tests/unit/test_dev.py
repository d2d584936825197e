"""The dev command's printed example is the seed's, byte for byte."""

from __future__ import annotations

from tests.seeds import seed_bodies
from ticketstream.dev import SEED_CREATE_EXAMPLE, curl_example


def test_dev_example_is_the_seed_create_example() -> None:
    assert seed_bodies()["TicketCreated"] == SEED_CREATE_EXAMPLE


def test_curl_example_posts_it_with_the_token() -> None:
    curl = curl_example(8080, "tok")
    assert "--url http://localhost:8080/api/v1/actions/tickets" in curl
    assert "--header 'Authorization: Bearer tok'" in curl
    assert curl.endswith(f"--data '{SEED_CREATE_EXAMPLE}'")
