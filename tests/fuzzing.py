"""Fuzzing the real bot: hypothesis generates what people (and forged clients) send; a driver
feeds it through the fake Bot API server's update queue (real HTTP long polling) to the real
Application and records every unhandled exception.

Shared by tests/test_fuzz.py (a few hundred updates per database) and bench/fuzz_updates.py
(10,000 and more). Generation is separate from execution: an action names *which* message to
press by a number that is resolved against the chat as it is when the action runs, so a batch of
actions can be generated up front, reproducibly from a seed.

Replies Telegram refuses only because the message is already exactly what the bot asks for
("message is not modified", from pressing the same button twice) are expected and handled by
`bot.handlers.render.show`; every other refusal counts as a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import select
from telegram import Update

from bot import callbacks
from bot.commands import COMMANDS
from bot.db import Base
from bot.fake_bot_api import FakeBotAPI, Rejection
from bot.simulator import buttons
from bot.textclean import clean, utf16_len
from tests.harness import BotUnderTest

ADMIN = 9001
LEAD = 2001
LEARNERS = (1001, 1002, 1003)
USERS = (*LEARNERS, LEAD, ADMIN)
BOT_USERNAME = "trauma_informed_bot"
MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
FLOOD_OFF = "1000000/1 second"
_INVITE = re.compile(
    r"start=(inv-[A-Za-z0-9_-]+)"
)  # the flood limit has its own tests; here it would hide paths

# --- what people send ----------------------------------------------------------------------------

PREFIXES = sorted(
    value
    for name, value in vars(callbacks).items()
    if name.isupper() and isinstance(value, str) and len(value) == 2
)
COMMAND_NAMES = sorted(
    {c.name for c in COMMANDS}
    | {"lead", "cohorts", "cohort", "leave", "stage1", "stage2", "stage3", "start"}
)
# Characters that break naive code: RTL scripts and marks, bidi overrides, emoji with ZWJ and
# skin tones, combining marks, controls (NUL included), the HTML specials, full-width digits.
SPECIAL = (
    "שלום عربى ‏‎\u202e\u202d\u2066\u2069\u200f\u200e"
    "👩‍⚕️👍🏽🏳️‍🌈\u200d\ufe0f\u0301\u0308e\u0301"
    "\x00\x01\x07\x1b\x7f\u0085\t\n\r"
    "<>&\"'`\\/:;@#*_~|{}[]"
    "０１２３٣\u00a0\u2028\u2029\ufeff\U0010ffff"
)
WORDS = [
    "",
    " ",
    "08:00",
    "7:30pm",
    "25:99",
    "Europe/London",
    "London",
    "localtime",
    "Factory",
    "posixrules",
    "Mon Wed Fri",
    "weekdays",
    "every day",
    "3d",
    "2w",
    "until 2027-01-04",
    "until 1999-01-01",
    "0",
    "-1",
    "1",
    "2",
    "3",
    "99999999999999999999999",
    "<b>bold</b>",
    "</i>",
    "&amp;",
    "&",
    "@everyone",
    "Night team",
    "listen",
    "recovery",
    "triangle",
    "help",
    "new",
    "add",
    "remove",
    "list",
    "invite",
    "handover",
    "show",
    "export",
    "nudge",
    "archive",
    "settings",
    "time",
    "days",
    "timezone",
    "start",
    "huddle",
    "myname",
    "uses 5 days 2",
    "inv-",
    "inv-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
]
ARG_WORDS = [
    "time",
    "zone",
    "days",
    "refl",
    "pick",
    "home",
    "close",
    "on",
    "off",
    "yes",
    "no",
    "now",
    "later",
    "welcome",
    "today",
    "next",
    "status",
    "review",
    "pause",
    "resume",
    "stop",
    "keep",
    "delete",
    "restart",
    "stages",
    "listen",
    "0730",
    "2400",
    "127",
    "Europe/London",
    "1",
    "0",
]


def _fit_bytes(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut on a character boundary."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def texts(max_size: int = 40) -> st.SearchStrategy[str]:
    """Unicode of every kind, the awkward characters above, plausible words and long texts."""
    long_text = st.builds(
        lambda unit, n: (unit * n)[:MAX_TEXT],
        st.text(st.sampled_from(SPECIAL) | st.characters(), min_size=1, max_size=4),
        st.integers(500, 5000),
    )
    return st.one_of(
        st.text(max_size=max_size),
        st.text(st.sampled_from(SPECIAL), max_size=max_size),
        st.sampled_from(WORDS),
        st.lists(st.sampled_from(WORDS) | st.text(max_size=8), max_size=6).map(" ".join),
        long_text,
    )


def command_texts(lesson_ids: Sequence[str]) -> st.SearchStrategy[str]:
    """A command (known, unknown, addressed to the bot, odd case) with random arguments."""
    name = st.one_of(
        st.sampled_from(COMMAND_NAMES),
        st.sampled_from(COMMAND_NAMES).map(str.upper),
        st.from_regex(r"[a-z0-9_]{1,32}", fullmatch=True),
    )
    suffix = st.sampled_from(["", "", "", f"@{BOT_USERNAME}", "@other_bot"])
    argument = st.one_of(
        st.just(""),
        texts(30),
        st.sampled_from(lesson_ids),
        st.from_regex(r"inv-[A-Za-z0-9_-]{0,60}", fullmatch=True),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join),
        st.integers(-(2**70), 2**70).map(str),
    )
    return st.builds(
        lambda n, s, a: _fit_text(f"/{n}{s}" + (f" {a}" if a else "")), name, suffix, argument
    )


COHORT_VERBS = sorted(
    {"new", "help", "", "show", "invite", "export", "nudge", "remove", "archive", "settings"}
    | {"time", "days", "timezone", "start", "huddle", "myname"}
)


def lead_commands() -> st.SearchStrategy[str]:
    """The lead's and admin's commands with plausible shapes and random parts."""
    cohort = st.sampled_from(["Night team", "night TEAM", "Day team", ""]) | texts(12)
    rest = st.sampled_from(WORDS) | texts(20) | st.integers(-(2**70), 2**70).map(str)
    someone = st.sampled_from([str(u) for u in USERS]) | rest
    return st.one_of(
        st.builds(lambda name: _fit_text(f"/cohort new {name}"), cohort),
        st.builds(
            lambda verb, name, tail: _fit_text(f"/cohort {verb} {name} {tail}"),
            st.sampled_from(COHORT_VERBS),
            cohort,
            rest,
        ),
        st.builds(
            lambda verb, who: f"/lead {verb} {who}"[:MAX_TEXT],
            st.sampled_from(["add", "remove", "handover", "list", "invite", "help", ""]),
            someone,
        ),
        st.builds(lambda tail: f"/cohorts {tail}"[:MAX_TEXT], rest),
        st.builds(lambda tail: f"/leave {tail}"[:MAX_TEXT], cohort),
    )


def _fit_text(text: str) -> str:
    return text[:MAX_TEXT]


def callback_data(lesson_ids: Sequence[str], card_ids: Sequence[str]) -> st.SearchStrategy[str]:
    """Callback data a forged client could send: known prefixes with random ids and words."""
    prefix = st.one_of(st.sampled_from(PREFIXES), st.text(max_size=3))
    arg = st.one_of(
        st.integers(-(2**63), 2**64).map(str),
        st.integers(0, 50).map(str),
        st.sampled_from(lesson_ids),
        st.sampled_from(card_ids),
        st.sampled_from(ARG_WORDS),
        st.text(max_size=12),
        st.text(st.sampled_from(SPECIAL), max_size=6),
    )
    return st.builds(
        lambda p, args: _fit_bytes(":".join([p, *args]), MAX_CALLBACK_BYTES),
        prefix,
        st.lists(arg, max_size=4),
    )


@dataclass(frozen=True, slots=True)
class Action:
    """One thing that happens: `kind` with its user, text/data and which message it targets."""

    kind: str
    user: int
    text: str = ""
    pick: int = 0
    name: str | None = None

    def describe(self) -> str:
        """A short, printable description (for a failure message)."""
        return f"{self.kind}(user={self.user}, text={self.text[:80]!r}, pick={self.pick})"


def actions(lesson_ids: Sequence[str], card_ids: Sequence[str]) -> st.SearchStrategy[Action]:
    """Every kind of update, weighted towards what exercises the bot's logic."""
    user = st.sampled_from(USERS)
    pick = st.integers(0, 10_000)
    name = st.none() | st.none() | texts(20)

    leaders = st.sampled_from([LEAD, LEAD, ADMIN]) | user

    def build(kind: str, text: st.SearchStrategy[str]) -> st.SearchStrategy[Action]:
        who = leaders if kind == "lead_command" else user
        return st.builds(Action, st.just(kind), who, text, pick, name)

    commands, data = command_texts(lesson_ids), callback_data(lesson_ids, card_ids)
    kinds: dict[str, tuple[int, st.SearchStrategy[str]]] = {
        # kind: (weight, what its text is)
        "command": (6, commands),
        "lead_command": (3, lead_commands()),
        "join": (1, st.just("")),
        "text": (4, texts()),
        "button": (6, st.just("")),
        "press": (3, data),
        "inline_press": (1, data),
        "edit": (1, texts()),
        "sticker": (1, st.just("")),
        "photo": (1, texts(20)),
        "voice": (1, st.just("")),
        "location": (1, st.just("")),
        "inline": (1, texts(20).map(lambda t: t[:256])),
        "chosen": (1, st.sampled_from(card_ids) | st.text(max_size=10)),
        "group": (1, commands | texts()),
        "blocked": (1, st.just("")),
        "advance": (1, st.integers(1, 60).map(str)),
    }
    weighted = [kind for kind, (weight, _) in kinds.items() for _ in range(weight)]
    return st.sampled_from(weighted).flatmap(lambda kind: build(kind, kinds[kind][1]))


