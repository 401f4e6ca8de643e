"""Dialogue harness: the real Application, real HTTP, the fake Bot API server, a fake clock.

A test reads as a conversation:

    replies = await bot.send("/start")          # what the user types
    assert "Welcome" in replies[0].text          # what the bot answers
    await bot.press("Accept")                    # the user presses a button
    await bot.advance(days=1)                    # time passes; due lessons are delivered
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import Runtime, build_application
from bot.config import Settings
from bot.core.clock import FakeClock
from bot.logs import Format, configure_logging
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.sandbox.simulator import Simulator, TrackingApplication, running
from scheduler.sender import SendPolicy
from tests.support.factories import USER

ROOT = Path(__file__).resolve().parents[2]
TEST_TOKEN = "123456:TEST-TOKEN-not-real"
TEST_ENCRYPTION_KEY = "dGVzdC1vbmx5LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24"  # 32 bytes, tests only


@dataclass
class BotUnderTest:
    """A running bot and the people talking to it."""

    sim: Simulator
    server: FakeBotAPI
    runtime: Runtime
    clock: FakeClock

    async def send(self, text: str, user: int = USER, chat: int | None = None) -> list[FakeMessage]:
        """The user sends text (in the group `chat`, else privately); returns what the bot showed
        in reply in that chat."""
        return await self.sim.send(user, text, chat)

    async def press(
        self,
        label: str,
        user: int = USER,
        message: FakeMessage | None = None,
        chat: int | None = None,
    ) -> list[FakeMessage]:
        """The user presses the newest button with this label (in the group `chat`, else in
        their private chat)."""
        return await self.sim.press(user, label, message, chat)

    async def advance(self, **delta: float) -> list[FakeMessage]:
        """Time passes (e.g. days=1); the engine delivers what is due. Returns new messages."""
        before = self.sim.snapshot(USER)
        self.clock.advance(timedelta(**delta))
        await self.sim.run_clock_jobs()
        return self.sim.changes_since(before, USER)

    def messages(self, user: int = USER) -> list[FakeMessage]:
        """Every bot message in the user's chat, oldest first."""
        return self.server.messages(user)

    def last(self, user: int = USER) -> FakeMessage:
        """The bot's newest message to the user."""
        return self.server.messages(user)[-1]


def settings_for_test(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test: no .env, the shipped lessons, the given database."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "lessons_dir": ROOT / "lessons",
        "telegram_bot_token": TEST_TOKEN,
        "encryption_key": TEST_ENCRYPTION_KEY,
        # Dialogues run far faster than a person types; the flood limit has its own tests.
        "flood_limit": "10000/10 seconds",
        # Replies are paced per chat in real time; the pacing has its own tests.
        "reply_chat_rate": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def settings(**overrides: Any) -> Settings:
    """Settings from the given values alone: no .env and none of the dialogue defaults."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def text_of(message: FakeMessage) -> str:
    """What the person sees of a message: its text or its caption, as plain text."""
    return message.plain_text or message.text or message.caption or ""


def texts(messages: list[FakeMessage]) -> list[str]:
    """What the person sees of each message, in order."""
    return [text_of(message) for message in messages]


def labels(message: FakeMessage) -> list[str]:
    """Every button label on a message, row by row."""
    return [str(button["text"]) for row in message.buttons for button in row]


@contextlib.contextmanager
def production_log(secrets: list[str], fmt: Format = "text") -> Iterator[io.StringIO]:
    """All logging at DEBUG through the bot's production filters into a buffer; restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("DEBUG", secrets=secrets, stream=buffer, fmt=fmt)
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)


@contextlib.asynccontextmanager
async def bot_under_test(
    database_url: str, clock: FakeClock, **overrides: Any
) -> AsyncIterator[BotUnderTest]:
    """Start the fake server and the real Application wired to it; stop both afterwards."""
    async with FakeBotAPI() as server:
        test_settings = settings_for_test(
            database_url, telegram_api_base_url=server.base_url, **overrides
        )
        runtime = build_application(test_settings, clock, application_class=TrackingApplication)
        # The one-message-a-second pacing per chat waits in real time while the fake clock jumps
        # days ahead; tests of the pacing itself build their own sender.
        runtime.delivery.sender.policy = SendPolicy(per_chat_interval=0.0)
        async with running(runtime, server) as sim:
            yield BotUnderTest(sim=sim, server=server, runtime=runtime, clock=clock)
