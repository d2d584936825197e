"""A bare faust agent: consume -> produce with no decoding, the framework's own ceiling.

Run by bench/worker.py as `python -m bench.faust_passthrough worker -l warn` with BENCH_BOOTSTRAP,
BENCH_SOURCE, BENCH_SINK and BENCH_PARTITIONS in the environment.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import faust

app = faust.App(
    f"bench-faust-{uuid.uuid4().hex[:6]}",
    broker=f"kafka://{os.environ.get('BENCH_BOOTSTRAP', '127.0.0.1:9092')}",
    store="memory://",
    autodiscover=False,
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    producer_linger=0.02,
    key_serializer="raw",
    value_serializer="raw",
)
_partitions = int(os.environ.get("BENCH_PARTITIONS", "12"))
_source = app.topic(
    os.environ.get("BENCH_SOURCE", "source"),
    key_type=bytes,
    value_type=bytes,
    partitions=_partitions,
)
_sink = os.environ.get("BENCH_SINK", "sink")


@app.agent(_source)
async def passthrough(stream: Any) -> None:
    """Forward every message unchanged, through the same producer call the worker uses."""
    async for event in stream.events():
        await app.producer.send(_sink, event.key, event.value, None, None, None)


if __name__ == "__main__":
    app.main()