def generate(
    count: int, lesson_ids: Sequence[str], card_ids: Sequence[str], *, seed_value: int
) -> list[list[Action]]:
    """Batches of up to 8 actions holding `count` updates (clock moves come on top),
    reproducibly from `seed_value`."""
    batches: list[list[Action]] = []
    total = 0
    strategy = st.lists(actions(lesson_ids, card_ids), min_size=1, max_size=8)

    def collect(batch: list[Action]) -> None:
        nonlocal total
        kept: list[Action] = []
        for action in batch:
            if total >= count:
                break
            kept.append(action)
            total += action.kind != "advance"
        if kept:
            batches.append(kept)

    while total < count:  # usually one pass; another, with the next seed, if it fell short
        run = settings(
            max_examples=max(1, (count - total) // 3),
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )(given(strategy)(collect))
        seed(seed_value)(run)()
        seed_value += 1
    return batches


# --- the driver ----------------------------------------------------------------------------------


@dataclass
class FuzzResult:
    """What a run found."""

    updates: int = 0
    clock_moves: int = 0
    seconds: float = 0.0
    exceptions: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    error_logs: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No unhandled exception, no refused reply, nothing logged at ERROR."""
        return not self.exceptions and not self.rejected and not self.error_logs


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


def unexpected(rejected: Sequence[Rejection]) -> list[Rejection]:
    """Refusals that are bugs (an identical edit is refused by Telegram and handled quietly)."""
    return [r for r in rejected if "not modified" not in r.description]


class Fuzzer:
    """Feeds actions to a running bot through the fake server and watches for failures."""

    def __init__(self, bot: BotUnderTest, *, timeout: float = 30.0) -> None:
        self.bot = bot
        self.server: FakeBotAPI = bot.server
        self.timeout = timeout
        self.result = FuzzResult()
        self._ids = itertools.count(900_000_000)
        self._current: list[Action] = []

    async def __aenter__(self) -> Fuzzer:
        application = self.bot.runtime.application

        async def spy(update: object, context: Any) -> None:
            error = context.error
            update_id = update.update_id if isinstance(update, Update) else None
            lines = traceback.format_exception(error) if error is not None else ["?"]
            self.result.exceptions.append(
                f"update {update_id} ({self._describe(update_id)}): {''.join(lines[-6:])}"
            )

        application.add_error_handler(spy)
        self._error_log = _ErrorLog()
        logging.getLogger().addHandler(self._error_log)
        return self

    async def __aexit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self._error_log)
        self.result.error_logs = list(self._error_log.lines)
        self.result.rejected = unexpected(self.server.rejected)

    def _describe(self, update_id: int | None) -> str:
        return "; ".join(a.describe() for a in self._current) or "setup"

    async def run(self, batches: Sequence[Sequence[Action]]) -> FuzzResult:
        """Play every batch: enqueue its updates, wait until each is handled."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        for batch in batches:
            self._current = list(batch)
            pending: list[int] = []
            for action in batch:
                if action.kind == "advance":
                    await self._wait(pending)
                    pending = []
                    self.bot.clock.advance(timedelta(hours=int(action.text or "1")))
                    await self.bot.sim.run_clock_jobs()
                    self.result.clock_moves += 1
                    continue
                pending.append(self.enqueue(action))
            await self._wait(pending)
        self._current = []
        self.result.seconds += loop.time() - started
        return self.result

    async def _wait(self, update_ids: list[int]) -> None:
        for update_id in update_ids:
            await self.bot.sim.application.wait_finished(update_id, self.timeout)
        self.result.updates += len(update_ids)

    # --- turning an action into an update ---------------------------------------------------

    def enqueue(self, action: Action) -> int:
        """Queue the update for an action on the fake server; returns its update_id."""
        server, user = self.server, action.user
        if action.name is not None and action.kind in ("text", "command", "lead_command"):
            server.add_user(user, first_name=action.name or "?")
        handlers: dict[str, Callable[[Action], int]] = {
            "command": lambda a: server.send_text(user, a.text or "/help"),
            "lead_command": lambda a: server.send_text(user, a.text or "/cohorts"),
            "join": self._join,
            "text": lambda a: server.send_text(user, a.text or " "),
            "button": self._button,
            "press": self._press,
            "inline_press": self._inline_press,
            "edit": self._edit,
            "sticker": lambda a: server.send_sticker(user),
            "photo": lambda a: server.send_photo_message(user, caption=a.text or None),
            "voice": lambda a: server.send_voice(user),
            "location": self._location,
            "inline": lambda a: server.inline_query(user, a.text),
            "chosen": self._chosen,
            "group": self._group,
            "blocked": self._blocked,
        }
        return handlers[action.kind](action)

    def _join(self, action: Action) -> int:
        """Open the newest invite link any lead was shown (the next text may be their name)."""
        links = [
            found.group(1)
            for chat in USERS
            for m in self.server.messages(chat)
            if (found := _INVITE.search(m.caption or m.text or ""))
        ]
        return self.server.send_text(action.user, f"/start {links[-1]}" if links else "/start")

    def _pick_message(self, action: Action) -> int | None:
        messages = self.server.messages(action.user)
        return messages[action.pick % len(messages)].message_id if messages else None

    def _button(self, action: Action) -> int:
        pressable = [b for m in self.server.messages(action.user) for b in buttons(m)]
        if not pressable:
            return self.server.send_text(action.user, "/start")
        button = pressable[action.pick % len(pressable)]
        return self.server.press(action.user, button.message_id, button.data)

    def _press(self, action: Action) -> int:
        message_id = self._pick_message(action)
        if message_id is None:
            return self.server.send_text(action.user, "/help")
        return self.server.press(action.user, message_id, action.text)

    def _inline_press(self, action: Action) -> int:
        """A button on a message sent via inline mode: the query has no message, only an id."""
        query_id = str(next(self._ids))
        self.server._callback_queries[query_id] = (action.user, False)
        return self.server.send_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.server._user(action.user),
                    "chat_instance": "42",
                    "inline_message_id": f"inline-{query_id}",
                    "data": action.text,
                }
            }
        )

    def _edit(self, action: Action) -> int:
        mine = [
            mid
            for (chat, mid), message in self.server._user_messages.items()
            if chat == action.user and "text" in message
        ]
        if not mine:
            return self.server.send_text(action.user, action.text or "hello")
        return self.server.edit_text(
            action.user, mine[action.pick % len(mine)], action.text or "edited"
        )

    def _raw_message(self, user: int, chat: dict[str, Any], **content: Any) -> int:
        message = {
            "message_id": next(self._ids),
            "from": self.server._user(user),
            "chat": chat,
            "date": 1_700_000_000,
            **content,
        }
        return self.server.send_update({"message": message})

    def _location(self, action: Action) -> int:
        chat = {"id": action.user, "type": "private"}
        return self._raw_message(action.user, chat, location={"latitude": 51.5, "longitude": -0.12})

    def _group(self, action: Action) -> int:
        chat = {"id": -1_000_000 - action.user, "type": "group", "title": "Team room"}
        text = action.text or "/help"
        command = re.match(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)", text)
        entities = (
            [
                {
                    "type": "bot_command",
                    "offset": 0,
                    "length": len(command[0].encode("utf-16-le")) // 2,
                }
            ]
            if command
            else []
        )
        return self._raw_message(action.user, chat, text=text, entities=entities)

    def _chosen(self, action: Action) -> int:
        return self.server.send_update(
            {
                "chosen_inline_result": {
                    "result_id": _fit_bytes(action.text or "x", 64) or "x",
                    "from": self.server._user(action.user),
                    "query": "listen",
                }
            }
        )

    def _blocked(self, action: Action) -> int:
        bot_user = {"id": self.server.bot_id, "is_bot": True, "first_name": "Bot"}
        return self.server.send_update(
            {
                "my_chat_member": {
                    "chat": {"id": action.user, "type": "private"},
                    "from": self.server._user(action.user),
                    "date": 1_700_000_000,
                    "old_chat_member": {"status": "member", "user": bot_user},
                    "new_chat_member": {"status": "kicked", "user": bot_user, "until_date": 0},
                }
            }
        )


