"""The records the fake Telegram server keeps and hands to tests: each call the bot made, each call
refused the way Telegram would, the files it knows, the current state of each bot message, and the
answers the bot gave to button presses and inline queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

JSON: TypeAlias = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One call the bot made (uploads appear as UploadedFile values)."""

    method: str
    params: JSON
    chat_id: int | str | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A call the fake refused the way Telegram would (a bot bug, not an injected fault)."""

    method: str
    params: JSON
    chat_id: int | str | None
    error_code: int
    description: str


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    data: bytes
    content_type: str | None


@dataclass(slots=True)
class FakeFile:
    """A file the fake knows by file_id; ``data`` is None for files sent by URL."""

    file_id: str
    file_unique_id: str
    data: bytes | None
    filename: str | None = None
    mime_type: str | None = None
    url: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes (0 when unknown)."""
        return len(self.data) if self.data is not None else 0


@dataclass(slots=True)
class FakeMessage:
    """The current state of one bot message.

    ``text``/``caption`` are as the bot sent them (HTML markup included); ``plain_text`` is what
    the user sees; ``reply_markup`` is whatever markup the bot sent, parsed (inline or reply).
    """

    chat_id: int
    message_id: int
    date: int
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    plain_text: str = ""
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    document: FakeFile | None = None
    photo: FakeFile | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    edit_count: int = 0

    @property
    def buttons(self) -> list[list[JSON]]:
        """Rows of inline keyboard buttons ([] when there is no inline keyboard)."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [list(row) for row in rows]

    def button(self, text: str) -> JSON:
        """The inline button whose text is exactly ``text``."""
        for row in self.buttons:
            for button in row:
                if button.get("text") == text:
                    return dict(button)
        raise LookupError(f"no button {text!r} on message {self.message_id}")


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """What the bot answered to a button press."""

    callback_query_id: str
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None


@dataclass(frozen=True, slots=True)
class InlineAnswer:
    """What the bot answered to an inline query."""

    inline_query_id: str
    user_id: int
    results: list[JSON]
    cache_time: int | None
    is_personal: bool
    next_offset: str | None
    button: JSON | None
