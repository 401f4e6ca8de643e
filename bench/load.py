"""Load: 200 simulated people using the bot at once, against a bare PTB floor, on each database.

Run: .venv/bin/python bench/load.py [--users 200] [--seconds 60] [--think 1 3] [--updates 600]
                                    [--rounds 3] [--db sqlite postgresql]
     (while developing: --seconds 10 --users 50 --updates 150 --rounds 1)

Three processes per round. The fake Bot API server and the simulated people share one; the bot
(the composition root `bot.app.build_application`, the settings the dialogue tests use, the real
clock, long polling over real HTTP) runs alone in another, so its CPU (user+sys, every thread,
read with psutil) is the bot's own. The bot tells the people each update it has finished
handling (its id and the time, over a pipe), so they can act again and measure handling time:
from the moment the update is queued at the server until the bot's process_update returned (the
wait for long polling, the queue and every Bot API call it made).

A bot round, on a fresh database: everyone starts the course (/start, consent, first lesson
now); then `--seconds` of everyday use with `--think` seconds between actions (a command 35% of
the time, a typed search 15%, a button 50%), which gives the handling-time percentiles; then
saturation phases with no think time, `--updates` updates each, one kind at a time (commands;
typed searches; button presses outside lessons: lookup menus, cards, settings; lesson actions:
done, reflect, quick check and its answers...), then all kinds mixed. A kind's CPU per update is
the bot's CPU during its phase divided by the updates handled in it. Buttons that stop, erase or
restart something are never pressed.

A floor round: a bare PTB Application (same PTB, long polling, the same per-person concurrent
update processor and connection pools; no database, no services) is fed the same update stream,
and answers each update with the Bot API calls the bot made for it (recorded at the server: the
same texts, parse mode and keyboards, through PTB's typed methods), so serialisation and HTTP
cost the same. The floor replays the whole stream from a fresh server so that every message id
and message matches; only the saturation phases are measured. Bot and floor rounds alternate
(`--rounds`); the summary gives medians (ratios: the median of each round's bot/floor ratio).

Errors: unhandled exceptions (an error handler ran), replies the fake refused (Telegram's limits;
an identical edit is expected and not counted), updates not handled within 30 s, lines logged
at ERROR, and for the floor, updates whose Bot API calls differed from the bot's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import random
import signal
import statistics
import struct
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import ApplicationBuilder, ContextTypes, Defaults, TypeHandler

from bench.faults import database_kinds, new_database
from bot.app import ALLOWED_UPDATES, BotApplication, build_application, started
from bot.core.clock import SystemClock
from bot.incoming import IncomingBot, PerPerson
from bot.logs import configure_logging
from bot.sandbox.fake_telegram.records import JSON
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.sandbox.simulator import Pressable, buttons
from bot.telegram_http import AiohttpRequest
from bot.views import callbacks
from tests.support.fuzzing import unexpected
from tests.support.harness import TEST_TOKEN, settings_for_test

FIRST_USER = 100_000
COMMANDS = [
    "/help",
    "/today",
    "/progress",
    "/journal",
    "/settings",
    "/listen",
    "/stages",
    "/stage 2",
    "/triangle",
    "/attachment",
    "/resilience",
    "/questions",
    "/wellbeing",
    "/cards",
    "/support",
    "/search what to say when someone tells you",
]
SEARCHES = [
    "how do I look after myself after a hard shift",
    "what to say when someone tells you",
    "recovery triangle",
    "grounding",
]
# Buttons a person might press during a working day; not the ones that end or erase things.
AVOID = ("erase", "stop", "delete", "restart", "go through", "leave", "pause", "no thanks")
# Callback-data prefixes of a lesson's own buttons (and the review of its quick check).
LESSON_ACTIONS = frozenset(
    {
        callbacks.LESSON_DONE,
        callbacks.LESSON_REFLECT,
        callbacks.LESSON_CHECK,
        callbacks.LESSON_ANSWER,
        callbacks.LESSON_SKIP,
        callbacks.LESSON_MOMENT,
        callbacks.LESSON_SHOW,
        callbacks.LESSON_OPEN,
        callbacks.REFLECT_CANCEL,
        callbacks.REVIEW_ANSWER,
        callbacks.REVIEW_NEXT,
        callbacks.REVIEW_LATER,
    }
)
KINDS = {
    "command": "command",
    "press": "button press",
    "search": "search (typed)",
    "lesson": "lesson action",
}
RECENT = 6  # people press buttons on the bot's last few messages in their chat
TIMEOUT = 30.0  # an update not handled within this is an error
POLL_TIMEOUT = 10  # long polling, as run_polling's default
READY_WITHIN = 120.0

# The app process -> the people process: (update id, time.monotonic()) per finished update;
# negative ids are events.
FINISHED = struct.Struct("<qd")
READY, EXCEPTION, ERROR_LINE, MISMATCH = -1, -2, -3, -4


# --- what people do, and what the bot did about it ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a person does: send text, or press a button (callback data on a message)."""

    user: int
    text: str | None = None
    message_id: int = 0
    data: str = ""

    @property
    def kind(self) -> str:
        """command | search | press | lesson."""
        if self.text is not None:
            return "command" if self.text.startswith("/") else "search"
        return "lesson" if self.data.split(callbacks.SEP)[0] in LESSON_ACTIONS else "press"

    def send(self, server: FakeBotAPI) -> int:
        """Queue the update at the server; its update id."""
        if self.text is not None:
            return server.send_text(self.user, self.text)
        return server.press(self.user, self.message_id, self.data)

    def matches(self, update: Update) -> bool:
        """True when the update is this action (the floor checks the stream it replays)."""
        if self.text is not None:
            return update.message is not None and update.message.text == self.text
        return update.callback_query is not None and update.callback_query.data == self.data


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API call the bot made, as the server received it."""

    method: str
    params: JSON


@dataclass(frozen=True, slots=True)
class Step:
    """An action and the calls the bot made for it (None: not known yet)."""

    action: Action
    calls: tuple[Call, ...] | None = None


@dataclass(slots=True)
class PhaseRecord:
    """Every step of one phase, per person in order: what the floor replays."""

    name: str
    steps: dict[int, list[Step]] = field(default_factory=dict)


# --- figures ----------------------------------------------------------------------------------


@dataclass(slots=True)
class PhaseFigures:
    """What one phase measured (CPU is the app process's user+sys during the phase)."""

    name: str
    handled: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0
    exceptions: int = 0
    error_lines: int = 0
    refused: int = 0
    mismatched: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Every kind of error together."""
        return self.timeouts + self.exceptions + self.error_lines + self.refused + self.mismatched

    @property
    def throughput(self) -> float:
        """Updates handled per second."""
        return self.handled / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_update(self) -> float:
        """The app process's CPU per update handled, in ms."""
        return self.cpu_seconds * 1000 / self.handled if self.handled else float("nan")

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) of handling time, in ms."""
        if q >= 100 or len(self.latencies_ms) < 2:
            return max(self.latencies_ms, default=float("nan"))
        return statistics.quantiles(self.latencies_ms, n=1000, method="inclusive")[int(q * 10) - 1]

    def error_text(self) -> str:
        """The errors, by kind."""
        return (
            f"errors {self.errors} (unhandled exceptions {self.exceptions}, refused replies"
            f" {self.refused}, not handled within {TIMEOUT:.0f} s {self.timeouts}, ERROR lines"
            f" {self.error_lines}, calls unlike the bot's {self.mismatched})"
        )


@dataclass(slots=True)
class RoundResult:
    """One bot or floor round: its measured phases, and (bot) the stream it recorded."""

    app: str
    phases: dict[str, PhaseFigures]
    recording: list[PhaseRecord] | None = None


@dataclass(frozen=True, slots=True)
class Phase:
    """What people do in one phase: a kind of action, think time or not, for how long."""

    name: str
    kind: str  # setup | think | command | search | press | lesson | mixed | prep-press...
    think: tuple[float, float] | None = None
    seconds: float | None = None
    updates: int | None = None
    measured: bool = True

    def replayed(self) -> Phase:
        """The floor's phase: the recorded stream as fast as it is handled (the think-time
        phase is only replayed, to reach the same state, not measured)."""
        return Phase(self.name, self.kind, measured=self.measured and self.think is None)


@dataclass(frozen=True, slots=True)
class Plan:
    """The round's size, from the command line."""

    users: int
    seconds: float
    think: tuple[float, float]
    updates: int
    seed: int = 7

    def phases(self) -> list[Phase]:
        """The bot round's phases, in order (the floor replays them all)."""
        n, users = self.updates, self.users
        return [
            Phase("setup", "setup", measured=False),
            Phase("think", "mixed", think=self.think, seconds=self.seconds),
            Phase("command", "command", updates=n),
            Phase("search", "search", updates=n),
            Phase("prep-press", "prep-press", updates=users, measured=False),
            Phase("press", "press", updates=n),
            Phase("prep-lesson", "prep-lesson", updates=users, measured=False),
            Phase("lesson", "lesson", updates=n),
            Phase("mixed", "mixed", updates=n),
        ]


