"""A lead cannot single anyone out by differencing what they see.

A lead can remove a member, wait for someone to join, or look on two days, and compare. Each test
here does that and checks the comparison yields nothing: the figures do not change when a member
does something private (answers checks, takes or skips a lesson mid-week, pauses), a newcomer's
history does not appear in the chart, and every team figure can be recomputed from the roster the
lead already sees (names, joined dates, lessons done by Monday, last active only when shared), so
adding or removing someone reveals no more than that person's roster row.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from bot.core.clock import FakeClock
from bot.core.dates import named
from bot.db.models import Cohort
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.services.cohorts.dashboard import completion_buckets
from tests.support.factories import (
    ADMIN,
    LEAD,
    OTHER_LEAD,
    assert_router_wired,
    join,
    lessons_done,
    make_lead,
    make_learner,
    new_cohort,
    payload_in,
    rows,
    set_last_active,
)
from tests.support.harness import BotUnderTest, bot_under_test

LESSONS = [
    "welcome",
    "feeling-unsure",
    "every-contact-counts",
    "alongside-safeguarding",
    "secure-attachment",
    "avoidant-attachment",
]
NAMES = ["Ana", "Ben", "Cy", "Di", "Ed", "Flo"]
FLO = 3006  # keeps her activity private


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as b:
        assert_router_wired(b)
        yield b
        assert b.server.rejected == []


async def cohort_of(bot: BotUnderTest, size: int) -> list[int]:
    """Members who joined three weeks ago and did lessons since; all but Flo share activity."""
    await make_lead(bot, LEAD)
    payload = await new_cohort(bot, "Night team")
    now = bot.clock.now()  # Monday 30 Nov 2026, 07:00 in London
    users = [3001 + index for index in range(6)][-size:]
    for user in users:
        index = user - 3001
        await join(bot, payload, user, NAMES[index])
        if user != FLO:
            await bot.press("Yes, show it", user=user)
        away = timedelta(days=20) if index == 0 else timedelta(days=2)
        await set_last_active(bot, user, now - timedelta(days=21))
        await lessons_done(bot, user, LESSONS[: 1 + index % 3], now - timedelta(days=10))
        await lessons_done(bot, user, LESSONS[3 : 3 + index % 2], now - timedelta(days=3))
        await set_last_active(bot, user, now - away)
        await answer(bot, user, LESSONS[0], right=index % 2 == 0)
    async with bot.runtime.sessions.begin() as session:  # the cohort began when they joined
        await session.execute(update(Cohort).values(created_at=now - timedelta(days=21)))
    return users


async def answer(bot: BotUnderTest, user: int, lesson_id: str, *, right: bool) -> None:
    lesson = bot.runtime.services.content.lesson(lesson_id)
    assert lesson is not None
    choice = lesson.check.correct if right else (lesson.check.correct + 1) % 2
    await bot.runtime.services.learning.answer_check(user, lesson_id, choice)


def _seen(messages: list[FakeMessage]) -> list[bytes]:
    seen: list[bytes] = []
    for message in messages:
        seen.append((message.text or message.caption or "").encode())
        for file in (message.photo, message.document):
            if file is not None and file.data is not None:
                seen.append(file.data)  # the chart's PNG and the CSV's bytes (not the file name)
    return seen


async def lead_view(bot: BotUnderTest) -> list[bytes]:
    """Everything the lead can look at: the dashboard (and chart) and the CSV roster."""
    dashboard = await bot.send("/cohort Night team", user=LEAD)
    roster = await bot.send("/cohort export Night team", user=LEAD)
    return _seen(dashboard) + _seen(roster)


async def roster(bot: BotUnderTest) -> list[list[str]]:
    [document] = await bot.send("/cohort export Night team", user=LEAD)
    assert document.document is not None and document.document.data is not None
    return list(csv.reader(io.StringIO(document.document.data.decode("utf-8-sig"))))


async def flo_does_private_things(bot: BotUnderTest) -> None:
    """Flo completes and skips lessons, answers checks and pauses, all this week."""
    await lessons_done(bot, FLO, [LESSONS[5]], bot.clock.now())
    learning = bot.runtime.services.learning
    await learning.skip(FLO, LESSONS[4])
    await answer(bot, FLO, LESSONS[0], right=True)
    await answer(bot, FLO, LESSONS[5], right=False)
    await bot.runtime.services.enrolment.pause(FLO, bot.clock.now().date() + timedelta(days=9))


@pytest.mark.parametrize("size", [3, 6])
async def test_what_a_member_does_this_week_changes_nothing_the_lead_sees(
    bot: BotUnderTest, size: int
) -> None:
    await cohort_of(bot, size)
    monday = await lead_view(bot)
    bot.clock.advance(timedelta(days=1, hours=3))  # Tuesday
    await flo_does_private_things(bot)
    tuesday = await lead_view(bot)
    assert tuesday == monday
    bot.clock.advance(timedelta(days=2))  # Thursday: still the same week
    assert await lead_view(bot) == monday

    # From Monday, the week's lessons count (as a weekly total), and nothing else shows.
    bot.clock.advance(timedelta(days=4))
    table = await roster(bot)
    [flo] = [row for row in table if row[0] == "Flo"]
    assert flo[2] == str(1 + 5 % 3 + 1 + 1) and flo[3] == "not shared"
    assert not any("paused" in cell for row in table for cell in row)


def _percentages(view: list[bytes]) -> list[int]:
    return [int(p) for p in re.findall(rb"(\d+)%", view[0])]


async def test_removing_a_member_does_not_reveal_their_check_answers(bot: BotUnderTest) -> None:
    await cohort_of(bot, 6)
    with_flo = await lead_view(bot)
    await bot.send("/cohort remove Night team Flo", user=LEAD)
    await bot.press("Yes, remove", user=LEAD)
    without_flo = await lead_view(bot)
    # The differencing attack: 6 x the average with Flo - 5 x the average without her.
    before, after = _percentages(with_flo), _percentages(without_flo)
    recovered = [6 * b - 5 * a for b, a in zip(before, after, strict=False)]
    assert recovered == [], f"a lead can compute Flo's score: {recovered}"
    for view in (with_flo, without_flo):
        assert b"check" not in view[0].split(b"no figure comes from check answers")[0]


async def _figures_match_the_roster(bot: BotUnderTest) -> None:
    """The dashboard, line by line, is what the CSV roster the lead already has implies."""
    [text, *_] = await bot.send("/cohort Night team", user=LEAD)
    table = (await roster(bot))[1:]
    done = [int(row[2]) for row in table]
    course = len(bot.runtime.services.content.lessons)
    monday = bot.clock.now().date() - timedelta(days=bot.clock.now().weekday())
    expected = [
        "Night team",
        f"{len(table)} joined",
        f"Lessons completed together up to {named(monday)}: {sum(done)}",
    ]
    if len(table) >= 5:
        away = [row[0] for row in table if row[3] != "not shared" and _days_ago(bot, row[3]) >= 7]
        expected += ["Lessons done by Monday (members)"]
        expected += [f"{label}: {count}" for label, count in completion_buckets(done, course)]
        expected += [f"Median lessons done: {statistics.median(done):g} of {course}"]
        if away:
            names = ", ".join(away)
            expected += ["Not active for 7 days (members who agreed to show this)", names]
        else:
            expected += ["No one who shares their activity has been away for 7 days."]
        # Nobody here rated their confidence: the placeholder. The change itself is a release
        # of five or more pairs that moves only by five (tests/test_confidence_reports.py).
        expected += [
            "Confidence, start → end (mean of 1-5, members who rated a statement both times)",
            "Shown once 5 members have rated a statement at the start and at the end.",
        ]
    figures = [
        line
        for line in text.plain_text.splitlines()
        if line
        # Notes, not figures (the chart's start depends on the cohort's age alone).
        and not line.startswith(
            ("With fewer", "Lessons are counted", "/cohort", "A gentle", "The weekly chart")
        )
    ]
    assert figures == expected


def _days_ago(bot: BotUnderTest, iso: str) -> int:
    return (bot.clock.now().date() - date.fromisoformat(iso)).days


async def test_every_team_figure_comes_from_the_roster_as_people_join_and_leave(
    bot: BotUnderTest,
) -> None:
    await cohort_of(bot, 6)
    await _figures_match_the_roster(bot)
    await bot.send("/cohort remove Night team Flo", user=LEAD)
    await bot.press("Yes, remove", user=LEAD)
    await _figures_match_the_roster(bot)
    await bot.send("/cohort remove Night team Ed", user=LEAD)
    await bot.press("Yes, remove", user=LEAD)
    await _figures_match_the_roster(bot)  # four: counts only


async def test_a_newcomers_history_never_shows_in_the_chart(bot: BotUnderTest) -> None:
    users = await cohort_of(bot, 6)
    bot.clock.advance(timedelta(days=2))  # Wednesday
    [_, chart] = await bot.send("/cohort Night team", user=LEAD)
    # Someone who has been learning on their own for weeks joins the team mid-week.
    await make_learner(bot, 3100)
    await lessons_done(bot, 3100, LESSONS[:4], bot.clock.now() - timedelta(days=16))
    async with bot.runtime.sessions.begin() as session:
        payload_cohort = await session.scalar(select(Cohort.id))
    assert payload_cohort is not None
    invite = await bot.runtime.services.cohorts.rotate_invite(LEAD, payload_cohort)
    await join(bot, f"inv-{invite.token}", 3100, "Gus")
    [text, chart_after] = await bot.send("/cohort Night team", user=LEAD)
    assert f"{len(users) + 1} joined" in text.plain_text
    assert chart.photo is not None and chart_after.photo is not None
    assert chart_after.photo.data == chart.photo.data
    await _figures_match_the_roster(bot)  # their count by Monday is on the roster, by name


async def test_small_groups_see_the_joined_count_and_lessons_in_total_only(
    bot: BotUnderTest,
) -> None:
    await cohort_of(bot, 4)
    replies = await bot.send("/cohort Night team", user=LEAD)
    assert len(replies) == 1, "no chart under five"
    shown = replies[0].plain_text
    assert "4 joined\n" in shown
    assert "Lessons completed together up to Monday 30 November 2026: 11" in shown
    for hidden in ("active", "Median", "checks right", "Ben", "Cy", "Di", "Flo"):
        assert hidden not in shown.split("<i>")[0].split("With fewer")[0], hidden


async def test_a_nudge_says_the_same_whether_or_not_anyone_was_away(bot: BotUnderTest) -> None:
    await cohort_of(bot, 6)
    for user in range(3001, 3006):
        await set_last_active(bot, user, bot.clock.now())
    await set_last_active(bot, FLO, bot.clock.now())
    [nobody] = await bot.send("/cohort nudge Night team", user=LEAD)
    bot.clock.advance(timedelta(days=8))  # everyone is now away a week, Flo included
    for user in range(3001, 3006):
        await set_last_active(bot, user, bot.clock.now())  # ... except those who share it
    [only_flo] = await bot.send("/cohort nudge Night team", user=LEAD)
    assert only_flo.plain_text == nobody.plain_text
    assert "how many" in nobody.plain_text
    [again] = await bot.send("/cohort nudge Night team", user=LEAD)
    assert "had a nudge this week" in again.plain_text


async def test_the_join_screen_lists_exactly_what_the_lead_and_the_csv_get(
    bot: BotUnderTest,
) -> None:
    await make_lead(bot, LEAD)
    payload = await new_cohort(bot, "Night team")
    [consent] = await bot.send(f"/start {payload}", user=3001)
    seen = consent.plain_text.split("What Alex will see")[1].split("What Alex will never see")
    sees, never = seen[0], seen[1].split("This bot keeps")[0]
    bullets = [line.removeprefix("• ") for line in sees.splitlines() if line.startswith("•")]
    assert bullets == [
        "the name you choose to give (next step)",
        "when you joined",
        "how many lessons you had done by each Monday",
        "when you were last active, only if you agree to it after joining",
        "with 5 or more members, team totals made only from these",
        "if you choose to rate your confidence, only the team's average change, from 5 or more"
        " people",
    ]
    assert "paused or stopped" in never and "check" in never
    await join(bot, payload, 3001, "Ana")
    header = (await roster(bot))[0]
    assert header == ["display name", "joined", "lessons done by Monday", "last active"]


async def test_a_leads_forget_takes_their_name_and_id_off_their_cohorts(
    bot: BotUnderTest,
) -> None:
    bot.server.add_user(LEAD, first_name="Robin")
    bot.server.add_user(OTHER_LEAD, first_name="Sam")
    await make_lead(bot, LEAD)
    payload = await new_cohort(bot, "Night team")
    await join(bot, payload, 3001, "Ana")
    [question] = await bot.send("/forget", user=LEAD)
    [done] = await bot.press("Yes, erase everything", user=LEAD, message=question)
    assert "without your name or Telegram id" in done.plain_text
    [cohort] = await rows(bot, Cohort)
    assert cohort.lead_telegram_id != LEAD and cohort.lead_telegram_id < 0
    assert cohort.lead_name == "your team lead"

    [listed] = await bot.send("/lead list", user=ADMIN)
    assert f"from {cohort.lead_telegram_id} (a lead who erased their data)" in listed.plain_text
    assert str(LEAD) not in listed.plain_text
    await make_lead(bot, OTHER_LEAD)
    await new_cohort(bot, "Day team", lead=OTHER_LEAD)
    [handed] = await bot.send(f"/lead handover {cohort.lead_telegram_id} {OTHER_LEAD}", user=ADMIN)
    assert "Night team" in handed.plain_text
    fresh = await bot.send("/cohort invite Night team", user=OTHER_LEAD)
    [consent] = await bot.send(f"/start {payload_in(fresh)}", user=3002)
    assert "Sam has invited you" in consent.plain_text
    assert "Robin" not in consent.plain_text
