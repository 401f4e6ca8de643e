"""Dialogues: what leads and admins see of confidence and the programme (issue 16).

The lead's dashboard shows the start -> end change per statement only as a release over five or
more members who rated it both times, renewed only when five more have come in, counted up to
Monday as every dashboard figure: members finishing, leaving or rating one at a time move nothing.
The admin's programme report (CSV and XLSX) is parsed back and every cell checked against k = 5.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.core.clock import FakeClock
from bot.core.states import ConfidencePhase
from bot.db.models import CheckAnswer, CohortMember, ConfidenceAnswer, LessonProgress
from bot.sandbox.fake_telegram.records import FakeMessage
from tests.support.factories import (
    ADMIN,
    LEAD,
    NEUTRAL,
    assert_router_wired,
    cohort_id,
    join,
    make_lead,
    make_learner,
    new_cohort,
)
from tests.support.harness import USER, BotUnderTest, bot_under_test, text_of

START, END, FOLLOW_UP = ConfidencePhase.START, ConfidencePhase.END, ConfidencePhase.FOLLOW_UP
SUPPRESSED = "<5"
LAST = "bringing-it-together"


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    """The real bot with one admin (9001)."""
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as b:
        assert_router_wired(b)
        yield b
        assert b.server.rejected == [], "the bot sent something Telegram would reject"


async def rate(bot: BotUnderTest, user: int, start: int, end: int) -> None:
    """The member rates the first statement (Attachment) at the start and at the end."""
    service = bot.runtime.services.confidence
    await service.answer(user, START, "attachment", start)
    await service.answer(user, END, "attachment", end)


async def dashboard(bot: BotUnderTest) -> tuple[str, list[FakeMessage]]:
    """The lead's /cohort view: its text and the photos sent with it."""
    replies = await bot.send("/cohort Night team", user=LEAD)
    [text] = [m for m in replies if m.photo is None]
    return text_of(text), [m for m in replies if m.photo is not None]


def confidence_charts(photos: list[FakeMessage]) -> list[FakeMessage]:
    """The confidence chart among the dashboard's photos (the weekly chart comes and goes with
    the cohort's age)."""
    return [photo for photo in photos if "→" in text_of(photo)]


def next_monday(bot: BotUnderTest) -> None:
    bot.clock.advance(timedelta(days=7))


# --- the lead's dashboard -------------------------------------------------------------------------


async def test_the_change_shows_only_for_five_or_more_and_never_moves_by_one_person(
    bot: BotUnderTest,
) -> None:
    await make_lead(bot, LEAD)
    payload = await new_cohort(bot, "Night team")
    members = [3001 + index for index in range(11)]
    for user in members[:4]:
        await join(bot, payload, user, f"Member {user}")
        await rate(bot, user, 2, 4)
    next_monday(bot)
    text, _ = await dashboard(bot)
    assert "Confidence" not in text  # under five members: the counts only

    for user in members[4:]:  # everyone joins now (the link lasts 30 days); most rate later
        await join(bot, payload, user, f"Member {user}")
    next_monday(bot)
    text, photos = await dashboard(bot)
    assert "Confidence, start → end" in text
    assert "Shown once 5 members have rated a statement at the start and at the end" in text
    assert confidence_charts(photos) == []

    await rate(bot, members[4], 2, 4)  # the fifth pair: counted from next Monday
    text, photos = await dashboard(bot)
    assert "Shown once 5 members" in text and confidence_charts(photos) == []
    next_monday(bot)
    text, photos = await dashboard(bot)
    assert "Attachment: 2.0 → 4.0 (+2.0, 5 people)" in text
    assert "Behind the behaviour" not in text  # nobody rated it
    [confidence] = confidence_charts(photos)
    assert confidence.photo is not None
    assert "Attachment 2.0 → 4.0" in text_of(confidence)  # the same numbers as the text

    # One more pair, then one of the five leaves: nothing a lead can compare moves.
    await rate(bot, members[5], 1, 5)
    next_monday(bot)
    assert "Attachment: 2.0 → 4.0 (+2.0, 5 people)" in (await dashboard(bot))[0]
    await bot.send("/leave", user=members[0])
    await bot.press("Leave", user=members[0])
    next_monday(bot)
    assert "Attachment: 2.0 → 4.0 (+2.0, 5 people)" in (await dashboard(bot))[0]

    # Five more pairs: a new release over everyone who rated it both times (10 people now:
    # four of the first five, the sixth, and the five new).
    for user in members[6:]:
        await rate(bot, user, 3, 3)
    next_monday(bot)
    text, _ = await dashboard(bot)
    assert "Attachment: 2.4 → 3.6 (+1.2, 10 people)" in text
    assert "Member" not in text.split("Confidence")[1].split("Updated")[0]