# --- the app process: the bot, or the floor -----------------------------------------------------


class Reporter:
    """Tells the people process, over a pipe, each update finished and each error seen."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def send(self, code: int) -> None:
        """An update id (finished) or an event code."""
        with contextlib.suppress(OSError):  # the people process has gone (the round is over)
            self._connection.send_bytes(FINISHED.pack(code, time.monotonic()))


class ErrorLines(logging.Handler):
    """Reports every line logged at ERROR or above."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__(logging.ERROR)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        self.reporter.send(ERROR_LINE)


class ReportingApplication(BotApplication):
    """The bot's and the floor's Application: reports each update once it has been handled."""

    reporter: Reporter | None = None

    async def process_update(self, update: object) -> None:
        """Handle the update as usual, then report it (even when a handler failed)."""
        try:
            await super().process_update(update)
        finally:
            if self.reporter is not None and isinstance(update, Update):
                self.reporter.send(update.update_id)


def app_main(
    app: str, base_url: str, database_url: str | None, writer: Connection, script: Any
) -> None:
    """The app process: serve the bot (or the floor) until SIGTERM."""
    configure_logging("WARNING")
    reporter = Reporter(writer)
    logging.getLogger().addHandler(ErrorLines(reporter))
    asyncio.run(serve(app, base_url, database_url, reporter, script))