async def set_up_people(bot: BotUnderTest) -> None:
    """An admin, a lead with a cohort, a subscribed learner and a member: state worth fuzzing."""
    await bot.send("/start", user=ADMIN)
    await bot.send(f"/lead add {LEAD}", user=ADMIN)
    replies = await bot.send("/cohort new Night team", user=LEAD)
    link = next(found for m in replies if (found := _INVITE.search(m.caption or m.text or "")))
    await bot.send("/start")
    await bot.press("I agree, let's set up")
    await bot.press("Start: first lesson now")
    await bot.send(f"/start {link.group(1)}", user=1002)
    await bot.press("Join", user=1002)
    await bot.send("Ana", user=1002)


def content_ids(bot: BotUnderTest) -> tuple[list[str], list[str]]:
    """The course's lesson ids and the lookup cards' ids."""
    content = bot.runtime.services.content
    return [lesson.id for lesson in content.lessons], [card.id for card in content.cards]


def unclean_strings(rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Stored strings that did not go through `bot.textclean.clean` (or an equivalent check)."""
    problems = []
    for table, records in rows.items():
        for record in records:
            for column, value in record.items():
                if isinstance(value, str) and not _is_clean(value):
                    problems.append(f"{table}.{column} = {value!r}")
    return problems


def _is_clean(value: str) -> bool:
    try:
        # The limit is in UTF-16 units, as clean counts: len() would cut an emoji's last unit.
        return clean(value, max_chars=utf16_len(value) or 1).text == value
    except ValueError:
        return False


async def stored_rows(bot: BotUnderTest) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as dicts."""
    rows: dict[str, list[dict[str, Any]]] = {}
    async with bot.runtime.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows[table.name] = [dict(r._mapping) for r in await conn.execute(select(table))]
    return rows
