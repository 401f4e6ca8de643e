"""The guard: redelivered updates change nothing, yet an update that failed is handled when it comes
again; a flooding person is told once, then ignored, with no database work and no one slowed."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError
from telegram import Update

from bot.core.clock import FakeClock
from bot.core.flood import FloodLimit
from bot.db.engine import create_sessions
from bot.db.models import CheckAnswer, Learner, ProcessedUpdate, Reflection
from bot.sandbox.fake_telegram.faults import BadRequest
from bot.services.updates import UpdateLog
from tests.support.factories import count, deliver, make_learner
from tests.support.harness import USER, BotUnderTest, bot_under_test


def _message(update_id: int, text: str, user: int = USER) -> dict[str, Any]:
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": user, "type": "private"},
            "from": {"id": user, "is_bot": False, "first_name": "Alex"},
            "text": text,
            **({"entities": entities} if text.startswith("/") else {}),
        },
    }


async def _process(bot: BotUnderTest, payload: dict[str, Any]) -> None:
    application = bot.sim.application
    await application.process_update(Update.de_json(payload, application.bot))


async def test_a_redelivered_update_is_handled_once(database_url: str, clock: FakeClock) -> None:
    async with bot_under_test(database_url, clock) as bot:
        for _ in range(2):  # e.g. redelivered after a lost webhook response
            await _process(bot, _message(777, "/help"))
        assert len(bot.messages()) == 1
    async with bot_under_test(database_url, clock) as bot:  # the next process, after a restart
        await _process(bot, _message(777, "/help"))
        assert bot.messages() == []
        assert await count(bot, ProcessedUpdate) == 1  # written at shutdown with the others


async def test_an_update_whose_handling_failed_is_handled_when_redelivered(
    database_url: str, clock: FakeClock
) -> None:
    """Its id used to be recorded first, so the redelivery was dropped while the apology
    promised nothing was lost."""
    async with bot_under_test(database_url, clock) as bot:
        bot.server.inject("sendMessage", fault=BadRequest("Bad Request: something odd"))
        await _process(bot, _message(778, "/help"))
        [apology] = bot.messages()
        assert "went wrong" in (apology.text or "")
        assert await count(bot, ProcessedUpdate) == 0
        await _process(bot, _message(778, "/help"))
        assert "/support" in (bot.last().text or "") and len(bot.messages()) == 2
        await bot.runtime.services.updates.flush()
        assert await count(bot, ProcessedUpdate) == 1


async def test_an_effect_records_the_update_so_a_redelivery_does_not_repeat_it(
    database_url: str, clock: FakeClock
) -> None:
    """The reflection is saved, then the reply fails (as if the bot crashed): the redelivered
    update must not save it twice."""
    async with bot_under_test(database_url, clock) as bot:
        await make_learner(bot)
        lesson = await deliver(bot, "welcome")
        await bot.press("Reflect", message=lesson)
        bot.server.inject("sendMessage", fault=BadRequest("Bad Request: something odd"), times=2)
        await _process(bot, _message(900_001, "I listened more than I talked"))
        assert await count(bot, Reflection) == 1
        await _process(bot, _message(900_001, "I listened more than I talked"))
        assert await count(bot, Reflection) == 1


async def test_an_effect_flushed_before_its_commit_still_records_the_update(
    database_url: str, clock: FakeClock
) -> None:
    """A check's answer is added, then a query autoflushes it, so at commit the session had no
    pending rows and the update was not recorded with it: a process that died before the end of
    handling left the answer recorded and the update not, and the redelivery (or a second copy
    in another process) recorded the answer again."""
    async with bot_under_test(database_url, clock) as bot:
        services = bot.runtime.services
        await make_learner(bot)
        await deliver(bot, "welcome")
        assert await services.updates.begin(31_338)
        await services.learning.answer_check(USER, "welcome", 1)
        services.updates.abandon()  # the process dies here, before the update's end
        assert not await services.updates.begin(31_338)  # the redelivery is recognised
        assert await count(bot, CheckAnswer) == 1


async def test_two_copies_handled_at_once_change_things_once(
    database_url: str, clock: FakeClock
) -> None:
    """Two processes given the same update (each with its own update log and sessions, on one
    database): the second copy's change is rolled back."""
    async with bot_under_test(database_url, clock) as bot:
        await make_learner(bot)
        both_started = asyncio.Barrier(2)

        async def handle_copy() -> None:
            sessions = create_sessions(bot.runtime.engine)  # this "process's" own
            updates = UpdateLog(sessions, clock)
            assert await updates.begin(31_337)
            await both_started.wait()
            async with sessions.begin() as session:  # any write
                await session.execute(update(Learner).values(pending_action=None))
            await updates.finish()

        results = await asyncio.gather(
            asyncio.create_task(handle_copy()),
            asyncio.create_task(handle_copy()),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in results) == ["AlreadyHandled", "NoneType"]
        assert await count(bot, ProcessedUpdate) == 1


