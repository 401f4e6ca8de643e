"""Dialogues for the command menus and /help: learners see the course and lookup commands; leads
and admins get theirs in their own chats, changed the moment a role is given or taken away; /help
fits one phone screen, with buttons for the rest.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.core.clock import FakeClock
from bot.sandbox.fake_telegram.faults import BadRequest
from bot.views.commands import COMMANDS
from tests.support.factories import ADMIN, LEAD, make_lead, payload_in
from tests.support.harness import USER, BotUnderTest, bot_under_test, labels, text_of

LEARNER_COMMANDS = [c.name for c in COMMANDS]


@pytest.fixture
async def team_bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    """The bot with one admin configured."""
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        yield bot
        assert bot.server.rejected == []


def menu(bot: BotUnderTest, chat: int) -> list[str]:
    return [str(c["command"]) for c in bot.server.menu_seen_in(chat)]


async def test_learners_see_the_course_and_lookup_commands(team_bot: BotUnderTest) -> None:
    seen = menu(team_bot, USER)
    assert seen == LEARNER_COMMANDS
    for command in ("start", "today", "progress", "settings", "stages", "search", "support"):
        assert command in seen
    assert "cohorts" not in seen and "lead" not in seen


async def test_the_admin_has_their_own_menu_from_the_start(team_bot: BotUnderTest) -> None:
    seen = menu(team_bot, ADMIN)
    assert {"lead", "cohorts", "cohort"} <= set(seen)
    assert set(LEARNER_COMMANDS) <= set(seen)


async def test_an_admin_new_to_the_bot_gets_their_menu_with_their_first_start(
    team_bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    """At start-up Telegram answers "chat not found" for an admin who has never opened a chat
    with the bot: no warning at every start, and the menu comes with their /start."""
    bot = team_bot
    scoped = [{"type": "chat", "chat_id": ADMIN}]
    bot.server.inject("setMyCommands", fault=BadRequest("Bad Request: chat not found"))
    with caplog.at_level(logging.INFO):
        await bot.send("/start", user=ADMIN)  # as Telegram answered at start-up
    assert [r.levelname for r in caplog.records if "command menu" in r.getMessage()] == ["INFO"]
    calls = [c for c in bot.server.calls("setMyCommands") if c.params.get("scope") in scoped]
    await bot.send("/start", user=ADMIN)
    again = [c for c in bot.server.calls("setMyCommands") if c.params.get("scope") in scoped]
    assert len(again) == len(calls) + 1
    assert {"lead", "cohorts", "cohort"} <= set(menu(bot, ADMIN))


async def test_a_lead_gets_the_lead_menu_when_added_and_loses_it_when_removed(
    team_bot: BotUnderTest,
) -> None:
    bot = team_bot
    assert "cohorts" not in menu(bot, LEAD)
    await make_lead(bot, LEAD)
    seen = menu(bot, LEAD)
    assert {"cohorts", "cohort", "lead"} <= set(seen)
    assert set(LEARNER_COMMANDS) <= set(seen)
    await bot.send(f"/lead remove {LEAD}", user=ADMIN)
    await bot.press("Yes, remove", user=ADMIN)
    assert menu(bot, LEAD) == LEARNER_COMMANDS


async def test_accepting_a_lead_invitation_brings_the_lead_menu(team_bot: BotUnderTest) -> None:
    bot = team_bot
    payload = payload_in(await bot.send("/lead invite", user=ADMIN))
    await bot.send(f"/start {payload}", user=LEAD)
    await bot.press("Accept", user=LEAD)
    assert "cohorts" in menu(bot, LEAD)


async def test_a_lead_who_erases_their_data_gets_the_learner_menu_back(
    team_bot: BotUnderTest,
) -> None:
    bot = team_bot
    await make_lead(bot, LEAD)
    await bot.send("/forget", user=LEAD)
    await bot.press("Yes, erase everything", user=LEAD)
    assert menu(bot, LEAD) == LEARNER_COMMANDS


async def test_leads_are_given_their_menu_again_at_start_up(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        await make_lead(bot, LEAD)
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        assert "cohorts" in menu(bot, LEAD)  # a fresh server: set again by the bot at start-up


# --- /help ----------------------------------------------------------------------------------------

PHONE_LINES = 18  # lines of text that fit a phone screen above the buttons
PHONE_CHARS = 800


async def test_help_fits_one_phone_screen_with_buttons_for_the_rest(bot: BotUnderTest) -> None:
    [help_message] = await bot.send("/help")
    text = text_of(help_message)
    assert len(text.splitlines()) <= PHONE_LINES, text
    assert len(text) <= PHONE_CHARS, len(text)
    for command in ("/today", "/progress", "/settings", "/pause", "/support"):
        assert command in text
    assert "All commands" in labels(help_message)
    [everything] = await bot.press("All commands")
    full = text_of(everything)
    for command in LEARNER_COMMANDS:
        assert f"/{command}" in full
    assert "Back" in labels(everything)
    [back] = await bot.press("Back")
    assert text_of(back) == text


async def test_help_names_the_team_commands_for_a_lead_only(team_bot: BotUnderTest) -> None:
    [learner] = await team_bot.send("/help")
    assert "/cohorts" not in text_of(learner)
    await make_lead(team_bot, LEAD)
    [lead] = await team_bot.send("/help", user=LEAD)
    assert "/cohorts" in text_of(lead) and "/lead" in text_of(lead)
    assert len(text_of(lead).splitlines()) <= PHONE_LINES
