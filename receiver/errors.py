"""The receiver's error root: `retriable` decides 503 (retry later) against a 4xx at the edge."""

from __future__ import annotations


class ReceiverError(Exception):
    """Root of every error the receiver raises on purpose."""

    retriable = False


class Busy(ReceiverError):
    """The receiver cannot take this request now (e.g. too many password checks waiting)."""

    retriable = True