async def serve(
    app: str,
    base_url: str,
    database_url: str | None,
    reporter: Reporter,
    script: dict[int, deque[Step]] | None,
) -> None:
    if app == "bot":
        assert database_url is not None
        settings = settings_for_test(database_url, telegram_api_base_url=base_url)
        runtime = build_application(settings, SystemClock(), application_class=ReportingApplication)
        application = runtime.application
        if isinstance(application.bot, IncomingBot):  # dropped on arrival: done, nothing to do
            application.bot.on_dropped(reporter.send)
    else:
        application = build_floor(base_url, script or {}, reporter)
    assert isinstance(application, ReportingApplication)
    application.reporter = reporter

    async def spy(update: object, context: Any) -> None:
        reporter.send(EXCEPTION)

    application.add_error_handler(spy)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, stop.set
    )  # SIGTERM: the round is over
    async with started(application):
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0.0, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
        )
        reporter.send(READY)
        await stop.wait()
        await application.updater.stop()


def build_floor(
    base_url: str, script: dict[int, deque[Step]], reporter: Reporter
) -> ReportingApplication:
    """A bare Application that answers each update with the calls the bot made for it."""
    application = (
        ApplicationBuilder()
        .token(TEST_TOKEN)
        .base_url(base_url)
        .defaults(Defaults(block=True))
        # The bot's Bot API client (bot.app.build_bot), without its counting.
        .request(AiohttpRequest(connection_pool_size=256))
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .concurrent_updates(PerPerson())  # as the bot: people side by side, each in order
        .application_class(ReportingApplication)
        .build()
    )

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user.id if update.effective_user else 0
        queue = script.get(user)
        step = queue.popleft() if queue else None
        if step is None or not step.action.matches(update):
            reporter.send(MISMATCH)
            return
        for call in step.calls or ():
            # A call refused as the bot's was (the same state); the server counts refusals.
            with contextlib.suppress(TelegramError):
                await replay(application.bot, update, call)

    application.add_handler(TypeHandler(Update, answer))
    assert isinstance(application, ReportingApplication)
    return application


