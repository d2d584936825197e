"""No secret in any log line or error body: every log record captured around real requests."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from receiver.credentials import add_bearer_client, token_digest
from tests.integration.conftest import Cluster
from tests.integration.receiver_helpers import (
    BASIC_PASSWORD,
    BASIC_USER,
    InProcess,
    basic_header,
    in_process,
)
from tests.seeds import seed_bodies

pytestmark = pytest.mark.integration

CREATE = seed_bodies()["TicketCreated"]


@pytest.fixture
def app(cluster: Cluster, tmp_path: Path) -> Iterator[InProcess]:
    with in_process(cluster.bootstrap, tmp_path, max_body_bytes=4096) as running:
        yield running


def test_no_secret_in_logs_or_error_bodies(
    app: InProcess, caplog: pytest.LogCaptureFixture
) -> None:
    limited = add_bearer_client(app.settings.credentials_file, "stockholm", "limited")
    # Give the limited client a rate limit: one request, then 429.
    text = app.settings.credentials_file.read_text()
    digest = token_digest(limited)
    app.settings.credentials_file.write_text(
        text.replace(f'token_sha256 = "{digest}"', f'token_sha256 = "{digest}"\nrate_limit = 0.001')
    )
    wrong_token = app.token[:-1] + ("x" if app.token[-1] != "x" else "y")
    wrong_password = BASIC_PASSWORD + "!"
    basic_ok = basic_header(BASIC_USER, BASIC_PASSWORD)
    basic_wrong = basic_header(BASIC_USER, wrong_password)
    secrets = {
        "token": app.token,
        "wrong token": wrong_token,
        "limited token": limited,
        "password": BASIC_PASSWORD,
        "wrong password": wrong_password,
        "basic header": basic_ok,
        "basic credentials": basic_ok.split()[1],
        "wrong basic credentials": basic_wrong.split()[1],
    }

    caplog.set_level(logging.DEBUG)
    time.sleep(1.2)  # past the reload interval: the next request reloads the edited file
    answers = {
        200: [app.post(CREATE), app.post(CREATE, Authorization=basic_ok)],
        401: [
            app.post(CREATE, Authorization=f"Bearer {wrong_token}"),
            app.post(CREATE, Authorization=basic_wrong),
            app.post(CREATE, Authorization=basic_wrong),  # the cached rejection path
            app.post(CREATE, Authorization=app.token),  # the scheme forgotten: a bare secret
            app.post(CREATE, Authorization=f"Token {app.token}"),
            app.post(
                CREATE, Authorization="Basic " + base64.b64encode(BASIC_PASSWORD.encode()).decode()
            ),
        ],
        403: [app.post(CREATE, Host="api.malmo.example.com")],
        415: [app.post(CREATE, **{"Content-Type": "text/plain"})],
        400: [app.post(f'{{"note": "{app.token}", broken')],
        422: [app.post(CREATE.replace('"ABC123"', f'"{BASIC_PASSWORD}"'))],
        429: [
            app.post(CREATE, Authorization=f"Bearer {limited}"),
            app.post(CREATE, Authorization=f"Bearer {limited}"),
        ],
    }
    statuses = {status: [r.status_code for r in responses] for status, responses in answers.items()}
    assert statuses == {
        200: [200, 200],
        401: [401] * 6,
        403: [403],
        415: [415],
        400: [400],
        422: [422],
        429: [200, 429],
    }

    records = caplog.records
    assert any(r.name.startswith("receiver") for r in records), "no receiver log was captured"
    assert any("unauthenticated request" in r.getMessage() for r in records)
    for record in records:
        line = logging.Formatter("%(name)s %(message)s").format(record)
        for what, secret in secrets.items():
            assert secret not in line, f"{what} in the log: {record.name}"
    for responses in answers.values():
        for response in responses:
            for what, secret in secrets.items():
                assert secret not in response.text, f"{what} in a {response.status_code} body"
                assert all(secret not in value for value in response.headers.values())
