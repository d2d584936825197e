"""`ticketstream tail TOPIC`: a console consumer for watching the pipeline while `dev` runs."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer

from ticketstream.settings import Settings


def tail(settings: Settings, topic: str, *, from_beginning: bool = False) -> int:
    """Print `key<TAB>value` per message until Ctrl-C; commits nothing."""
    consumer = Consumer(
        {
            **settings.client_config(),
            "group.id": f"ticketstream-tail-{uuid.uuid4()}",
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    try:
        while True:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                print(f"# error: {message.error()}", flush=True)
                continue
            key = (message.key() or b"").decode(errors="replace")
            value = (message.value() or b"").decode(errors="replace")
            print(f"{key}\t{value}", flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()