def markup(value: object) -> InlineKeyboardMarkup | None:
    """The inline keyboard of a recorded call, built as the bot builds its own."""
    if not isinstance(value, dict):
        return None
    rows = value.get("inline_keyboard", [])
    return InlineKeyboardMarkup([[InlineKeyboardButton(**b) for b in row] for row in rows])


async def replay(bot: Bot, update: Update, call: Call) -> object:
    """Make a recorded call again through PTB's typed method (the same parameters)."""
    p = call.params
    options: dict[str, Any] = {}
    if "parse_mode" in p:
        options["parse_mode"] = p["parse_mode"]
    if "reply_markup" in p:
        options["reply_markup"] = markup(p["reply_markup"])
    if isinstance(p.get("link_preview_options"), dict):
        options["link_preview_options"] = LinkPreviewOptions(**p["link_preview_options"])
    if call.method == "sendMessage":
        return await bot.send_message(p["chat_id"], p["text"], **options)
    if call.method == "editMessageText":
        return await bot.edit_message_text(
            p["text"], chat_id=p["chat_id"], message_id=p["message_id"], **options
        )
    if call.method == "editMessageReplyMarkup":
        return await bot.edit_message_reply_markup(
            chat_id=p["chat_id"],
            message_id=p["message_id"],
            reply_markup=options.get("reply_markup"),
        )
    if call.method == "answerCallbackQuery":
        query_id = update.callback_query.id if update.callback_query else ""
        answer = {k: p[k] for k in ("text", "show_alert", "url", "cache_time") if k in p}
        return await bot.answer_callback_query(query_id, **answer)
    if call.method == "deleteMessage":
        return await bot.delete_message(p["chat_id"], p["message_id"])
    if call.method == "sendChatAction":
        return await bot.send_chat_action(p["chat_id"], p["action"])
    return await bot.do_api_request(call.method, api_kwargs=dict(p))  # nothing else expected


def floor_script(recording: list[PhaseRecord]) -> dict[int, deque[Step]]:
    """Each person's steps across every phase, in order: what the floor answers with."""
    script: dict[int, deque[Step]] = {}
    for record in recording:
        for user, steps in record.steps.items():
            script.setdefault(user, deque()).extend(steps)
    return script


# --- the people process: the fake server and the simulated people ------------------------------


class CallLog:
    """The Bot API calls the server received, sorted per person as they come in."""

    def __init__(self, server: FakeBotAPI) -> None:
        self.server = server
        self._pending: dict[int, list[Call]] = {}
        self._queries: dict[str, int] = {}  # callback query id -> the person who pressed

    def take(self, user: int) -> tuple[Call, ...]:
        """The calls made in the person's chat (or to their button presses) since last taken."""
        server = self.server
        for answer in server.callback_answers:
            self._queries[answer.callback_query_id] = answer.user_id
        for request in server.requests:
            chat = request.chat_id
            if request.method == "answerCallbackQuery":
                chat = self._queries.pop(str(request.params.get("callback_query_id")), None)
            if isinstance(chat, int):
                self._pending.setdefault(chat, []).append(Call(request.method, request.params))
        server.requests.clear()  # keeps the server's memory flat over a long run
        server.callback_answers.clear()
        return tuple(self._pending.pop(user, ()))


