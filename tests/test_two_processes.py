"""Past one process: two webhook processes behind one URL, on one database, taking one person's
updates alternately. A double press delivered to both and a redelivered update sent to both
change things once; nothing is lost; the flood limit counts across both (with Redis).

The two "processes" are two Applications built by `bot.app.build_application`, each with its own
engine, services, flood limit and webhook server (`bot.webhook.webhook_server`) on its own port,
in this test's process: everything they could share by accident in one process (the flood
limit's counts, the per-person locks, the update log's state) is per Application, so what they
have in common is only what real processes have: the database, Redis and the Telegram server.
Real subprocesses would add start-up time and no coverage; `tests/test_worker.py` already runs a
real second process against the same database.

Telegram itself would send one chat's updates one at a time (bot/webhook.py); here copies are
sent to both processes at once, the worst a redelivery or a reverse proxy can do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.app import build_application, started
from bot.core import flood
from bot.core.clock import FakeClock
from bot.db.models import CheckAnswer, Learner, LessonProgress, ProcessedUpdate, Reflection
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.sandbox.simulator import TrackingApplication, buttons
from bot.services.updates import UpdateLog
from bot.webhook import SECRET_HEADER, webhook_server
from tests.support.databases import PATIENT_REDIS_SECONDS, TEST_REDIS_URL, needs_redis
from tests.support.harness import USER, settings_for_test

SECRET = "s" * 40


@dataclass
class Process:
    """One bot process: its Application, its webhook URL and its update log."""

    application: TrackingApplication
    url: str
    updates: UpdateLog


@dataclass
class TwoProcesses:
    """Two webhook processes, the one Telegram (fake) server, and an HTTP client."""

    server: FakeBotAPI
    processes: list[Process]
    http: aiohttp.ClientSession
    sessions: Any

    def take(self, update_id: int) -> dict[str, Any]:
        """The JSON of an update the fake server made (it is posted, not polled)."""
        return next(u for u in self.server.pending_updates if u["update_id"] == update_id)

    def text(self, text: str, user: int = USER) -> dict[str, Any]:
        return self.take(self.server.send_text(user, text))

    def press(self, label: str, user: int = USER) -> dict[str, Any]:
        """A press of the newest button with this label in the person's chat."""
        for message in reversed(self.server.messages(user)):
            for button in buttons(message):
                if button.label == label:
                    return self.take(self.server.press(user, button.message_id, button.data))
        raise LookupError(label)

    async def post(self, which: int, update: dict[str, Any]) -> None:
        """POST the update to one process; it answers once the update is handled."""
        headers = {SECRET_HEADER: SECRET}
        async with self.http.post(
            self.processes[which].url, json=update, headers=headers
        ) as response:
            assert response.status == 200

    async def to_both(self, *updates: dict[str, Any]) -> None:
        """Post to both processes at once: the first update to A, the next to B (a double press),
        or one update to both (a redelivery)."""
        pair = updates if len(updates) == 2 else (updates[0], updates[0])
        await asyncio.gather(self.post(0, pair[0]), self.post(1, pair[1]))

    async def count(self, model: Any, **where: Any) -> int:
        from sqlalchemy import func, select

        async with self.sessions.begin() as session:
            query = select(func.count()).select_from(model)
            for column, value in where.items():
                query = query.where(getattr(model, column) == value)
            return int(await session.scalar(query) or 0)

    def messages(self, user: int = USER) -> list[FakeMessage]:
        return self.server.messages(user)