async def test_members_who_rated_only_once_or_prefer_not_to_say_are_not_counted(
    bot: BotUnderTest,
) -> None:
    await make_lead(bot, LEAD)
    payload = await new_cohort(bot, "Night team")
    members = [3001 + index for index in range(6)]
    service = bot.runtime.services.confidence
    for index, user in enumerate(members):
        await join(bot, payload, user, f"Member {user}")
        await service.answer(user, START, "attachment", 2)
        # Two members do not give an end rating they can be counted by.
        if index == 0:
            await service.answer(user, END, "attachment", None)
        elif index > 1:
            await service.answer(user, END, "attachment", 3)
    next_monday(bot)
    text, photos = await dashboard(bot)
    assert "Shown once 5 members" in text and confidence_charts(photos) == []


# --- the admin's programme report -----------------------------------------------------------------


async def seed_programme(bot: BotUnderTest) -> list[int]:
    """Eight learners, three of them in a cohort, with lessons, checks and self-assessments
    that make some groups large and some small."""
    await make_lead(bot, LEAD)
    await new_cohort(bot, "Night team")
    team = await cohort_id(bot, "Night team")
    now = bot.clock.now()
    users = [4001 + index for index in range(8)]
    learners = [await make_learner(bot, user) for user in users]
    async with bot.runtime.sessions.begin() as session:
        for index, learner in enumerate(learners):
            if index < 3:
                session.add(
                    CohortMember(
                        cohort_id=team,
                        learner_id=learner,
                        display_name=f"Member {index}",
                        name_key=f"member {index}",
                        joined_at=now,
                    )
                )
            first = now - timedelta(days=30 + index)
            session.add(
                LessonProgress(
                    learner_id=learner,
                    lesson_id="welcome",
                    course_run=1,
                    delivered_at=first,
                    done_at=first if index < 6 else None,
                    skipped_at=first if index >= 6 else None,
                    moment_at=first if index < 3 else None,
                )
            )
            if index < 3:
                session.add(
                    LessonProgress(
                        learner_id=learner,
                        lesson_id="feeling-unsure",
                        course_run=1,
                        delivered_at=first,
                        done_at=first,
                    )
                )
            if index < 5:
                session.add(
                    LessonProgress(
                        learner_id=learner,
                        lesson_id=LAST,
                        course_run=1,
                        delivered_at=now,
                        done_at=now,
                    )
                )
            if index < 7:
                session.add(
                    CheckAnswer(
                        learner_id=learner,
                        lesson_id="welcome",
                        answer_index=0,
                        correct=index < 5,
                        is_review=False,
                        answered_at=first,
                    )
                )
            if index == 5:  # right on a review later: mastered, not right first time
                session.add(
                    CheckAnswer(
                        learner_id=learner,
                        lesson_id="welcome",
                        answer_index=1,
                        correct=True,
                        is_review=True,
                        answered_at=now,
                    )
                )
            if index < 6:
                for phase, rating in ((START, 2), (END, 4)):
                    session.add(
                        ConfidenceAnswer(
                            learner_id=learner,
                            phase=phase,
                            statement_id="attachment",
                            rating=rating if index else rating + 1,
                            answered_at=now,
                        )
                    )
            if index < 2:
                session.add(
                    ConfidenceAnswer(
                        learner_id=learner,
                        phase=FOLLOW_UP,
                        statement_id="attachment",
                        rating=5,
                        answered_at=now,
                    )
                )
                session.add(
                    ConfidenceAnswer(
                        learner_id=learner,
                        phase=START,
                        statement_id="behaviour",
                        rating=None,
                        answered_at=now,
                    )
                )
    return users


def by_measure(rows: list[dict[str, Any]], item: str, measure: str) -> tuple[Any, Any]:
    [row] = [r for r in rows if r["item"] == item and r["measure"] == measure]
    return row["people"], row["value"]


def assert_every_cell_obeys_k(rows: list[dict[str, Any]]) -> None:
    """Every figure stands for five or more people, or is suppressed whole."""
    assert rows
    for row in rows:
        people, value = row["people"], row["value"]
        if people == SUPPRESSED:
            assert value == SUPPRESSED, row
            continue
        assert isinstance(people, int) and people >= 5, row
        assert isinstance(value, int | float), row
        if row["measure"].endswith("(people)"):
            assert value == people, row


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


async def test_only_admins_get_the_report(bot: BotUnderTest) -> None:
    await make_lead(bot, LEAD)
    for user in (USER, LEAD):
        [refused] = await bot.send("/report", user=user)
        assert text_of(refused) == NEUTRAL and refused.document is None


