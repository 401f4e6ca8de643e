"""The people side of the fake Telegram server: the users who write to the bot, press its buttons
and query it inline. Their actions are sync helpers that queue updates (``send_text``, ``press``,
``inline_query``...), which the bot receives through ``getUpdates`` long polling. This module also
builds the message, chat and user JSON both sides show.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from collections.abc import Callable
from datetime import datetime

from bot.sandbox.fake_telegram.records import JSON, FakeFile, FakeMessage
from bot.sandbox.fake_telegram.rules import utf16_len

_BOT_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")


class People:
    """The people part of FakeBotAPI: the users, their messages, and the update queue they fill."""

    def __init__(
        self,
        *,
        bot_username: str,
        bot_id: int,
        bot_first_name: str,
        now: Callable[[], datetime],
    ) -> None:
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.bot_first_name = bot_first_name
        self.now = now
        self._users: dict[int, JSON] = {}
        self._messages: dict[int, dict[int, FakeMessage]] = {}
        self._user_messages: dict[tuple[int, int], JSON] = {}
        self._next_message_id: dict[int, int] = {}
        self._files: dict[str, FakeFile] = {}
        self._callback_queries: dict[str, tuple[int, bool]] = {}
        self._inline_queries: dict[str, tuple[int, bool]] = {}
        self._updates: list[JSON] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._next_update_id = 1
        self._updates_changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "Alex",
        language_code: str = "en",
        last_name: str | None = None,
        username: str | None = None,
    ) -> None:
        """Make a private chat known (as if the user had opened the bot)."""
        self._users[user_id] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if last_name is not None:
            self._users[user_id]["last_name"] = last_name
        if username is not None:
            self._users[user_id]["username"] = username

    def number_updates_after(self, update_id: int) -> None:
        """Give the next updates ids above `update_id` (e.g. the highest a database recorded)."""
        with self._lock:
            self._next_update_id = max(self._next_update_id, update_id + 1)

    def send_update(self, update: JSON) -> int:
        """Queue a raw update (update_id is assigned when missing); returns the update_id."""
        with self._lock:
            update = dict(update)
            update_id = int(update.setdefault("update_id", self._next_update_id))
            self._next_update_id = max(self._next_update_id, update_id + 1)
            self._updates.append(update)
        self._notify()
        return update_id

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        """The user sends ``text`` in their private chat (or in the group ``chat_id``, a negative
        id); returns the update_id.

        The user's names are those given here, else as known (``add_user``), else "Alex".
        """
        message = self._user_message(
            user_id, first_name=first_name, language_code=language_code, chat_id=chat_id
        )
        message["text"] = text
        command = _BOT_COMMAND_RE.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command[0])}
            ]
        return self._queue_message(message)

    def send_sticker(self, user_id: int, *, emoji: str = "🙂") -> int:
        """The user sends a sticker."""
        message = self._user_message(user_id)
        file = self._store_file(b"", "sticker.webp", "image/webp")
        message["sticker"] = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._queue_message(message)

    def send_photo_message(
        self, user_id: int, *, caption: str | None = None, data: bytes = b"\xff\xd8\xff"
    ) -> int:
        """The user sends a photo (optionally captioned)."""
        message = self._user_message(user_id)
        file = self._store_file(data, "photo.jpg", "image/jpeg")
        message["photo"] = [photo_size(file)]
        if caption is not None:
            message["caption"] = caption
        return self._queue_message(message)

    def send_voice(self, user_id: int, *, duration: int = 3, data: bytes = b"OggS") -> int:
        """The user sends a voice note."""
        message = self._user_message(user_id)
        file = self._store_file(data, "voice.ogg", "audio/ogg")
        message["voice"] = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": file.size,
        }
        return self._queue_message(message)

    def edit_text(self, user_id: int, message_id: int, text: str) -> int:
        """The user edits one of their text messages (an edited_message update)."""
        original = self._user_messages.get((user_id, message_id))
        if original is None or "text" not in original:
            raise LookupError(f"user {user_id} sent no text message {message_id}")
        original.update(text=text, edit_date=self._timestamp())
        original.pop("entities", None)
        return self.send_update({"edited_message": dict(original)})

    def press(
        self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> int:
        """The user presses a button on a bot message (a callback_query with it as it is now) in
        their private chat, or in the chat ``chat_id`` (a group's message).

        The data need not be on the message, so tests can send stale or forged callback data.
        """
        chat = user_id if chat_id is None else chat_id
        message = self._messages.get(chat, {}).get(message_id)
        if message is None:
            raise LookupError(f"no bot message {message_id} in chat {chat}")
        query_id = str(4_000_000_000_000_000 + next(self._ids))
        self._callback_queries[query_id] = (user_id, False)
        return self.send_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._user(user_id),
                    "message": self._message_json(message),
                    "chat_instance": str(-chat),
                    "data": callback_data,
                }
            }
        )

    def inline_query(self, user_id: int, query: str, *, offset: str = "") -> int:
        """The user types ``@bot query`` in some chat."""
        query_id = str(5_000_000_000_000_000 + next(self._ids))
        self._inline_queries[query_id] = (user_id, False)
        return self.send_update(
            {
                "inline_query": {
                    "id": query_id,
                    "from": self._user(user_id),
                    "query": query,
                    "offset": offset,
                    "chat_type": "sender",
                }
            }
        )

    def _user(self, user_id: int) -> JSON:
        if user_id not in self._users:
            self.add_user(user_id)
        return dict(self._users[user_id])

    def _user_message(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        chat_id: int | None = None,
    ) -> JSON:
        if first_name is not None or language_code is not None:
            known = self._users.get(user_id, {})
            self.add_user(
                user_id,
                first_name=first_name or known.get("first_name", "Alex"),
                language_code=language_code or known.get("language_code", "en"),
                last_name=known.get("last_name"),
                username=known.get("username"),
            )
        chat = user_id if chat_id is None else chat_id
        return {
            "message_id": self._allocate_message_id(chat),
            "from": self._user(user_id),
            "chat": self._chat_json(chat),
            "date": self._timestamp(),
        }

    def _queue_message(self, message: JSON) -> int:
        self._user_messages[(message["chat"]["id"], message["message_id"])] = message
        return self.send_update({"message": dict(message)})

    # --- the update queue: wake the long polls --------------------------------------------------

    def _notify(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake_pollers()
        else:
            loop.call_soon_threadsafe(self._wake_pollers)

    def _wake_pollers(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    # --- builders -------------------------------------------------------------------------------

    def _timestamp(self) -> int:
        return int(self.now().timestamp())

    def _bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _store_file(self, data: bytes | None, filename: str | None, mime: str | None) -> FakeFile:
        number = next(self._ids)
        stored = FakeFile(f"FAKEFILE{number:010d}", f"U{number}", data, filename, mime)
        self._files[stored.file_id] = stored
        return stored

    def _allocate_message_id(self, chat_id: int) -> int:
        # In a private chat both sides share one message_id sequence.
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _chat_json(self, chat_id: int) -> JSON:
        if chat_id < 0:
            return {"id": chat_id, "type": "group", "title": "Test group"}
        chat: JSON = {"id": chat_id, "type": "private"}
        if chat_id in self._users:
            chat["first_name"] = self._users[chat_id]["first_name"]
        return chat

    def _message_json(self, message: FakeMessage) -> JSON:
        data: JSON = {
            "message_id": message.message_id,
            "from": self._bot_user(),
            "chat": self._chat_json(message.chat_id),
            "date": message.date,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.text is not None:
            data["text"] = message.plain_text
            if message.entities:
                data["entities"] = message.entities
        elif message.caption is not None:
            data["caption"] = message.plain_text
            if message.entities:
                data["caption_entities"] = message.entities
        if message.document is not None:
            doc = message.document
            data["document"] = {
                "file_id": doc.file_id,
                "file_unique_id": doc.file_unique_id,
                "file_size": doc.size,
                **({"file_name": doc.filename} if doc.filename else {}),
                **({"mime_type": doc.mime_type} if doc.mime_type else {}),
            }
        if message.photo is not None:
            data["photo"] = [photo_size(message.photo)]
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.reply_to_message_id is not None:
            replied = self._messages.get(message.chat_id, {}).get(message.reply_to_message_id)
            data["reply_to_message"] = (
                self._message_json(replied)
                if replied is not None
                else self._user_messages.get((message.chat_id, message.reply_to_message_id))
            )
        return data


def photo_size(file: FakeFile) -> JSON:
    """A PhotoSize for a stored file (one 90x90 size is enough for a test)."""
    return {
        "file_id": file.file_id,
        "file_unique_id": file.file_unique_id,
        "width": 90,
        "height": 90,
        "file_size": file.size,
    }