@contextlib.asynccontextmanager
async def two_processes(
    database_url: str, clock: FakeClock, **settings: Any
) -> AsyncIterator[TwoProcesses]:
    async with FakeBotAPI() as server, contextlib.AsyncExitStack() as stack:
        config = settings_for_test(database_url, telegram_api_base_url=server.base_url, **settings)
        processes, runtimes = [], []
        for _ in range(2):
            runtime = build_application(config, clock, application_class=TrackingApplication)
            application = runtime.application
            assert isinstance(application, TrackingApplication)
            await stack.enter_async_context(started(application))
            port = await stack.enter_async_context(
                webhook_server(application, path="/hook", secret=SECRET, host="127.0.0.1", port=0)
            )
            url = f"http://127.0.0.1:{port}/hook"
            processes.append(Process(application, url, runtime.services.updates))
            runtimes.append(runtime)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        yield TwoProcesses(server, processes, http, runtimes[0].sessions)
        # Telegram refuses what only a second copy does: a double press handled by both edits one
        # message to the same screen twice ("not modified"), and a redelivered press is answered
        # twice ("query is too old"). The bot takes both in its stride.
        second_copies = ("not modified", "query is too old")
        rejected = [
            r for r in server.rejected if not any(w in r.description for w in second_copies)
        ]
        assert rejected == [], "a process sent something Telegram would reject"


def apologies(both: TwoProcesses) -> list[str]:
    return [m.text or "" for m in both.messages() if "went wrong" in (m.text or "")]


async def test_one_persons_updates_alternating_between_two_processes_change_things_once(
    database_url: str, clock: FakeClock
) -> None:
    async with two_processes(database_url, clock) as both:
        await both.post(0, both.text("/start"))
        assert "I agree, let's set up" in [b.label for b in buttons(both.messages()[-1])]

        # A double press of "I agree": one press to each process, at the same moment.
        await both.to_both(both.press("I agree, let's set up"), both.press("I agree, let's set up"))
        assert await both.count(Learner) == 1

        # A double press of "first lesson now": one lesson, sent once.
        start = "Start: first lesson now"
        await both.to_both(both.press(start), both.press(start))
        assert await both.count(LessonProgress) == 1
        lessons = [m for m in both.messages() if "Lesson 1 of 32" in (m.text or "")]
        assert len(lessons) == 1

        # The check's answer, redelivered to both processes: recorded once.
        await both.post(1, both.press("Quick check"))
        question = both.messages()[-1]
        answer = buttons(question)[0]
        await both.to_both(both.take(both.server.press(USER, answer.message_id, answer.data)))
        assert await both.count(CheckAnswer) == 1

        # A reflection, its text redelivered to both: saved once.
        await both.post(0, both.press("Reflect"))
        await both.to_both(both.text("I listened more than I talked"))
        assert await both.count(Reflection) == 1

        # Nothing lost: a command on each process is answered, and nothing apologised.
        before = len(both.messages())
        await both.post(1, both.text("/help"))
        await both.post(0, both.text("/today"))
        assert len(both.messages()) >= before + 2
        assert apologies(both) == []
        for process in both.processes:  # the ids of updates that changed nothing, written
            await process.updates.flush()
        assert await both.count(ProcessedUpdate) >= 8


@needs_redis
async def test_the_flood_limit_counts_across_both_processes_with_redis(
    database_url: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without shared counting each process would let the person through up to the limit."""
    monkeypatch.setattr(flood, "REDIS_TIMEOUT_SECONDS", PATIENT_REDIS_SECONDS)
    caplog.set_level(logging.WARNING, logger="bot.core.flood")
    person = 5_000_000_000 + uuid.uuid4().int % 1_000_000_000  # keys of this test's own in Redis
    async with two_processes(
        database_url, clock, flood_limit="6/30 seconds", flood_storage_url=TEST_REDIS_URL
    ) as both:
        for i in range(20):
            await both.post(i % 2, both.text("/help", user=person))
        replies = [m.text or "" for m in both.messages(person)]
        told = [t for t in replies if "faster than I can keep up" in t]
        assert (len(replies), len(told)) == (7, 1)  # six answered, then told once, by either
        await both.post(1, both.text("/support", user=person))
        assert "116 123" in (both.messages(person)[-1].text or "")  # one /support gets through
        await both.post(0, both.text("/support", user=person))
        assert len(both.messages(person)) == 8  # and then it is limited like the rest
        assert "unreachable" not in caplog.text  # counted in Redis throughout
        # Someone else is not affected by the flooder.
        await both.post(0, both.text("/help", user=person + 1))
        assert len(both.messages(person + 1)) == 1
