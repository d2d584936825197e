"""Log lines in both formats carry the ticket context as fields."""

from __future__ import annotations

import json
import logging

import pytest

from ticketstream.logs import JsonFormatter, TextFormatter, configure_logging, fields


def _record(**context: object) -> logging.LogRecord:
    record = logging.LogRecord("streams.agents", logging.INFO, __file__, 1, "rejected", (), None)
    for key, value in fields(**context).items():
        setattr(record, key, value)
    return record


def test_json_line_has_context_fields() -> None:
    line = JsonFormatter().format(
        _record(tenant="stockholm", ticketId="999", eventId="e1", reason="plate_mismatch")
    )
    entry = json.loads(line)
    assert entry["message"] == "rejected"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "streams.agents"
    assert (entry["tenant"], entry["ticketId"], entry["eventId"], entry["reason"]) == (
        "stockholm",
        "999",
        "e1",
        "plate_mismatch",
    )
    assert entry["time"].endswith("+00:00")


def test_text_line_appends_key_value_pairs() -> None:
    line = TextFormatter().format(_record(tenant="stockholm", source=None, eventId="e1"))
    assert line.endswith("INFO streams.agents rejected tenant=stockholm eventId=e1")


def test_json_exception_is_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_configure_logging_json_writes_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    try:
        logging.getLogger("receiver.routes").info(
            "request refused", extra=fields(tenant="t", credential="bearer:ab12cd34")
        )
        err = capsys.readouterr().err.strip().splitlines()
        assert json.loads(err[-1])["credential"] == "bearer:ab12cd34"
    finally:
        logging.config.dictConfig({"version": 1, "incremental": False, "root": {"handlers": []}})