class Crowd:
    """The simulated people: act, wait until the bot has handled it, record, measure."""

    def __init__(self, server: FakeBotAPI, finished: Connection, app_pid: int) -> None:
        self.server = server
        self.calls = CallLog(server)
        self.app = psutil.Process(app_pid)
        self._finished = finished
        self._waiting: dict[int, asyncio.Future[float]] = {}
        self._ready = asyncio.Event()
        self.figures = PhaseFigures("")
        self.record = PhaseRecord("")
        asyncio.get_running_loop().add_reader(finished.fileno(), self._read)

    def _read(self) -> None:
        while self._finished.poll():
            code, at = FINISHED.unpack(self._finished.recv_bytes())
            if code >= 0:
                future = self._waiting.pop(code, None)
                if future is not None and not future.done():
                    future.set_result(at)
            elif code == READY:
                self._ready.set()
            elif code == EXCEPTION:
                self.figures.exceptions += 1
            elif code == ERROR_LINE:
                self.figures.error_lines += 1
            elif code == MISMATCH:
                self.figures.mismatched += 1

    async def wait_ready(self) -> None:
        await asyncio.wait_for(self._ready.wait(), READY_WITHIN)

    def cpu(self) -> float:
        times = self.app.cpu_times()
        return float(times.user + times.system)

    async def act(self, step: Step, deadline: float | None) -> None:
        """Do the step's action and wait for it; time it, and record what the bot did."""
        action, figures = step.action, self.figures
        queued = time.monotonic()
        update_id = action.send(self.server)
        future = asyncio.get_running_loop().create_future()
        self._waiting[update_id] = future
        try:
            finished: float | None = await asyncio.wait_for(future, TIMEOUT)
        except TimeoutError:
            self._waiting.pop(update_id, None)
            figures.timeouts += 1
            finished = None
        calls = self.calls.take(action.user)
        self.record.steps.setdefault(action.user, []).append(Step(action, calls))
        if step.calls is not None and list(map(_same, calls)) != list(map(_same, step.calls)):
            figures.mismatched += 1
        if finished is not None and (deadline is None or finished <= deadline):
            figures.handled += 1
            figures.kinds[action.kind] += 1
            figures.latencies_ms.append((finished - queued) * 1000)


def _same(call: Call) -> tuple[str, JSON]:
    """What must be equal in the bot's and the floor's call (query ids differ, nothing else)."""
    return call.method, {k: v for k, v in call.params.items() if k != "callback_query_id"}


Chooser = Callable[[int], Step | None]


class People:
    """What people choose to do in a bot round (each person with their own random stream)."""

    def __init__(self, server: FakeBotAPI, seed: int) -> None:
        self.server = server
        self.seed = seed
        self._rngs: dict[int, random.Random] = {}
        self._setup: Counter[int] = Counter()

    def chooser(self, kind: str) -> Chooser:
        """Choose the person's next action of this kind (None: nothing left to do)."""

        def choose(user: int) -> Step | None:
            action = self._choose(user, kind)
            return Step(action) if action is not None else None

        return choose

    def _choose(self, user: int, kind: str) -> Action | None:
        rng = self._rngs.setdefault(user, random.Random(self.seed * 1_000_003 + user))
        if kind == "setup":
            return self._setup_step(user)
        if kind == "command":
            return Action(user, rng.choice(COMMANDS))
        if kind == "search":
            return Action(user, rng.choice(SEARCHES))
        if kind in ("press", "lesson"):
            pressable = self._pressable(user, lesson=kind == "lesson")
            return self._press(user, rng.choice(pressable)) if pressable else None
        if kind == "prep-press":  # a menu to press buttons on, for those without one
            return None if self._pressable(user, lesson=False) else Action(user, "/cards")
        if kind == "prep-lesson":
            return None if self._pressable(user, lesson=True) else Action(user, "/today")
        chance, pressable = rng.random(), self._pressable(user, lesson=None)
        if chance < 0.5 and pressable:
            return self._press(user, rng.choice(pressable))
        return Action(user, rng.choice(COMMANDS if chance < 0.85 else SEARCHES))

    def _setup_step(self, user: int) -> Action | None:
        step = self._setup[user]
        self._setup[user] += 1
        if step == 0:
            return Action(user, "/start")
        label = {1: "I agree, let's set up", 2: "Start: first lesson now"}.get(step)
        for message in reversed(self.server.messages(user)) if label else ():
            for button in buttons(message):
                if button.label == label:
                    return self._press(user, button)
        return None

    def _pressable(self, user: int, *, lesson: bool | None) -> list[Pressable]:
        found = [
            b
            for m in self.server.messages(user)[-RECENT:]
            for b in buttons(m)
            if not any(word in b.label.lower() for word in AVOID)
        ]
        if lesson is None:
            return found
        return [b for b in found if (Action(user, data=b.data).kind == "lesson") == lesson]

    @staticmethod
    def _press(user: int, button: Pressable) -> Action:
        return Action(user, message_id=button.message_id, data=button.data)


def replaying(record: PhaseRecord) -> Chooser:
    """The recorded steps of a phase, each person's in order."""
    steps: dict[int, Iterator[Step]] = {u: iter(s) for u, s in record.steps.items()}

    def choose(user: int) -> Step | None:
        return next(steps.get(user, iter(())), None)

    return choose


