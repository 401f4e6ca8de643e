"""Personal data never goes into a group: a group with two members, every personal command and
every personal button, pressed by the other member (and by the owner, and a lead).

Everything personal (lessons, reflections, journal, progress, settings, the export, erasure, check
answers, joining a cohort, a lead's cohorts) is only ever sent in the person's private chat. In a
group a personal command gets one line with a button that opens the private chat; lookups, cards
and /help work there. A personal button is honoured only in its owner's private chat (the one
chat only they can press in); anywhere else it is refused with a short notice, and nothing is
sent or changed anywhere.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from telegram.ext import CommandHandler

from bot.core.clock import FakeClock
from bot.db.models import CohortMember, Reflection
from bot.handlers import private
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.views import callbacks
from bot.views.callbacks import (
    CARD_MORE,
    CARD_OPEN,
    CARD_SHOW,
    CERT_MAKE,
    CERT_NAME,
    CERT_OPTIONS,
    CONFIDENCE,
    COURSE,
    FORGET_CONFIRM,
    FORGET_KEEP,
    HELP_PAGE,
    JOURNAL_PAGE,
    LEAD_ACCEPT,
    LEAD_REMOVE,
    LESSON_ANSWER,
    LESSON_CHECK,
    LESSON_DONE,
    LESSON_MOMENT,
    LESSON_OPEN,
    LESSON_REFLECT,
    LESSON_SHOW,
    LESSON_SKIP,
    MENU_SHOW,
    ONBOARD,
    REFLECT_CANCEL,
    REVIEW_ANSWER,
    REVIEW_LATER,
    REVIEW_NEXT,
    SETTINGS,
    SUPPORT,
    SUPPORT_DISCLOSURE,
    TEAM_ARCHIVE,
    TEAM_CANCEL,
    TEAM_DECLINE,
    TEAM_JOIN,
    TEAM_LEAVE,
    TEAM_LEAVE_ASK,
    TEAM_NAME_CANCEL,
    TEAM_OPEN,
    TEAM_PATTERN,
    TEAM_REMOVE,
    TEAM_REMOVE_ASK,
    TEAM_SHOW_ACTIVITY,
    WEEK_DONE,
    WEEK_TOGGLE,
)
from bot.views.common import PRIVATE_BUTTON_NOTICE
from tests.support.factories import (
    ADMIN,
    LEAD,
    cohort_id,
    count,
    deliver,
    join,
    make_lead,
    make_learner,
    member_id,
    new_cohort,
    subscription_of,
)
from tests.support.harness import USER, BotUnderTest, bot_under_test

GROUP = -100_777
OWNER, OTHER = USER, 1002  # two members of the group; OWNER has a journal, a lesson, a cohort
NEWCOMER = 1003  # has never used the bot
REFLECTION = "Tuesday: the visit with Marguerite stayed with me"
OTHER_REFLECTION = "Only mine: the handover at Pembridge"
LESSON = "welcome"
PRIVATE_LINE = "Your course and your data stay in your private chat with me."
LINK = re.compile(r"^https://t\.me/trauma_informed_bot\?start=([a-z]+)$")

# Every personal command as typed in the group ({invite} is a real cohort invite payload).
PERSONAL_COMMANDS = [
    "/start",
    "/start {invite}",
    "/today",
    "/next",
    "/progress",
    "/journal",
    "/confidence",
    "/report",
    "/certificate",
    "/leave",
    "/settings",
    "/pause",
    "/pause 3d",
    "/resume",
    "/restart",
    "/stop",
    "/mydata",
    "/forget",
    "/lead",
    "/lead list",
    "/cohorts",
    "/cohort",
    "/cohort Night team",
    "/cohort export Night team",
    "/journal@trauma_informed_bot",
]
# Lookups and help: answered in the group itself.
PUBLIC_COMMANDS = [
    "/help",
    "/privacy",
    "/support",
    "/listen",
    "/stages",
    "/stage 2",
    "/stage2",
    "/triangle",
    "/attachment",
    "/resilience",
    "/questions",
    "/wellbeing",
    "/cards",
    "/search listening",
]
# Every personal button, with data that is valid for OWNER ({cohort}, {member}, {invite},
# {minute} filled in), so the press would act if it were honoured.
PERSONAL_BUTTONS = [
    f"{LESSON_DONE}:{LESSON}",
    f"{LESSON_OPEN}:{LESSON}",
    f"{LESSON_REFLECT}:{LESSON}",
    f"{LESSON_CHECK}:{LESSON}",
    f"{LESSON_ANSWER}:{LESSON}:0",
    f"{LESSON_SKIP}:{LESSON}",
    f"{LESSON_MOMENT}:{LESSON}",
    f"{LESSON_SHOW}:{LESSON}",
    REFLECT_CANCEL,
    REVIEW_NEXT,
    REVIEW_LATER,
    f"{REVIEW_ANSWER}:{LESSON}:0",
    f"{JOURNAL_PAGE}:0",
    f"{JOURNAL_PAGE}:1",
    f"{FORGET_CONFIRM}:{{minute}}",
    FORGET_KEEP,
    f"{ONBOARD}:yes",
    f"{ONBOARD}:now",
    f"{ONBOARD}:welcome",
    f"{SETTINGS}:home",
    f"{SETTINGS}:time:0730",
    f"{SETTINGS}:rem:off",
    f"{COURSE}:today",
    f"{COURSE}:status",
    f"{COURSE}:pause:3",
    f"{COURSE}:stop:keep",
    f"{COURSE}:stop:delete:yes",
    f"{TEAM_JOIN}:{{invite}}",
    TEAM_DECLINE,
    TEAM_NAME_CANCEL,
    f"{TEAM_SHOW_ACTIVITY}:{{member}}:1",
    f"{TEAM_LEAVE_ASK}:{{cohort}}",
    f"{TEAM_LEAVE}:{{cohort}}",
    f"{LEAD_ACCEPT}:{{invite}}",
    f"{TEAM_OPEN}:{{cohort}}",
    f"{TEAM_ARCHIVE}:{{cohort}}",
    f"{TEAM_REMOVE_ASK}:{{cohort}}:{{member}}",
    f"{TEAM_REMOVE}:{{cohort}}:{{member}}",
    f"{LEAD_REMOVE}:{LEAD}",
    f"{CONFIDENCE}:start:go",
    f"{CONFIDENCE}:start:attachment:3",
    TEAM_CANCEL,
    f"{TEAM_PATTERN}:{{cohort}}",
    f"{WEEK_TOGGLE}:20261207:31:0",
    f"{WEEK_DONE}:20261207:31",
    f"{CERT_OPTIONS}:10",
    f"{CERT_MAKE}:11:t",
    f"{CERT_NAME}:01",
    "zz:1",  # no such button at all
]
PUBLIC_BUTTONS = [
    f"{CARD_SHOW}:talking",
    f"{CARD_MORE}:listen",
    f"{MENU_SHOW}:triangle",
    f"{CARD_OPEN}:attachment-disorganised",  # the card behind its content note
    SUPPORT,  # the support screen
    f"{SUPPORT}:{SUPPORT_DISCLOSURE}",  # responding to a disclosure
    LESSON_MOMENT,  # "Support and contacts" on /help: support is one tap away everywhere
    f"{HELP_PAGE}:all",  # /help's "All commands" (a learner's list in a group, whoever presses)
]


@dataclass
class World:
    bot: BotUnderTest
    invite: str
    cohort: int
    member: int
    card_message: FakeMessage  # a bot message in the group to press buttons on

    def fill(self, data: str) -> str:
        minute = int(self.bot.clock.now().timestamp() // 60)
        return data.format(
            cohort=self.cohort, member=self.member, invite=self.invite, minute=minute
        )

    def snapshot(self) -> dict[int, dict[int, tuple[object, ...]]]:
        chats = (GROUP, OWNER, OTHER, LEAD, NEWCOMER)
        return {chat: self.bot.sim.snapshot(chat) for chat in chats}

    def changed(self, before: dict[int, dict[int, tuple[object, ...]]]) -> list[FakeMessage]:
        return [m for chat, seen in before.items() for m in self.bot.sim.changes_since(seen, chat)]


async def _reflect(bot: BotUnderTest, user: int, text: str) -> None:
    lesson = await deliver(bot, LESSON, user)
    await bot.press("Reflect", user=user, message=lesson)
    [saved] = await bot.send(text, user=user)
    assert "Saved privately" in saved.plain_text


@pytest.fixture
async def world(database_url: str, clock: FakeClock) -> AsyncIterator[World]:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        await make_lead(bot, LEAD)
        invite = await new_cohort(bot, "Night team", lead=LEAD)
        await make_learner(bot, OWNER)
        await make_learner(bot, OTHER)
        await join(bot, invite, OWNER, "Ana")
        await _reflect(bot, OWNER, REFLECTION)
        await _reflect(bot, OTHER, OTHER_REFLECTION)
        [cards] = await bot.send("/cards", user=OWNER, chat=GROUP)
        yield World(
            bot, invite, await cohort_id(bot, "Night team"), await member_id(bot, OWNER), cards
        )
        assert bot.server.rejected == []


def _redirect_link(message: FakeMessage) -> str:
    """The one URL button of a redirect line."""
    [[button]] = message.buttons
    assert set(button) == {"text", "url"}, button
    return str(button["url"])


async def _owner_state(world: World) -> tuple[object, ...]:
    bot = world.bot
    sub = await subscription_of(bot, OWNER)
    assert sub is not None
    return (
        sub.state,
        sub.delivery_time,
        sub.reminders,
        await count(bot, Reflection),
        await count(bot, CohortMember),
    )


@pytest.mark.parametrize("typed", PERSONAL_COMMANDS)
async def test_a_personal_command_in_a_group_gets_one_line_pointing_to_the_private_chat(
    world: World, typed: str
) -> None:
    state = await _owner_state(world)
    for who in (OWNER, OTHER, LEAD, NEWCOMER):
        before = world.snapshot()
        replies = await world.bot.send(typed.format(invite=world.invite), user=who, chat=GROUP)
        assert [m.plain_text for m in world.changed(before)] == [PRIVATE_LINE], (typed, who)
        [line] = replies
        found = LINK.match(_redirect_link(line))
        assert found is not None, _redirect_link(line)
        assert found.group(1) == typed.split()[0].split("@")[0].removeprefix("/")
    assert await _owner_state(world) == state  # /pause 3d, /stop ... changed nothing
    group_text = " ".join(m.plain_text for m in world.bot.messages(GROUP))
    assert "Marguerite" not in group_text and "Pembridge" not in group_text


@pytest.mark.parametrize("typed", PUBLIC_COMMANDS)
async def test_lookups_and_help_are_answered_in_the_group(world: World, typed: str) -> None:
    before = world.snapshot()
    replies = await world.bot.send(typed, user=OTHER, chat=GROUP)
    assert replies and all(m.chat_id == GROUP for m in world.changed(before))
    assert PRIVATE_LINE not in [m.plain_text for m in replies]


@pytest.mark.parametrize("data", PERSONAL_BUTTONS)
async def test_a_personal_button_outside_its_owners_private_chat_is_refused(
    world: World, data: str
) -> None:
    """Pressed on a group message by the other member, the owner and a lead; and forged onto
    the owner's private message by the other member (Telegram never sends that, but a press
    is checked against the chat it came from, not trusted)."""
    bot, callback = world.bot, world.fill(data)
    state = await _owner_state(world)
    owners_message = bot.last(OWNER)
    presses = [(who, world.card_message.message_id, GROUP) for who in (OTHER, OWNER, LEAD)]
    presses.append((OTHER, owners_message.message_id, OWNER))
    for who, message_id, chat in presses:
        before = world.snapshot()
        await bot.sim.press_data(who, message_id, callback, chat)
        assert world.changed(before) == [], (data, who, chat)
        answer = bot.server.callback_answers[-1]
        assert (answer.user_id, answer.text) == (who, PRIVATE_BUTTON_NOTICE), (data, who)
        assert answer.url is not None and LINK.match(answer.url), answer.url
    assert await _owner_state(world) == state


@pytest.mark.parametrize("data", PUBLIC_BUTTONS)
async def test_card_menu_and_support_buttons_work_in_the_group(world: World, data: str) -> None:
    before = world.snapshot()
    await world.bot.sim.press_data(OTHER, world.card_message.message_id, data, GROUP)
    changed = world.changed(before)
    assert changed and all(m.chat_id == GROUP for m in changed)
    assert world.bot.server.callback_answers[-1].text != PRIVATE_BUTTON_NOTICE


async def test_the_link_continues_where_the_person_asked_in_their_private_chat(
    world: World,
) -> None:
    bot = world.bot
    [line] = await bot.send("/journal", user=OWNER, chat=GROUP)
    payload = _redirect_link(line).rsplit("=", 1)[1]
    [journal] = await bot.send(f"/start {payload}", user=OWNER)
    assert "Marguerite" in journal.plain_text  # their own journal, in their private chat
    [journal] = await bot.send(f"/start {payload}", user=OTHER)
    assert "Pembridge" in journal.plain_text and "Marguerite" not in journal.plain_text
    # Someone new to the bot is welcomed first (what it is and what is stored), not sent on.
    [welcome] = await bot.send(f"/start {payload}", user=NEWCOMER)
    assert "I agree" in str(welcome.buttons)


async def test_owners_buttons_still_work_in_their_private_chat(world: World) -> None:
    bot = world.bot
    [journal] = await bot.send("/journal", user=OWNER)
    assert "Marguerite" in journal.plain_text
    [settings] = await bot.send("/settings", user=OWNER)
    replies = await bot.press("Turn reminders off", user=OWNER, message=settings)
    assert replies and bot.server.callback_answers[-1].text != PRIVATE_BUTTON_NOTICE


def test_every_command_and_button_is_classified(clock: FakeClock) -> None:
    """A new command must be declared personal or be a lookup the tests above cover; a new
    button prefix is personal unless it is one of the public ones."""
    from bot.app import build_application
    from tests.support.harness import settings_for_test

    runtime = build_application(
        settings_for_test("sqlite+aiosqlite:///:memory:"), clock, token="1:x"
    )
    registered = {
        command
        for group in runtime.application.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler) and handler.callback.__module__ != private.__name__
        for command in handler.commands
    }
    personal = private.personal_commands()
    public = {t.split()[0].removeprefix("/") for t in PUBLIC_COMMANDS} | {"stage1", "stage3"}
    assert registered <= personal | public, registered - personal - public
    assert personal.isdisjoint(public)
    assert {t.split()[0].split("@")[0].removeprefix("/") for t in PERSONAL_COMMANDS} == personal
    prefixes = {
        value
        for name, value in vars(callbacks).items()
        # SUPPORT_DISCLOSURE is an argument of SUPPORT, not a prefix of its own.
        if name.isupper() and isinstance(value, str) and name not in {"SEP", "SUPPORT_DISCLOSURE"}
    }
    tested = {data.split(":")[0] for data in PERSONAL_BUTTONS + PUBLIC_BUTTONS}
    assert prefixes <= tested, prefixes - tested
