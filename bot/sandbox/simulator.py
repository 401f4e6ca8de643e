"""Drive the real Application as a user would, through the fake Bot API server.

Shared by the local sandbox and the dialogue tests: a user "sends" text or "presses" a button
(the fake server queues an update), the Application fetches it over real HTTP with long polling
and handles it, and the simulator returns what the bot showed in that chat as a result.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot.app import ALLOWED_UPDATES, BotApplication, ClockJob, Runtime, started
from bot.incoming import IncomingBot
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.sandbox.fake_telegram.server import FakeBotAPI


class TrackingApplication(BotApplication):
    """An Application that lets callers wait until a given update has been fully handled."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._finished: dict[int, asyncio.Event] = {}
        if isinstance(self.bot, IncomingBot):  # dropped on arrival: finished, with nothing done
            self.bot.on_dropped(lambda update_id: self._event(update_id).set())

    def _event(self, update_id: int) -> asyncio.Event:
        return self._finished.setdefault(update_id, asyncio.Event())

    async def process_update(self, update: object) -> None:
        """Handle the update as usual, then mark it finished (even when a handler failed)."""
        try:
            await super().process_update(update)
        finally:
            if isinstance(update, Update):
                self._event(update.update_id).set()

    async def wait_finished(self, update_id: int, within: float) -> None:
        """Wait (at most `within` seconds) until the update with this id has been handled."""
        await asyncio.wait_for(self._event(update_id).wait(), within)


@dataclass(frozen=True, slots=True)
class Pressable:
    """A button a person can press: its label, callback data, and the message it sits on."""

    label: str
    data: str
    message_id: int


def buttons(message: FakeMessage) -> list[Pressable]:
    """Every callback button on a message, row by row."""
    markup = message.reply_markup or {}
    return [
        Pressable(str(b["text"]), str(b["callback_data"]), message.message_id)
        for row in markup.get("inline_keyboard", [])
        for b in row
        if "callback_data" in b
    ]


class Simulator:
    """A person (or several) chatting with the bot through the fake server."""

    def __init__(
        self,
        server: FakeBotAPI,
        application: TrackingApplication,
        clock_jobs: list[ClockJob] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.server = server
        self.application = application
        self.clock_jobs = clock_jobs or []
        self.timeout = timeout

    async def run_clock_jobs(self) -> None:
        """Run the timer-driven work (the delivery engine), e.g. after moving a fake clock."""
        for job in self.clock_jobs:
            await job()

    async def send(self, user_id: int, text: str, chat: int | None = None) -> list[FakeMessage]:
        """The user sends text in their private chat (or in the group `chat`); returns the
        messages the bot sent or changed in that chat."""
        where = user_id if chat is None else chat
        return await self._run(where, lambda: self.server.send_text(user_id, text, chat_id=chat))

    async def press(
        self, user_id: int, label: str, message: FakeMessage | None = None, chat: int | None = None
    ) -> list[FakeMessage]:
        """The user presses the button with this label (on `message`, else the latest one) in
        their private chat or in the group `chat`."""
        button = self.find_button(user_id if chat is None else chat, label, message)
        return await self.press_data(user_id, button.message_id, button.data, chat)

    async def press_data(
        self, user_id: int, message_id: int, data: str, chat: int | None = None
    ) -> list[FakeMessage]:
        """The user presses a button with arbitrary callback data (old or forged buttons too) on
        a message in their private chat or in the group `chat`."""
        where = user_id if chat is None else chat
        return await self._run(
            where, lambda: self.server.press(user_id, message_id, data, chat_id=chat)
        )

    def find_button(
        self, chat_id: int, label: str, message: FakeMessage | None = None
    ) -> Pressable:
        """The newest button with this label in the chat (or on the given message)."""
        candidates = [message] if message else list(reversed(self.server.messages(chat_id)))
        for candidate in candidates:
            for button in buttons(candidate):
                if button.label == label:
                    return button
        raise LookupError(f"no button labelled {label!r} in chat {chat_id}")

    def snapshot(self, chat_id: int) -> dict[int, tuple[object, ...]]:
        """The visible state of every bot message in a chat, to diff against later."""
        return {m.message_id: _state(m) for m in self.server.messages(chat_id)}

    def changes_since(
        self, before: dict[int, tuple[object, ...]], chat_id: int
    ) -> list[FakeMessage]:
        """Messages in the chat that are new or changed since the snapshot, oldest first."""
        return [m for m in self.server.messages(chat_id) if before.get(m.message_id) != _state(m)]

    async def _run(self, chat_id: int, enqueue: Callable[[], int]) -> list[FakeMessage]:
        before = self.snapshot(chat_id)
        update_id = enqueue()
        await self.application.wait_finished(update_id, self.timeout)
        return self.changes_since(before, chat_id)


def _state(message: FakeMessage) -> tuple[object, ...]:
    return (message.text, message.caption, repr(message.reply_markup), message.edit_count)


@contextlib.asynccontextmanager
async def running(runtime: Runtime, server: FakeBotAPI) -> AsyncIterator[Simulator]:
    """Start the Application polling the fake server; stop it cleanly afterwards."""
    application = runtime.application
    if not isinstance(application, TrackingApplication):
        raise TypeError("build the runtime with application_class=TrackingApplication")
    async with started(application):
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES
        )
        try:
            yield Simulator(server, application, runtime.clock_jobs)
        finally:
            await application.updater.stop()
