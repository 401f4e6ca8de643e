"""Dialogues for what works in every state: /help, /support, unknown input, errors."""

from __future__ import annotations

import pytest

from bot.app import build_application, started
from bot.core.clock import FakeClock
from bot.handlers import common
from bot.sandbox.fake_telegram.faults import ServerError
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.sandbox.simulator import TrackingApplication, running
from bot.views.commands import COMMANDS
from tests.support.factories import USER
from tests.support.harness import BotUnderTest, settings_for_test


async def test_help_lists_every_command(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/help")
    labels = [b["text"] for row in reply.buttons for b in row]
    assert labels == ["Today's lesson", "Look something up", "All commands", "Support and contacts"]
    [everything] = await bot.press("All commands")
    assert everything.text is not None
    for command in COMMANDS:
        assert f"/{command.name}" in everything.text


async def test_help_buttons_work_for_someone_not_subscribed(bot: BotUnderTest) -> None:
    await bot.send("/help")
    [support] = await bot.press("Support and contacts")
    assert "116 123" in (support.text or "")
    changed = await bot.press("Look something up")
    assert any("Recovery triangle" in str(m.reply_markup) for m in changed)
    await bot.send("/help")
    today = await bot.press("Today's lesson")
    assert today and "haven't started the course" in (today[-1].text or "")


async def test_command_menu_is_set_at_start_up(bot: BotUnderTest) -> None:
    names = [c.method for c in bot.server.requests]
    assert "setMyCommands" in names
    assert "privacy" in [c["command"] for c in bot.server.commands]


async def test_the_bot_describes_itself_at_start_up(bot: BotUnderTest) -> None:
    """What it is, and that it is not a crisis service, from lessons/course.yaml."""
    course = bot.runtime.services.content.course
    assert bot.server.description() == course.description
    assert bot.server.description(short=True) == course.short_description
    for text in (course.description, course.short_description):
        assert "trauma-informed practice" in text and "not a crisis service" in text
    assert len(bot.server.calls("setMyDescription")) == 1


async def test_a_description_already_set_is_not_set_again(
    database_url: str, clock: FakeClock
) -> None:
    async with FakeBotAPI() as server:
        for _ in range(2):  # a restart
            runtime = build_application(
                settings_for_test(database_url, telegram_api_base_url=server.base_url), clock
            )
            async with started(runtime.application):
                pass
    assert len(server.calls("getMyDescription")) == 2
    assert len(server.calls("setMyDescription")) == len(server.calls("setMyShortDescription")) == 1


async def test_the_bot_starts_when_telegram_refuses_its_description(
    database_url: str, clock: FakeClock
) -> None:
    async with FakeBotAPI() as server:
        server.inject("setMyDescription", times=None, fault=ServerError(400, "Bad Request: no"))
        runtime = build_application(
            settings_for_test(database_url, telegram_api_base_url=server.base_url),
            clock,
            application_class=TrackingApplication,
        )
        async with running(runtime, server) as sim:
            assert await sim.send(USER, "/help")
    assert server.description() == ""


async def test_support_shows_contacts(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/support")
    assert reply.text is not None
    assert "116 123" in reply.text and "85258" in reply.text and "999" in reply.text


async def test_unknown_command_points_to_help(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/frobnicate")
    assert reply.text is not None and "/help" in reply.text


async def test_sticker_and_voice_get_a_kind_reply(bot: BotUnderTest) -> None:
    for enqueue in (bot.server.send_sticker, bot.server.send_voice):
        before = bot.sim.snapshot(1001)
        update_id = enqueue(1001)
        await bot.sim.application.wait_finished(update_id, 5)
        [reply] = bot.sim.changes_since(before, 1001)
        assert reply.text is not None and "text" in reply.text


async def test_a_failing_update_gets_an_apology_and_the_next_is_handled(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("secret detail that must not reach the user")

    monkeypatch.setattr(common, "help_screen", boom)
    [apology] = await bot.send("/help")
    assert apology.text is not None and "Sorry" in apology.text
    assert "secret detail" not in apology.text
    [reply] = await bot.send("/support")
    assert reply.text is not None and "116 123" in reply.text


async def test_a_forged_button_is_answered_quietly(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/help")
    changed = await bot.sim.press_data(1001, reply.message_id, "zz:not-a-real-button")
    assert changed == []
    assert bot.server.callback_answers[-1].text is None
