"""The local sandbox: the real bot in a terminal chat, against an in-process fake Telegram.

Same handlers, scheduler and database as production; only Telegram is simulated. A simulated
clock (`:advance 1d`, `:at 2026-12-01 08:00`) makes scheduled lessons arrive without waiting.
Reads standard input line by line, so it is scriptable: `printf '/help\\n' | python -m bot sandbox`.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TextIO

from bot.app import build_application
from bot.config import DEFAULT_DATABASE_URL, Settings
from bot.core.clock import FakeClock, SystemClock
from bot.db.migrations import upgrade
from bot.sandbox.fake_telegram.faults import Disconnect
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.sandbox.simulator import Pressable, Simulator, TrackingApplication, buttons, running
from bot.services.enrolment import EnrolmentService
from bot.views.settings import pattern_today_line

SANDBOX_TOKEN = "100000:sandbox-token"  # noqa: S105 (not a secret: the fake server takes any)
SANDBOX_DATABASE_URL = "sqlite+aiosqlite:///data/sandbox.sqlite3"
HELP = (
    "Sandbox: type as a Telegram user would. Press a button with its number (or :N).\n"
    "  :advance 1d | 3h | 30m   move the clock, show your pattern and deliver what is due\n"
    "  :at 2026-12-01 08:00     jump to a UTC time\n"
    "  :now                     show the simulated time\n"
    "  :user 1002               talk as another user\n"
    "  :drop                    cut the connection during the bot's next message to you (it may\n"
    "                           or may not have arrived: see how a lesson like that is offered)\n"
    "  :quit                    leave (Ctrl-D works too)"
)
_DURATION = re.compile(r"^(\d+)\s*([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def to_terminal(text: str) -> str:
    """Telegram HTML as plain terminal text (bold becomes *bold*, links show their address)."""
    text = re.sub(r"</?(b|strong)>", "*", text)
    text = re.sub(r'<a href="([^"]*)">(.*?)</a>', r"\2 (\1)", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)


class Terminal:
    """The chat loop: lines in, the bot's messages out."""

    def __init__(
        self,
        sim: Simulator,
        clock: FakeClock,
        user_id: int,
        out: TextIO,
        enrolment: EnrolmentService | None = None,
    ) -> None:
        self.sim, self.clock, self.user_id, self.out = sim, clock, user_id, out
        self.enrolment = enrolment  # to show the learner's pattern as the clock moves
        self.pressable: list[Pressable] = []
        self.before = sim.snapshot(user_id)

    def show(self, messages: list[FakeMessage]) -> None:
        """Print messages and number their buttons."""
        numbered: list[Pressable] = []
        for message in messages:
            body = to_terminal(message.text or message.caption or "")
            if message.document is not None:
                body = f"[document: {message.document.filename}] {body}".strip()
            if message.photo is not None:
                body = f"[picture] {body}".strip()
            self.out.write(f"\nbot> {body}\n")
            for button in buttons(message):
                numbered.append(button)
                self.out.write(f"  [{len(numbered)}] {button.label}\n")
        if numbered:
            self.pressable = numbered
        self.out.flush()

    def flush_background(self) -> None:
        """Show anything the bot sent on its own (scheduled lessons) since we last looked."""
        self.show(self.sim.changes_since(self.before, self.user_id))
        self.before = self.sim.snapshot(self.user_id)

    async def handle(self, line: str) -> bool:
        """Act on one input line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if line in (":quit", ":q", ":exit"):
            return False
        if line in (":help", ":h"):
            self.out.write(HELP + "\n")
        elif line == ":now":
            self.out.write(f"clock: {self.clock.now():%Y-%m-%d %H:%M} UTC\n")
        elif line.startswith(":advance"):
            await self.move(self._advance(line.removeprefix(":advance").strip()))
        elif line.startswith(":at"):
            await self.move(self._at(line.removeprefix(":at").strip()))
        elif line == ":drop":
            self.sim.server.inject("sendMessage", chat_id=self.user_id, fault=Disconnect())
            self.out.write("(the bot's next message to you will be cut off as it is sent)\n")
        elif line.startswith(":user"):
            user = line.removeprefix(":user").strip()
            self.user_id = int(user) if user.isdigit() else self.user_id
            self.before = self.sim.snapshot(self.user_id)
            self.out.write(f"(now chatting as user {self.user_id})\n")
        elif (number := line.removeprefix(":")).isdigit() and 0 < int(number) <= len(
            self.pressable
        ):
            button = self.pressable[int(number) - 1]
            self.out.write(f"(pressed: {button.label})\n")
            await self.sim.press_data(self.user_id, button.message_id, button.data)
        elif line.startswith(":"):
            self.out.write("Unknown sandbox command; :help lists them.\n")
        else:
            await self.sim.send(self.user_id, line)
        self.flush_background()
        return True

    def _advance(self, spec: str) -> datetime | None:
        match = _DURATION.match(spec)
        if not match:
            self.out.write("Use :advance with a number and d, h or m, e.g. :advance 1d\n")
            return None
        return self.clock.now() + timedelta(**{_UNITS[match[2]]: int(match[1])})

    def _at(self, spec: str) -> datetime | None:
        try:
            return datetime.strptime(spec, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        except ValueError:
            self.out.write("Use :at YYYY-MM-DD HH:MM (UTC), e.g. :at 2026-12-01 08:00\n")
            return None

    async def move(self, when: datetime | None) -> None:
        """Set the clock and run the delivery engine so whatever is due arrives now."""
        if when is None:
            return
        if when < self.clock.now():
            self.out.write("The sandbox clock only moves forward.\n")
            return
        self.clock.set(when)
        self.out.write(f"(clock: {when:%a %Y-%m-%d %H:%M} UTC)\n")
        await self.show_pattern()
        await self.sim.run_clock_jobs()

    async def show_pattern(self) -> None:
        """One line: the learner's pattern (a rota, fixed days, weekly) and today's shift."""
        found = await self.enrolment.status(self.user_id) if self.enrolment else None
        if found is not None:
            self.out.write(f"({pattern_today_line(found, self.clock.now())})\n")


async def _read_lines(source: TextIO) -> str | None:
    line = await asyncio.to_thread(source.readline)
    return line if line else None


async def sandbox(settings: Settings, user_id: int, source: TextIO, out: TextIO) -> int:
    """Run the sandbox until the input ends or the user quits."""
    database_url = (
        SANDBOX_DATABASE_URL
        if settings.database_url == DEFAULT_DATABASE_URL
        else settings.database_url
    )
    await asyncio.to_thread(upgrade, database_url)
    clock = FakeClock(SystemClock().now())
    async with FakeBotAPI() as server:
        settings = settings.model_copy(
            update={"database_url": database_url, "telegram_api_base_url": server.base_url}
        )
        runtime = build_application(
            settings, clock, token=SANDBOX_TOKEN, application_class=TrackingApplication
        )
        # A fresh fake server would number from 1 again, and the redelivery guard would take
        # every update of a second run on this database for one it had already handled.
        server.number_updates_after(await runtime.services.updates.latest())
        async with running(runtime, server) as sim:
            terminal = Terminal(sim, clock, user_id, out, runtime.services.enrolment)
            if source.isatty():
                out.write(HELP + "\n")
            while (line := await _read_lines(source)) is not None:
                if not await terminal.handle(line):
                    break
    return 0


def run_sandbox(settings: Settings, user_id: int = 1001) -> int:
    """Entry point for `python -m bot sandbox`."""
    try:
        return asyncio.run(sandbox(settings, user_id, sys.stdin, sys.stdout))
    except KeyboardInterrupt:
        return 0
