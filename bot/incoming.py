"""Incoming updates are parsed one at a time: one the library cannot read never makes us deaf.

PTB parses a whole `getUpdates` batch at once: a single update it cannot parse (say, a field
shape from a newer Bot API) fails the batch, the offset never advances, and the whole batch, names
and message text included, is logged at CRITICAL on every retry. Here each raw update is tried
alone; one that fails is skipped (the next `getUpdates` confirms it) and logged by id and type
only, never by content, and everyone else is answered. The webhook uses `parse_update` too.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, Update
from telegram.ext import ExtBot

log = logging.getLogger(__name__)

KNOWN_TYPES = frozenset(Update.ALL_TYPES)


def update_type(raw: dict[str, Any]) -> str:
    """The update's kind (`message`, `callback_query`...), or "unknown": never any content."""
    return next((key for key in raw if key in KNOWN_TYPES), "unknown")


def parse_update(raw: object, bot: Bot) -> Update | None:
    """The parsed update, or None (logged by id and type) when the library cannot parse it."""
    if not isinstance(raw, dict):
        log.warning("skipped an update that is not an object")
        return None
    try:
        return Update.de_json(raw, bot)
    except Exception as exc:  # any parse failure: the update's shape is not what PTB expects
        update_id = raw.get("update_id")
        log.warning(
            "skipped update %s (%s): it could not be parsed (%s)",
            update_id if isinstance(update_id, int) else "?",
            update_type(raw),
            type(exc).__name__,
        )
        return None


class IncomingBot(ExtBot[None]):
    """ExtBot whose getUpdates drops the updates it cannot parse and confirms them next time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._confirm_before = 0  # the next getUpdates' offset is at least this

    async def _post(self, endpoint: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if endpoint != "getUpdates":
            return await super()._post(endpoint, data, **kwargs)
        data = dict(data or {})
        offset = data.get("offset")
        if self._confirm_before and (offset is None or 0 <= offset < self._confirm_before):
            data["offset"] = self._confirm_before  # an unparsable last update is confirmed
        result = await super()._post(endpoint, data, **kwargs)
        if not isinstance(result, list):
            return result
        readable = []
        for raw in result:
            if parse_update(raw, self) is not None:
                readable.append(raw)
            elif isinstance(raw, dict) and isinstance(raw.get("update_id"), int):
                self._confirm_before = max(self._confirm_before, raw["update_id"] + 1)
        return readable