async def test_the_report_as_csv_and_xlsx_every_cell_five_or_more(bot: BotUnderTest) -> None:
    await seed_programme(bot)
    sent = await bot.send("/report", user=ADMIN)
    [csv_file, xlsx_file] = [m.document for m in sent if m.document is not None]
    assert csv_file is not None and csv_file.filename == "programme-report-2026-11-30.csv"
    assert xlsx_file is not None and xlsx_file.filename == "programme-report-2026-11-30.xlsx"
    assert "Programme report" in text_of(sent[-1]) and "fewer than 5 people" in text_of(sent[-1])

    assert csv_file.data is not None
    reader = csv.DictReader(io.StringIO(csv_file.data.decode("utf-8-sig")))
    from_csv = [
        {**row, "people": _number(row["people"]), "value": _number(row["value"])} for row in reader
    ]
    assert_every_cell_obeys_k(from_csv)

    assert xlsx_file.data is not None
    book = load_workbook(io.BytesIO(xlsx_file.data), read_only=True)
    assert book.sheetnames == ["readme", "enrolment", "completion", "lessons", "confidence"]
    readme = "\n".join(str(row[0]) for row in book["readme"].iter_rows(values_only=True))
    assert "no figure stands for fewer than 5 people" in readme and "<5" in readme
    from_xlsx: list[dict[str, Any]] = []
    for name in book.sheetnames[1:]:
        header, *body = list(book[name].iter_rows(values_only=True))
        assert header == ("item", "measure", "people", "value")
        from_xlsx += [{"section": name, **dict(zip(header, row, strict=True))} for row in body]
    assert_every_cell_obeys_k(from_xlsx)
    assert [(r["section"], r["item"], r["measure"]) for r in from_xlsx] == [
        (r["section"], r["item"], r["measure"]) for r in from_csv
    ]
    assert [(r["people"], r["value"]) for r in from_xlsx] == [
        (r["people"], r["value"]) for r in from_csv
    ]

    rows = from_xlsx
    assert by_measure(rows, "all learners", "enrolled (people)") == (8, 8)
    # Three in the cohort, five alone: the three are too few, so the five go too (8 - 3).
    assert by_measure(rows, "in a team cohort", "enrolled (people)") == (SUPPRESSED, SUPPRESSED)
    assert by_measure(rows, "self-enrolled", "enrolled (people)") == (SUPPRESSED, SUPPRESSED)
    assert by_measure(rows, "whole course", "reached the end (people)") == (5, 5)
    assert by_measure(rows, "whole course", "median days from first lesson to end") == (5, 32.0)
    welcome = f"01 {bot.runtime.services.content.lessons[0].title}"
    assert by_measure(rows, welcome, "sent or opened (people)") == (8, 8)
    assert by_measure(rows, welcome, "done (people)") == (6, 6)
    assert by_measure(rows, welcome, "skipped (people)") == (SUPPRESSED, SUPPRESSED)
    assert by_measure(rows, welcome, '"I need a moment" (people)') == (SUPPRESSED, SUPPRESSED)
    assert by_measure(rows, welcome, "answered the check (people)") == (7, 7)
    assert by_measure(rows, welcome, "right first time (%)") == (7, 71.4)
    assert by_measure(rows, welcome, "mastered the check (people)") == (6, 6)
    second = f"02 {bot.runtime.services.content.lessons[1].title}"
    assert by_measure(rows, second, "done (people)") == (SUPPRESSED, SUPPRESSED)
    assert by_measure(rows, "Attachment", "mean rating 1-5, at the start") == (6, 2.17)
    assert by_measure(rows, "Attachment", "mean rating 1-5, at the end") == (6, 4.17)
    assert by_measure(rows, "Attachment", "mean change from the start, at the end") == (6, 2.0)
    assert by_measure(rows, "Attachment", "mean rating 1-5, six weeks later") == (
        SUPPRESSED,
        SUPPRESSED,
    )
    assert by_measure(
        rows, "Behind the behaviour", '"prefer not to say", at the start (people)'
    ) == (
        SUPPRESSED,
        SUPPRESSED,
    )
    assert not any("Member" in str(value) for row in rows for value in row.values())


def test_the_chart_is_drawn_for_a_narrow_photo_bubble() -> None:
    """About 540 px wide, so Telegram's ~330 px bubble shrinks it by less than half; one pair of
    bars per statement, taller with more statements."""
    from PIL import Image

    from bot.views.charts import confidence_chart

    one = Image.open(io.BytesIO(confidence_chart([("Attachment", 2.0, 4.0)])))
    five = Image.open(io.BytesIO(confidence_chart([("Attachment", 2.0, 4.0)] * 5)))
    assert one.format == "PNG" and one.width == five.width == 540
    assert five.height > one.height
