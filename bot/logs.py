"""Logging set-up: one line per event, and nothing personal or secret ever reaches a log.

Libraries that log request URLs (httpx prints the bot token in every URL) or payloads (PTB's
DEBUG output includes message text) are held at a level where they cannot, whatever LOG_LEVEL
says; a redaction filter removes the token from anything that slips through.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

# Minimum level per noisy library, whatever LOG_LEVEL is.
LIBRARY_FLOORS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "hpack": logging.WARNING,
    "telegram": logging.INFO,
    "apscheduler": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "asyncio": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "tornado.access": logging.WARNING,
}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"


class RedactFilter(logging.Filter):
    """Replace secrets (the bot token) in a record's rendered message."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, REDACTED)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class LibraryFloorFilter(logging.Filter):
    """Drop records from chatty libraries below their floor level."""

    def filter(self, record: logging.LogRecord) -> bool:
        for prefix, floor in LIBRARY_FLOORS.items():
            if record.name == prefix or record.name.startswith(prefix + "."):
                return record.levelno >= floor
        return True


def configure_logging(
    level: str, *, secrets: list[str] | None = None, stream: TextIO | None = None
) -> None:
    """Install one handler (stderr by default) with the floor and redaction filters."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    install_filters(handler, secrets or [])
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))


def install_filters(handler: logging.Handler, secrets: list[str]) -> None:
    """Attach the privacy filters to a handler (also used by tests capturing logs)."""
    handler.addFilter(LibraryFloorFilter())
    handler.addFilter(RedactFilter(secrets))