async def run_phase(crowd: Crowd, phase: Phase, users: list[int], choose: Chooser) -> None:
    """Everyone acts as the phase says until its time or its updates are used up."""
    crowd.figures, crowd.record = PhaseFigures(phase.name), PhaseRecord(phase.name)
    rejected_before = len(crowd.server.rejected)
    budget = [phase.updates if phase.updates is not None else sys.maxsize]
    started, cpu_before = time.monotonic(), crowd.cpu()
    deadline = started + phase.seconds if phase.seconds is not None else None

    async def person(user: int, rng: random.Random) -> None:
        while True:
            if phase.think is not None:
                await asyncio.sleep(rng.uniform(*phase.think))
            if budget[0] <= 0 or (deadline is not None and time.monotonic() >= deadline):
                return
            step = choose(user)
            if step is None:
                return
            budget[0] -= 1
            await crowd.act(step, deadline)

    rng = random.Random(len(users))
    await asyncio.gather(*(person(u, random.Random(rng.random())) for u in users))
    figures = crowd.figures
    figures.seconds = (deadline or time.monotonic()) - started
    figures.cpu_seconds = crowd.cpu() - cpu_before
    refused = unexpected(crowd.server.rejected[rejected_before:])
    figures.refused = len(refused)
    figures.samples = [f"{r.method}: {r.description}"[:300] for r in refused[:3]]


def people_main(
    control: Connection, finished: Connection, plan: Plan, recording: list[PhaseRecord] | None
) -> None:
    """The people process: the fake server and the people, for one bot or floor round."""
    configure_logging("WARNING")
    asyncio.run(people_round(control, finished, plan, recording))


async def people_round(
    control: Connection, finished: Connection, plan: Plan, recording: list[PhaseRecord] | None
) -> None:
    loop = asyncio.get_running_loop()
    async with FakeBotAPI() as server:
        control.send(server.base_url)
        app_pid = await loop.run_in_executor(None, control.recv)
        crowd = Crowd(server, finished, app_pid)
        await crowd.wait_ready()
        users = list(range(FIRST_USER, FIRST_USER + plan.users))
        people = People(server, plan.seed)
        measured: dict[str, PhaseFigures] = {}
        recorded: list[PhaseRecord] = []
        for index, phase in enumerate(plan.phases()):
            if recording is None:
                await run_phase(crowd, phase, users, people.chooser(phase.kind))
            else:
                phase = phase.replayed()
                await run_phase(crowd, phase, users, replaying(recording[index]))
            recorded.append(crowd.record)
            if phase.measured:
                measured[phase.name] = crowd.figures
        result = RoundResult("floor" if recording else "bot", measured)
        if recording is None:
            result.recording = recorded
        control.send(result)
        await loop.run_in_executor(None, control.recv)  # the app has stopped: close the server


# --- the orchestrator ---------------------------------------------------------------------------


def run_round(
    app: str, plan: Plan, database_url: str | None, recording: list[PhaseRecord] | None
) -> RoundResult:
    """One round: the people process, then the app process; the people's figures."""
    context = multiprocessing.get_context("spawn")
    control, people_end = context.Pipe()
    reader, writer = context.Pipe(duplex=False)
    people = context.Process(
        target=people_main, args=(people_end, reader, plan, recording), daemon=True
    )
    people.start()
    base_url = control.recv()
    script = floor_script(recording) if recording is not None else None
    served = context.Process(
        target=app_main, args=(app, base_url, database_url, writer, script), daemon=True
    )
    served.start()
    try:
        control.send(served.pid)
        while not control.poll(5):
            if not people.is_alive() or not served.is_alive():
                raise RuntimeError(f"the {app} round's processes stopped before it ended")
        result: RoundResult = control.recv()
    finally:
        served.terminate()
        served.join(60)
        if served.is_alive():
            served.kill()
        control.send("stop")
        people.join(30)
        if people.is_alive():
            people.kill()
    return result


