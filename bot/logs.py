"""Logging set-up: one line per event, and nothing personal or secret ever reaches a log.

LOG_FORMAT=text prints readable lines; LOG_FORMAT=json one JSON object a line for log collectors
(python-json-logger), with fixed keys only. Both pass the same filters.

Libraries that log request URLs (httpx prints the bot token in every URL) or payloads (PTB's
DEBUG output includes message text) are held at a level where they cannot, whatever LOG_LEVEL
says; a redaction filter removes the token from anything that slips through.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType
from typing import Any, Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

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
# The keys of a JSON log line, in this order; nothing else is written.
JSON_KEYS = ("time", "level", "logger", "message", "exc_info", "stack_info")
Format = Literal["text", "json"]


class RedactFilter(logging.Filter):
    """Replace secrets (the bot token) in everything a record will print: the message, the
    formatted exception (PTB's InvalidToken carries the token in its text) and the stack.

    The exception is formatted here, redacted, and kept as `exc_text` in place of `exc_info`, so
    whatever formatter runs next prints the redacted text. A Telegram token's secret part (after
    the colon) is redacted on its own too, as it also appears URL-encoded or split.
    """

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = _variants(secrets)

    def redact(self, text: str) -> str:
        """The text with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FORMATTER = logging.Formatter()
# A token's secret part is long; anything this short is not worth redacting on its own.
_MIN_PART = 8


def _variants(secrets: list[str]) -> list[str]:
    """Each secret, and a Telegram token's part after the colon; longest first."""
    found = {s for s in secrets if s}
    found |= {s.partition(":")[2] for s in found if len(s.partition(":")[2]) >= _MIN_PART}
    return sorted(found, key=len, reverse=True)


class LibraryFloorFilter(logging.Filter):
    """Drop records from chatty libraries below their floor level."""

    def filter(self, record: logging.LogRecord) -> bool:
        for prefix, floor in LIBRARY_FLOORS.items():
            if record.name == prefix or record.name.startswith(prefix + "."):
                return record.levelno >= floor
        return True


class JsonLines(JsonFormatter):
    """One JSON object a line with the keys in JSON_KEYS. Extra attributes a caller attached to
    a record are left out: they never went through the redaction filter."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )

    def process_log_record(self, log_record: dict[str, Any]) -> dict[str, Any]:
        return {key: log_record[key] for key in JSON_KEYS if key in log_record}


def configure_logging(
    level: str,
    *,
    secrets: list[str] | None = None,
    stream: TextIO | None = None,
    fmt: Format = "text",
) -> None:
    """Install one handler (stderr by default) with the floor and redaction filters."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(LOG_FORMAT))
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


def log_uncaught_exceptions() -> None:
    """Print an uncaught exception through logging (so redacted), not straight to stderr."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, error, tb))

    sys.excepthook = hook