async def test_flooding_is_answered_once_then_ignored_and_others_are_unaffected(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, flood_limit="5/1 second") as bot:
        replies = [await bot.send("/help") for _ in range(8)]
        assert [len(r) for r in replies[:5]] == [1] * 5
        assert "faster than I can keep up" in (replies[5][0].text or "")
        assert replies[6:] == [[], []]
        assert len(await bot.send("/help", user=2002)) == 1  # someone else
        await asyncio.sleep(1.1)  # the person slows down
        assert len(await bot.send("/help")) == 1


async def test_support_gets_through_once_a_window_then_is_limited_like_the_rest(
    database_url: str, clock: FakeClock
) -> None:
    """200 /support from one person used to get 200 replies, slowing everyone else."""
    async with bot_under_test(database_url, clock, flood_limit="5/30 seconds") as bot:
        for _ in range(6):
            await bot.send("/help")  # over the limit now
        [support] = await bot.send("/support")  # the first /support in the window gets through
        assert "116 123" in (support.text or "")
        before = len(bot.messages())
        for _ in range(50):
            await bot.send("/support")
        assert len(bot.messages()) == before  # then it is limited like everything else


async def test_a_new_window_lets_one_support_through_again() -> None:
    flood = FloodLimit("2/1 second")
    assert [await flood.allow(1) for _ in range(3)] == [True, True, False]
    assert [await flood.allow(1, support=True) for _ in range(3)] == [True, False, False]
    await asyncio.sleep(1.05)
    assert [await flood.allow(1) for _ in range(3)] == [True, True, False]
    assert await flood.allow(1, support=True) and not await flood.allow(1, support=True)


async def test_the_flood_check_writes_nothing_to_the_database(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, flood_limit="3/10 seconds") as bot:
        for _ in range(4):
            await bot.send("/help")  # three answered, then told to slow down
        statements: list[str] = []

        def note(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(bot.runtime.engine.sync_engine, "before_cursor_execute", note)
        try:
            for _ in range(20):
                await bot.send("/support" if _ % 2 else "/help")
        finally:
            event.remove(bot.runtime.engine.sync_engine, "before_cursor_execute", note)
        # The one /support let through is handled (and recorded); the refused 19 cost nothing.
        assert len([s for s in statements if "processed_updates" in s]) <= 2


class _Unreachable:
    """A session factory whose database refuses to connect, with the given error."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.kw: dict[str, Any] = {}

    def configure(self, **kw: Any) -> None:
        return None

    def __call__(self) -> _Unreachable:
        return self

    def begin(self) -> _Unreachable:
        return self

    async def __aenter__(self) -> None:
        raise self.error

    async def __aexit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, Exception("connection refused")),
        ConnectionRefusedError("connection refused"),
        TimeoutError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.InterfaceError("connection is closed"),
    ],
)
async def test_the_update_log_fails_open_when_the_database_is_unreachable(
    error: Exception, clock: FakeClock
) -> None:
    """Seen in bench/fault_pg_restart.py: asyncpg's connect errors are not SQLAlchemy's."""
    log = UpdateLog(_Unreachable(error), clock)  # type: ignore[arg-type]
    assert await log.begin(1) is True
    await log.finish()  # not recorded, and no error either


async def test_a_burst_is_limited_as_it_arrives_not_as_each_update_gets_its_turn(
    database_url: str, clock: FakeClock
) -> None:
    """bench/flood.py found it: with replies paced at one a second per chat, a flooder's updates
    reached the flood check one a second, so 1,000 sent at once were all answered, over about
    17 minutes, and none limited. The limit is counted when an update arrives."""
    async with bot_under_test(
        database_url, clock, flood_limit="20/10 seconds", reply_chat_rate=1.0
    ) as bot:
        before = len(bot.messages(USER))
        sent = [bot.server.send_text(USER, "/help") for _ in range(60)]  # all at once
        started = time.monotonic()
        [other] = await bot.send("/help", user=2002)  # someone else is answered at once
        assert other.text is not None and time.monotonic() - started < 2.0
        for update_id in sent:
            await bot.sim.application.wait_finished(update_id, 60)
        replies = [m.text or "" for m in bot.messages(USER)[before:]]
        told = [text for text in replies if "faster than I can keep up" in text]
        assert (len(replies), len(told)) == (21, 1)  # the 20 the limit allows, told once


async def test_a_flooders_ignored_updates_are_never_parsed_and_the_rest_once(
    database_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/flood.py's burst: 1,000 updates queued at once delayed someone else's reply by up
    to 0.7 s, nearly all of it parsing each update twice (once to skip an unparsable one, once
    by the library) only for the flood limit to drop it. An update the flood limit ignores is
    now dropped as it arrives, unparsed, and every other update is parsed once."""
    parsed: list[int] = []
    de_json = Update.de_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Update], data: dict[str, Any], bot: Any = None) -> Update:
        parsed.append(data["update_id"])
        return de_json(cls, data, bot)  # type: ignore[no-any-return]

    async with bot_under_test(
        database_url, clock, flood_limit="20/10 seconds", reply_chat_rate=0
    ) as bot:
        monkeypatch.setattr(Update, "de_json", classmethod(counting))
        sent = [bot.server.send_text(USER, "/help") for _ in range(60)]
        for update_id in sent:  # a dropped update counts as finished too
            await bot.sim.application.wait_finished(update_id, 60)
        assert sorted(parsed) == sent[:21]  # the 20 the limit allows and the one told to slow down
        replies = [m.text or "" for m in bot.messages(USER)]
        assert len(replies) == 21


