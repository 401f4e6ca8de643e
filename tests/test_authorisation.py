"""Who may do what: every lead and admin command and button, for every kind of person.

The table below is the specification. Each row is a command (or a button's callback data) and
the set of people allowed to use it; everyone else must get the one neutral reply, and nothing
else, so a refusal never tells them whether the cohort or the right exists. Each row runs in a
fresh world: an admin; a lead with a cohort ("Night team") and one member; a lead of another
cohort; a learner who is in no cohort; a stranger who never used the bot. The people allowed go
last, so a change they make cannot turn someone else's refusal into a pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.core.clock import FakeClock
from bot.handlers.cohorts import _ON_A_COHORT
from bot.views.callbacks import LEAD_REMOVE, TEAM_ARCHIVE, TEAM_OPEN, TEAM_REMOVE, TEAM_REMOVE_ASK
from tests.support.factories import (
    ADMIN,
    LEAD,
    NEUTRAL,
    OTHER_LEAD,
    assert_router_wired,
    cohort_id,
    join,
    make_lead,
    make_learner,
    member_id,
    new_cohort,
)
from tests.support.harness import BotUnderTest, bot_under_test

STRANGER, LEARNER, MEMBER = 4001, 5001, 3001
PEOPLE = {
    "stranger": STRANGER,
    "learner": LEARNER,
    "member": MEMBER,
    "lead of another cohort": OTHER_LEAD,
    "lead": LEAD,
    "admin": ADMIN,
}
LEADS = {"lead of another cohort", "lead", "admin"}
OWNER = {"lead"}
ADMINS = {"admin"}

# Commands: {text: who is allowed}. "Night team" belongs to "lead".
COMMANDS: dict[str, set[str]] = {
    "/lead": LEADS,
    "/lead help": LEADS,
    "/lead invite": ADMINS,
    "/lead add 7001": ADMINS,
    "/lead list": ADMINS,
    f"/lead remove {LEAD}": ADMINS,
    f"/lead handover {LEAD} {OTHER_LEAD}": ADMINS,
    "/cohorts": LEADS,
    "/cohort": LEADS,
    "/cohort help": LEADS,
    "/cohort new Day shift": LEADS,
    "/cohort Night team": OWNER,
    "/cohort show Night team": OWNER,
    "/cohort invite Night team": OWNER,
    "/cohort export Night team": OWNER,
    "/cohort nudge Night team": OWNER,
    "/cohort remove Night team": OWNER,
    "/cohort remove Night team Ana": OWNER,
    "/cohort archive Night team": OWNER,
    "/cohort settings Night team": OWNER,
    "/cohort time Night team 07:30": OWNER,
    "/cohort days Night team weekdays": OWNER,
    "/cohort timezone Night team Europe/Paris": OWNER,
    "/cohort start Night team 2027-01-04": OWNER,
    "/cohort huddle Night team friday": OWNER,
    "/cohort huddle Night team 17:30": OWNER,
    "/cohort rota Night team 2 days 2 nights 4 off from 2027-01-04": OWNER,
    "/cohort myname Night team Sam": OWNER,
    "/report": ADMINS,
}
# Buttons: {callback data with {cohort} and {member} filled in: who is allowed}.
BUTTONS: dict[str, set[str]] = {
    f"{TEAM_OPEN}:{{cohort}}": OWNER,
    f"{TEAM_REMOVE_ASK}:{{cohort}}:{{member}}": OWNER,
    f"{TEAM_REMOVE}:{{cohort}}:{{member}}": OWNER,
    f"{TEAM_ARCHIVE}:{{cohort}}": OWNER,
    f"{LEAD_REMOVE}:{LEAD}": ADMINS,
}


@dataclass
class World:
    bot: BotUnderTest
    cohort: int
    member: int


@pytest.fixture
async def world(database_url: str, clock: FakeClock) -> AsyncIterator[World]:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as bot:
        assert_router_wired(bot)
        await make_lead(bot, LEAD)
        await make_lead(bot, OTHER_LEAD)
        payload = await new_cohort(bot, "Night team", lead=LEAD)
        await new_cohort(bot, "Day team", lead=OTHER_LEAD)
        await join(bot, payload, MEMBER, "Ana")
        await make_learner(bot, LEARNER)
        for user in PEOPLE.values():
            await bot.send("/help", user=user)  # a message to press buttons on
        yield World(bot, await cohort_id(bot, "Night team"), await member_id(bot, MEMBER))
        assert bot.server.rejected == []


def _in_order(allowed: set[str]) -> list[str]:
    """Everyone refused first, then the people allowed."""
    return sorted(PEOPLE, key=lambda who: who in allowed)


def _verdict(replies: list[str]) -> str:
    if replies == [NEUTRAL]:
        return "deny"
    assert replies and NEUTRAL not in replies, replies
    return "allow"


@pytest.mark.parametrize("command", list(COMMANDS))
async def test_command(world: World, command: str) -> None:
    allowed = COMMANDS[command]
    for who in _in_order(allowed):
        replies = await world.bot.send(command, user=PEOPLE[who])
        got = _verdict([m.plain_text for m in replies])
        assert got == ("allow" if who in allowed else "deny"), (command, who, replies)


@pytest.mark.parametrize("data", list(BUTTONS))
async def test_button(world: World, data: str) -> None:
    allowed = BUTTONS[data]
    callback = data.format(cohort=world.cohort, member=world.member)
    for who in _in_order(allowed):
        user = PEOPLE[who]
        message = world.bot.last(user)
        replies = await world.bot.sim.press_data(user, message.message_id, callback)
        got = _verdict([m.plain_text for m in replies])
        assert got == ("allow" if who in allowed else "deny"), (data, who)


@pytest.mark.parametrize(
    "data", ["to:abc", "tr:1", "tz:", "tl:1:2", "tm:1:x", "to:9999999999999999999", "to:-1"]
)
async def test_malformed_lead_buttons_are_refused_neutrally(world: World, data: str) -> None:
    message = world.bot.last(LEAD)
    replies = await world.bot.sim.press_data(LEAD, message.message_id, data)
    assert [m.plain_text for m in replies] == [NEUTRAL]


def test_every_lead_and_admin_verb_is_in_the_table() -> None:

    subcommands = {c.split()[1] for c in COMMANDS if c.startswith("/cohort ")}
    assert set(_ON_A_COHORT) | {"new", "help"} <= subcommands
    lead_verbs = {c.split()[1] for c in COMMANDS if c.startswith("/lead ")}
    assert {"invite", "add", "list", "remove", "handover", "help"} <= lead_verbs
    prefixes = {data.split(":")[0] for data in BUTTONS}
    lead_buttons = {TEAM_OPEN, TEAM_REMOVE_ASK, TEAM_REMOVE, TEAM_ARCHIVE, LEAD_REMOVE}
    assert lead_buttons <= prefixes