def describe(figures: PhaseFigures) -> str:
    """One line: throughput, handling time, CPU per update, errors."""
    return (
        f"{figures.name:>7}: {figures.handled:>5,} in {figures.seconds:5.1f} s ="
        f" {figures.throughput:6.1f}/s, p50 {figures.percentile(50):6.0f} ms, p99"
        f" {figures.percentile(99):6.0f} ms, CPU {figures.cpu_ms_per_update:6.2f} ms/update,"
        f" errors {figures.errors}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(db: str, bots: list[RoundResult], floors: list[RoundResult], plan: Plan) -> list[str]:
    """The summary lines for one database: medians over the rounds."""

    def of(rounds: list[RoundResult], phase: str, figure: Callable[[PhaseFigures], float]) -> float:
        return median([figure(r.phases[phase]) for r in rounds])

    def ratio(phase: str, figure: Callable[[PhaseFigures], float]) -> float:
        return median(
            [
                figure(b.phases[phase]) / figure(f.phases[phase])
                for b, f in zip(bots, floors, strict=True)
            ]
        )

    think = (
        f"{plan.users} people, think {plan.think[0]:g}-{plan.think[1]:g} s, {plan.seconds:.0f} s"
    )
    p = {q: of(bots, "think", partial(PhaseFigures.percentile, q=q)) for q in (50, 95, 99, 100)}
    bot_errors = sum(f.errors for r in bots for f in r.phases.values())
    floor_errors = sum(f.errors for r in floors for f in r.phases.values())
    every = [f for r in bots for f in r.phases.values()]
    lines = [
        f"{db}: handling time ({think}): p50 {p[50]:.0f} ms, p95 {p[95]:.0f} ms,"
        f" p99 {p[99]:.0f} ms, max {p[100]:.0f} ms",
        f"{db}: throughput ({think}): {of(bots, 'think', lambda f: f.throughput):.1f} updates/s",
        f"{db}: errors over {len(bots)} bot rounds: {bot_errors} (unhandled exceptions"
        f" {sum(f.exceptions for f in every)}, refused replies {sum(f.refused for f in every)},"
        f" timeouts {sum(f.timeouts for f in every)}, ERROR lines"
        f" {sum(f.error_lines for f in every)}); floor rounds: {floor_errors}",
        f"{db}: saturation (mixed, no think time): bot"
        f" {of(bots, 'mixed', lambda f: f.throughput):.1f} updates/s, floor"
        f" {of(floors, 'mixed', lambda f: f.throughput):.1f} updates/s ="
        f" {ratio('mixed', lambda f: f.throughput):.2f}x the floor",
    ]
    for kind in ["mixed", *KINDS]:
        label = KINDS.get(kind, "mixed")
        lines.append(
            f"{db}: CPU per update, {label}: bot"
            f" {of(bots, kind, lambda f: f.cpu_ms_per_update):.2f} ms, floor"
            f" {of(floors, kind, lambda f: f.cpu_ms_per_update):.2f} ms ="
            f" {ratio(kind, lambda f: f.cpu_ms_per_update):.1f}x the floor"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="the think-time phase")
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"))
    parser.add_argument("--updates", type=int, default=600, help="updates in each saturation phase")
    parser.add_argument("--rounds", type=int, default=3, help="bot and floor rounds, alternating")
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    configure_logging("WARNING")
    plan = Plan(args.users, args.seconds, tuple(args.think), args.updates)
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; {plan.users}"
        f" people, think {plan.think[0]:g}-{plan.think[1]:g} s for {plan.seconds:.0f} s,"
        f" {plan.updates} updates per saturation phase, {args.rounds} rounds"
    )
    summary: list[str] = []
    ok = True
    for db in database_kinds(args.db):
        bots: list[RoundResult] = []
        floors: list[RoundResult] = []
        for number in range(1, args.rounds + 1):
            print(f"== {db}, round {number}")
            url, drop = new_database(db)
            try:
                bot = run_round("bot", plan, url, None)
            finally:
                drop()
            floor = run_round("floor", plan, None, bot.recording)
            for result in (bot, floor):
                print(f"  {result.app}")
                for figures in result.phases.values():
                    print("   ", describe(figures))
                    for sample in figures.samples:
                        print("      ", sample)
                ok = ok and all(f.errors == 0 for f in result.phases.values())
            bot.recording = None  # not needed any more
            bots.append(bot)
            floors.append(floor)
        summary.extend(summarise(db, bots, floors, plan))
    print("\n== summary (medians of the rounds)")
    for line in summary:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
