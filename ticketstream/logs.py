"""Process-wide logging setup, called once by each entry point."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    """key=value friendly plain-text logs on stderr."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
