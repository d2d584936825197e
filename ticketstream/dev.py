"""`ticketstream dev`: the whole stack on this machine, for a person, until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from deploy.localkafka import LocalKafka
from receiver.credentials import add_bearer_client
from ticketstream.processes import ManagedProcess
from ticketstream.settings import Settings
from ticketstream.topics import create_topics

DEV_DIR = Path("var/dev")
DEV_TENANT = "stockholm"
DEV_SOURCE = "dev"
# The seed's "Create a ticket" example, byte for byte (a unit test keeps it equal to the seed).
SEED_CREATE_EXAMPLE = """{
"eventType": "TicketCreated",
"ticketId": "999",
"zoneCode": "1234",
"parkingLotId": "2345",
"startDate": "2025-03-11T04:50:17+00:00",
"endDate": "2025-03-11T14:24:17+00:00",
"licenseNumber": "ABC123",
"ticketCost": {
"amountInclVat": 1000,
"vatRate": 25,
"currencyCode": "SEK"
}
}"""


class _Stop(Exception):
    pass


def _say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def dev_token(credentials: Path, token_file: Path) -> str:
    """The development bearer token, created once and kept in var/dev (development only)."""
    if token_file.exists() and credentials.exists():
        return token_file.read_text().strip()
    credentials.unlink(missing_ok=True)
    token = add_bearer_client(credentials, DEV_TENANT, DEV_SOURCE)
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    return token


def curl_example(port: int, token: str) -> str:
    """A ready-to-paste curl of the seed's create example against the local receiver."""
    return (
        f"curl --request POST \\\n"
        f"--url http://localhost:{port}/api/v1/actions/tickets \\\n"
        f"--header 'Accept: application/json' \\\n"
        f"--header 'Content-Type: application/json' \\\n"
        f"--header 'Authorization: Bearer {token}' \\\n"
        f"--data '{SEED_CREATE_EXAMPLE}'"
    )


def _wait_ready(url: str, children: list[ManagedProcess], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            if child.poll() is not None:
                raise RuntimeError(f"{child.name} exited early:\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URL)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s")


def run_dev() -> int:
    """Start Kafka (unless one is configured), topics, worker and receiver; stop all on Ctrl-C."""
    settings = Settings()
    DEV_DIR.mkdir(parents=True, exist_ok=True)
    broker: LocalKafka | None = None
    children: list[ManagedProcess] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if "TICKETSTREAM_KAFKA_BOOTSTRAP_SERVERS" in os.environ:
            _say(f"using the Kafka cluster at {settings.kafka_bootstrap_servers}")
        else:
            port = int(settings.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1])
            broker = LocalKafka(
                data_dir=DEV_DIR / "kafka", port=port, controller_port=port + 1, progress=_say
            ).start()
            _say(f"broker log: {broker.log_file}")
            settings = settings.model_copy(
                update={"kafka_bootstrap_servers": broker.bootstrap_servers}
            )
        env = {
            "TICKETSTREAM_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "TICKETSTREAM_CREDENTIALS_FILE": str(DEV_DIR / "credentials.toml"),
            "TICKETSTREAM_WORKER_DATA_DIR": os.environ.get(
                "TICKETSTREAM_WORKER_DATA_DIR", str(DEV_DIR / "worker")
            ),
        }
        created = create_topics(settings)
        _say(f"topics ready ({', '.join(created) or 'all existed'})")
        token = dev_token(DEV_DIR / "credentials.toml", DEV_DIR / "dev-token")
        for name in ("worker", "receiver"):
            child = ManagedProcess(name, [name], env, DEV_DIR / f"{name}.log").start()
            children.append(child)
            _say(f"started {name} (pid {child.pid}, log {child.log_file})")
        _wait_ready(f"http://127.0.0.1:{settings.http_port}/readyz", children)
        _say(f"receiver ready on http://localhost:{settings.http_port}")
        _say(f"development Bearer token (tenant {DEV_TENANT}, source {DEV_SOURCE}): {token}")
        _say(
            "try the seed's 'Create a ticket' example:\n\n"
            + curl_example(settings.http_port, token)
        )
        _say("\nwatch the records: .venv/bin/ticketstream tail tickets.normalized")
        _say("Ctrl-C stops everything")
        while True:
            for child in children:
                if child.poll() is not None:
                    _say(f"{child.name} exited with {child.poll()}:\n{child.log_tail()}")
                    return 1
            time.sleep(1)
    except _Stop:
        _say("stopping")
        return 0
    except Exception as exc:
        _say(f"failed: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(children):
            code = child.stop()
            _say(f"{child.name} stopped ({code})")
        if broker is not None:
            broker.stop()
            _say("Kafka stopped")


if __name__ == "__main__":
    sys.exit(run_dev())