async def test_an_update_that_changes_nothing_costs_the_database_almost_nothing(
    database_url: str, clock: FakeClock
) -> None:
    """Profiling bench/load.py: two transactions on every update (look its id up, then record
    it), on SQLite each taking the write lock, were a third of the CPU of a /help, and each card
    shown was one more; asking whether a lesson may not have arrived was another. New ids are
    above the floor (nothing to look up); ids and card views are written in batches, at most
    once a second each; the chats with a lesson to offer again are known without a query."""
    async with bot_under_test(database_url, clock) as bot:
        await bot.send("/help")  # the floor is read once, on the first update
        statements: list[str] = []
        engine = bot.runtime.engine.sync_engine

        def note(*args: Any) -> None:
            statements.append(" ".join(str(args[2]).split()))

        event.listen(engine, "before_cursor_execute", note)
        started = time.monotonic()
        for text in ["/help", "/stage 2"] * 3:
            await bot.send(text)
        seconds = time.monotonic() - started
        event.remove(engine, "before_cursor_execute", note)
        # /help reads whether this person leads a team (its menu depends on it), and that is all.
        reads = [statement for statement in statements if statement.startswith("SELECT")]
        lead = "SELECT leads.id FROM leads WHERE leads.telegram_user_id ="
        assert len(reads) == 3 and all(read.startswith(lead) for read in reads), reads
        writes = [statement for statement in statements if statement.startswith("INSERT")]
        assert len(writes) <= 2 * (int(seconds) + 1)  # was 9: one per id and view
        await bot.runtime.services.updates.flush()
        assert await count(bot, ProcessedUpdate) == 7


async def test_the_flood_check_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Profiling bench/load.py: the `limits` library's in-memory storage starts a timer thread
    to expire old hits whenever its last one has finished, i.e. on nearly every update: about
    1 ms of CPU a check, more than the rest of a /help. The check is now arithmetic only."""
    started: list[threading.Thread] = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    flood = FloodLimit("3/10 seconds")
    decisions = [await flood.allow(person) for _ in range(4) for person in (1, 2)]
    assert decisions == [True, True, True, True, True, True, False, False]
    assert started == []


async def test_the_flood_window_moves_and_forgets_people_who_have_gone_quiet() -> None:
    now = [0.0]
    flood = FloodLimit("2/10 seconds", now=lambda: now[0])
    assert [await flood.allow(1) for _ in range(3)] == [True, True, False]
    now[0] = 9.9
    assert not await flood.allow(1)
    now[0] = 10.0  # both hits have left the window; the refused ones never counted
    assert [await flood.allow(1) for _ in range(3)] == [True, True, False]
    now[0] = 15.0
    assert not await flood.allow(1)
    for person in range(2, 20_000):
        await flood.allow(person)
    assert flood.people() == 19_999  # nobody is quiet yet: each is still in their window
    now[0] = 100.0
    await flood.allow(99_999)  # someone new arrives when the windows are many
    assert flood.people() == 1  # the quiet ones were forgotten
