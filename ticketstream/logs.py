"""Process-wide logging: plain text or JSON lines, with ticket context as fields.

Call sites pass context with `extra=fields(tenant=..., eventId=...)`; text logs append it as
`key=value`, JSON logs make each one a field. Secrets never go into a message or a field.
"""

from __future__ import annotations

import logging
import logging.config
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]
_ATTR = "ticketstream_context"


def fields(**context: object) -> dict[str, dict[str, object]]:
    """`extra=` for a log call: the ticket context of this line (None values left out)."""
    return {_ATTR: {key: value for key, value in context.items() if value is not None}}


def _context(record: logging.LogRecord) -> dict[str, object]:
    context: dict[str, object] = getattr(record, _ATTR, {})
    return context


class TextFormatter(logging.Formatter):
    """`time level logger message key=value ...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The line, with the context appended as key=value."""
        line = super().format(record)
        context = _context(record)
        if not context:
            return line
        head, sep, tail = line.partition("\n")
        pairs = " ".join(f"{key}={value}" for key, value in context.items())
        return f"{head} {pairs}{sep}{tail}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def logging_config(level: str = "INFO", log_format: LogFormat = "text") -> dict[str, Any]:
    """A dictConfig for the root logger (faust's Worker takes the same dict)."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default"},
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }


def configure_logging(level: str = "INFO", log_format: LogFormat = "text") -> None:
    """Configure the root logger once per process."""
    logging.config.dictConfig(logging_config(level, log_format))
