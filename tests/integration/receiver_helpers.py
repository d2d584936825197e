"""Helpers for the receiver's integration tests: an in-process app on the real broker, raw HTTP."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.credentials import hash_password
from tests.integration.kafka import unique_settings
from ticketstream.settings import Settings
from ticketstream.topics import create_topics

WEBHOOK = "/api/v1/actions/tickets"
BASIC_USER = "parkster"
BASIC_PASSWORD = "correct horse battery staple"


def basic_header(user: str, password: str) -> str:
    """An Authorization header value for Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def add_basic_client(file: Path, tenant: str = "stockholm", source: str = "parkster") -> None:
    """Append a Basic client (cheap scrypt cost, so tests stay fast) to a credentials file."""
    encoded = hash_password(BASIC_PASSWORD, n=1024, r=8, p=1)
    with file.open("a") as out:
        out.write(
            f'\n[[client]]\ntenant = "{tenant}"\nsource = "{source}"\n'
            f'username = "{BASIC_USER}"\npassword_hash = "{encoded}"\n'
        )


@dataclass
class InProcess:
    """The real app (real lifespan, real producer) behind a TestClient, with its own topics."""

    client: TestClient
    settings: Settings
    token: str

    def post(self, body: str | bytes, **headers: str) -> Any:
        """POST a body with this app's Bearer token and JSON content type unless overridden."""
        sent = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            **headers,
        }
        return self.client.post(WEBHOOK, content=body, headers=sent)


@contextlib.contextmanager
def in_process(bootstrap: str, workdir: Path, **overrides: object) -> Iterator[InProcess]:
    """Create topics and credentials (Bearer and Basic), start the app, stop it afterwards."""
    settings, token = unique_settings(bootstrap, workdir, **overrides)
    add_basic_client(settings.credentials_file)
    create_topics(settings)
    with TestClient(create_app(settings), base_url="http://localhost") as client:
        yield InProcess(client, settings, token)


@dataclass
class RawResponse:
    """Status, headers (lower-case names) and body of one HTTP/1.1 response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


def raw_request(port: int, request: bytes, *, timeout: float = 15.0) -> RawResponse:
    """Send bytes exactly as given to 127.0.0.1:port and read one response (Connection: close).

    The sending side stays open: uvicorn takes a half-close as the client going away.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return RawResponse(int(status_line.split()[1]), headers, body)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out
