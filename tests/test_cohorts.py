"""Dialogues for team leads and cohorts: every lead and admin flow, joining, leaving, bad links."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from bot.core.clock import FakeClock
from bot.core.schedule import WEEKDAYS
from bot.db.models import Cohort, CohortMember, CohortNudge, Delivery, Invite, Lead, Learner
from bot.services.roles import hash_token, token_of
from tests.support.factories import (
    ADMIN,
    LEAD,
    NEUTRAL,
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
    subscription_of,
)
from tests.support.harness import BotUnderTest, bot_under_test
from tests.support.pictures import assert_qr_reads, pdf_pages, pdf_text, png_image

PNG = b"\x89PNG\r\n\x1a\n"
LESSONS = [
    "welcome",
    "feeling-unsure",
    "every-contact-counts",
    "alongside-safeguarding",
    "secure-attachment",
    "avoidant-attachment",
]


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    """The real bot with one admin (9001), free text routed to the flows."""
    async with bot_under_test(database_url, clock, admin_telegram_ids=frozenset({ADMIN})) as b:
        assert_router_wired(b)
        yield b
        assert b.server.rejected == [], "the bot sent something Telegram would reject"


@pytest.fixture
async def team(bot: BotUnderTest) -> str:
    """LEAD leads "Night team"; returns its invite payload."""
    await make_lead(bot, LEAD)
    return await new_cohort(bot, "Night team")


# --- admins and leads ----------------------------------------------------------------------------
async def test_admin_adds_lists_and_removes_a_lead_who_loses_access_at_once(
    bot: BotUnderTest,
) -> None:
    [before] = await bot.send("/cohorts", user=LEAD)
    assert before.plain_text == NEUTRAL
    await make_lead(bot, LEAD)
    [again] = await bot.send(f"/lead add {LEAD}", user=ADMIN)
    assert "already" in again.plain_text
    await new_cohort(bot, "Night team")
    [listing] = await bot.send("/lead list", user=ADMIN)
    assert str(LEAD) in listing.plain_text and "Night team" in listing.plain_text

    [confirm] = await bot.send(f"/lead remove {LEAD}", user=ADMIN)
    assert "Night team" in confirm.plain_text
    [done] = await bot.press("Yes, remove", user=ADMIN)
    assert "no longer a team lead" in done.plain_text and "handover" in done.plain_text
    for command in ("/cohorts", "/cohort Night team", "/cohort export Night team"):
        [refused] = await bot.send(command, user=LEAD)
        assert refused.plain_text == NEUTRAL, command
    [listing] = await bot.send("/lead list", user=ADMIN)
    assert "waiting for a new lead" in listing.plain_text


async def test_removed_leads_cohorts_are_handed_to_another_lead(
    bot: BotUnderTest, team: str
) -> None:
    await join(bot, team, 3001, "Ana")
    await make_lead(bot, OTHER_LEAD)
    await new_cohort(bot, "Night team", lead=OTHER_LEAD)
    await bot.send(f"/lead remove {LEAD}", user=ADMIN)
    await bot.press("Yes, remove", user=ADMIN)
    # While no one leads it, the cohort takes no one new.
    [closed] = await bot.send(f"/start {team}", user=3002)
    assert "doesn't work" in closed.plain_text

    [handed] = await bot.send(f"/lead handover {LEAD} {OTHER_LEAD}", user=ADMIN)
    assert "Night team (2)" in handed.plain_text  # a clash with their own cohort is numbered
    replies = await bot.send("/cohort Night team (2)", user=OTHER_LEAD)
    assert "1 joined" in replies[0].plain_text
    [refused] = await bot.send("/cohort Night team", user=LEAD)
    assert refused.plain_text == NEUTRAL


async def test_lead_invite_link_works_once_and_makes_a_lead(bot: BotUnderTest) -> None:
    [made] = await bot.send("/lead invite", user=ADMIN)
    payload = payload_in([made])
    assert len(payload) <= 64
    [offer] = await bot.send(f"/start {payload}", user=LEAD)
    assert "Become a team lead?" in offer.plain_text
    [accepted] = await bot.press("Accept", user=LEAD)
    assert "You're now a team lead" in accepted.plain_text
    [listing] = await bot.send("/cohorts", user=LEAD)
    assert "no cohorts yet" in listing.plain_text
    [used] = await bot.send(f"/start {payload}", user=OTHER_LEAD)
    assert "doesn't work" in used.plain_text
    [refused] = await bot.send("/cohorts", user=OTHER_LEAD)
    assert refused.plain_text == NEUTRAL


async def test_lead_invite_expires_after_seven_days(bot: BotUnderTest) -> None:
    payload = payload_in(await bot.send("/lead invite", user=ADMIN))
    await bot.send(f"/start {payload}", user=LEAD)
    bot.clock.advance(timedelta(days=7, minutes=1))
    [refused] = await bot.press("Accept", user=LEAD)
    assert "doesn't work" in refused.plain_text
    async with bot.runtime.sessions.begin() as session:
        assert await session.scalar(select(Lead)) is None


async def test_lead_help_is_for_leads_only(bot: BotUnderTest) -> None:
    [stranger] = await bot.send("/lead", user=3001)
    assert stranger.plain_text == NEUTRAL
    await make_lead(bot, LEAD)
    [lead_help] = await bot.send("/lead", user=LEAD)
    assert "/cohort new" in lead_help.plain_text and "/lead add" not in lead_help.plain_text
    [admin_help] = await bot.send("/lead", user=ADMIN)
    assert "/lead add" in admin_help.plain_text
    [usage] = await bot.send("/lead add @someone", user=ADMIN)
    assert "numeric" in usage.plain_text  # usernames never grant anything
    help_text = (await bot.send("/help", user=3001))[0].plain_text
    assert "/cohort" not in help_text and "/lead" not in help_text
    [everything] = await bot.press("All commands", user=3001)
    assert "/cohort" not in everything.plain_text and "/leave" in everything.plain_text


# --- creating a cohort and its invite ------------------------------------------------------------
async def test_new_cohort_sends_a_qr_code_and_a_link_stored_only_as_a_hash(
    bot: BotUnderTest,
) -> None:
    await make_lead(bot, LEAD)
    replies = await bot.send("/cohort new Night team", user=LEAD)
    photo, poster = replies
    assert photo.photo is not None and photo.photo.data is not None
    assert "Night team" in photo.plain_text and "is ready" in photo.plain_text
    payload = payload_in([photo])
    url = f"https://t.me/{bot.runtime.application.bot.username}?start={payload}"
    # The QR code reads as the link, and is big enough to print.
    image = png_image(photo.photo.data)
    assert image.size[0] >= 290
    assert_qr_reads(image, url)
    # The printable A4 poster: one page, large type, the same link in the code and in words.
    assert poster.document is not None and poster.document.data is not None
    assert poster.document.filename == "night-team-invite-poster.pdf"
    assert "poster" in poster.plain_text
    reader = pdf_pages(poster.document.data)
    [page] = reader.pages
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    text = pdf_text(poster.document.data)
    for words in (
        "Night team",
        "Scan to join",
        "Invited by Alex",
        "Works until Wednesday 30 December 2026",
    ):
        assert words in text, words
    assert url in text.replace(" ", "")
    [qr] = page.images
    assert_qr_reads(qr.image, url)
    token = token_of(payload)
    assert token is not None and len(payload) <= 64
    assert len(token) * 6 >= 128  # URL-safe base64: six bits a character
    [invite] = await rows(bot, Invite)
    assert invite.token_hash == hash_token(token) and token not in invite.token_hash
    assert invite.expires_at == bot.clock.now() + timedelta(days=30)
    [cohort] = await rows(bot, Cohort)
    assert cohort.lead_name == "Alex"  # the lead's first name until they change it
    [listing] = await bot.send("/cohorts", user=LEAD)
    assert "Night team" in listing.plain_text and "0 joined" in listing.plain_text


async def test_cohort_names_are_checked(bot: BotUnderTest) -> None:
    await make_lead(bot, LEAD)
    await new_cohort(bot, "Night team")
    [taken] = await bot.send("/cohort new night  TEAM", user=LEAD)
    assert "already have" in taken.plain_text
    [empty] = await bot.send("/cohort new", user=LEAD)
    assert "give the cohort a name" in empty.plain_text
    [reserved] = await bot.send("/cohort new Export crew", user=LEAD)
    assert "doesn't start with" in reserved.plain_text
    [long] = await bot.send("/cohort new " + "x" * 49, user=LEAD)
    assert "48 characters" in long.plain_text


async def test_every_cohort_verb_is_reserved_as_a_name_start(bot: BotUnderTest) -> None:
    """`/cohort rota` came in with shift patterns but was not reserved: a cohort named
    "Rota team" would have been read as the verb. One set of verbs now serves both."""
    await make_lead(bot, LEAD)
    for verb in ("Rota", "Huddle", "Show"):
        [reserved] = await bot.send(f"/cohort new {verb} team", user=LEAD)
        assert "doesn't start with" in reserved.plain_text, verb


async def test_rotating_the_invite_kills_the_old_link_at_once(bot: BotUnderTest, team: str) -> None:
    replies = await bot.send("/cohort invite Night team uses 1 days 3", user=LEAD)
    fresh = payload_in(replies)
    assert fresh != team and "Earlier links no longer work" in replies[0].plain_text
    [old] = await bot.send(f"/start {team}", user=3001)
    assert "doesn't work" in old.plain_text
    await join(bot, fresh, 3001, "Ana")
    [used_up] = await bot.send(f"/start {fresh}", user=3002)
    assert "doesn't work" in used_up.plain_text
    [bad] = await bot.send("/cohort invite Night team uses lots", user=LEAD)
    assert "couldn't read" in bad.plain_text


# --- joining -------------------------------------------------------------------------------------
async def test_consent_screen_names_cohort_and_lead_and_what_the_lead_sees(
    bot: BotUnderTest, team: str
) -> None:
    [consent] = await bot.send(f"/start {team}", user=3001)
    text = consent.plain_text
    assert "Join Night team?" in text and "Alex has invited you" in text
    assert "What Alex will see" in text and "lessons you had done by each Monday" in text
    assert "last active, only if you agree" in text
    assert "never see" in text and "reflections" in text and "check" in text
    assert "journal" in text


async def test_joining_enrols_a_newcomer_on_the_cohorts_schedule(
    bot: BotUnderTest, team: str
) -> None:
    await bot.send("/cohort time Night team 07:30", user=LEAD)
    await bot.send("/cohort days Night team Mon Wed Fri", user=LEAD)
    await bot.send("/cohort start Night team 2026-12-02", user=LEAD)
    await bot.send(f"/start {team}", user=3001)
    [prompt] = await bot.press("Join", user=3001)
    assert "What name should" in prompt.plain_text
    joined, invitation = await bot.send("Ana", user=3001)
    assert "how confident do you feel" in invitation.plain_text  # a newcomer: the course begins
    assert "You've joined Night team as Ana" in joined.plain_text
    assert "Wednesday 2 December at 07:30" in joined.plain_text
    sub = await subscription_of(bot, 3001)
    assert sub is not None and sub.state == "active"
    assert (sub.delivery_time, sub.timezone, sub.days) == (time(7, 30), "Europe/London", 0b10101)
    assert sub.next_due_at == datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
    [member] = await rows(bot, CohortMember)
    assert member.display_name == "Ana" and member.show_activity is False
    [choice] = await bot.press("Yes, show it", user=3001)
    assert "can see when you were last active" in choice.plain_text
    [member] = await rows(bot, CohortMember)
    assert member.show_activity is True
    [again] = await bot.send(f"/start {team}", user=3001)
    assert "already part of" in again.plain_text


async def test_an_existing_subscriber_keeps_progress_and_schedule(
    bot: BotUnderTest, team: str
) -> None:
    await make_learner(
        bot, 3001, delivery_time=time(19, 0), days=WEEKDAYS, last_lesson_id="feeling-unsure"
    )
    [consent] = await bot.send(f"/start {team}", user=3001)
    assert "keep your progress" in consent.plain_text
    await bot.press("Join", user=3001)
    [joined] = await bot.send("Ana", user=3001)
    assert "progress and lesson times stay" in joined.plain_text
    sub = await subscription_of(bot, 3001)
    assert sub is not None
    assert (sub.delivery_time, sub.last_lesson_id) == (time(19, 0), "feeling-unsure")


async def test_declining_stores_nothing(bot: BotUnderTest, team: str) -> None:
    await bot.send(f"/start {team}", user=3001)
    [declined] = await bot.press("No thanks", user=3001)
    assert "nothing has been stored" in declined.plain_text
    assert await rows(bot, Learner) == [] and await rows(bot, CohortMember) == []
    # Cancelling at the name step leaves nothing behind either.
    await bot.send(f"/start {team}", user=3001)
    await bot.press("Join", user=3001)
    [cancelled] = await bot.press("Cancel", user=3001)
    assert "haven't joined" in cancelled.plain_text
    assert await rows(bot, Learner) == [] and await rows(bot, CohortMember) == []
    [invite] = await rows(bot, Invite)
    assert invite.uses == 0


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("<b>Ana</b> & co", "<b>Ana</b> & co"),
        ("Ana 👩🏽‍⚕️", "Ana 👩🏽‍⚕️"),
        ("שרה כהן", "שרה כהן"),
        ("Ana\u202e evil", "Ana evil"),
        ("x" * 1000, "x" * 40),
    ],
    ids=["html", "emoji", "rtl", "bidi-override", "1000-chars"],
)
async def test_names_are_stored_limited_and_always_escaped(
    bot: BotUnderTest, team: str, raw: str, stored: str
) -> None:
    joined, _confidence_invitation = await join(bot, team, 3001, raw)
    assert stored in joined.plain_text
    if len(raw) > 40:
        assert "shortened" in joined.plain_text
    [member] = await rows(bot, CohortMember)
    assert member.display_name == stored
    await bot.press("Yes, show it", user=3001)
    await set_last_active(bot, 3001, bot.clock.now() - timedelta(days=9))
    for user in range(3002, 3006):
        await join(bot, team, user, f"Member {user}")
    replies = await bot.send("/cohort Night team", user=LEAD)
    assert stored in replies[0].plain_text  # on the inactive list, escaped (else a 400)
    [roster] = await bot.send("/cohort remove Night team", user=LEAD)
    assert stored in [b["text"] for row in roster.buttons for b in row]


async def test_a_taken_or_empty_name_is_asked_again(bot: BotUnderTest, team: str) -> None:
    await join(bot, team, 3001, "Ana")
    await bot.send(f"/start {team}", user=3002)
    await bot.press("Join", user=3002)
    [taken] = await bot.send("ANA", user=3002)
    assert "already uses that name" in taken.plain_text
    [empty] = await bot.send("\u202e", user=3002)
    assert "at least one letter" in empty.plain_text
    joined, _confidence_invitation = await bot.send("Ana B", user=3002)
    assert "as Ana B" in joined.plain_text


# --- bad links -----------------------------------------------------------------------------------
async def test_bad_links_get_a_clear_message_and_nothing_else(bot: BotUnderTest, team: str) -> None:
    made_up = "inv-" + "A" * 32
    [refused] = await bot.send(f"/start {made_up}", user=3001)
    assert "doesn't work" in refused.plain_text and "Night team" not in refused.plain_text
    [short] = await bot.send("/start inv-x", user=3001)
    assert short.plain_text == refused.plain_text
    bot.clock.advance(timedelta(days=30, seconds=1))
    [expired] = await bot.send(f"/start {team}", user=3002)
    assert expired.plain_text == refused.plain_text
    assert await rows(bot, Learner) == []


async def test_a_join_button_with_a_forged_token_enrols_no_one(
    bot: BotUnderTest, team: str
) -> None:
    [consent] = await bot.send(f"/start {team}", user=3001)
    [refused] = await bot.sim.press_data(3001, consent.message_id, "tj:" + "B" * 32)
    assert "doesn't work" in refused.plain_text
    assert await rows(bot, Learner) == []


@pytest.mark.parametrize("token", ["🙂" * 8, "B" * 31 + "é", "", "B" * 40 + "!", "\x00" * 4])
@pytest.mark.parametrize("action", ["tj", "ta"])
async def test_a_button_with_a_token_out_of_the_alphabet_is_refused_kindly(
    bot: BotUnderTest, team: str, action: str, token: str
) -> None:
    """Found by the fuzzer: hashing a forged non-ASCII token raised UnicodeEncodeError."""
    [consent] = await bot.send(f"/start {team}", user=3001)
    replies = await bot.sim.press_data(3001, consent.message_id, f"{action}:{token}")
    assert replies and all("went wrong" not in r.plain_text for r in replies)
    assert await rows(bot, Learner) == []


async def test_repeated_bad_tokens_are_throttled(bot: BotUnderTest, team: str) -> None:
    for attempt in range(5):
        [refused] = await bot.send(f"/start inv-{'C' * 31}{attempt}", user=3001)
    assert "stopped checking" in refused.plain_text
    [still] = await bot.send(f"/start {team}", user=3001)  # even a good link, for a while
    assert "stopped checking" in still.plain_text
    [other] = await bot.send(f"/start {team}", user=3002)  # someone else is unaffected
    assert "Join Night team?" in other.plain_text
    bot.clock.advance(timedelta(minutes=16))
    [later] = await bot.send(f"/start {team}", user=3001)
    assert "Join Night team?" in later.plain_text


# --- the dashboard, export, nudge ----------------------------------------------------------------
async def test_small_cohort_dashboard_shows_counts_only(bot: BotUnderTest, team: str) -> None:
    for user, name in ((3001, "Ana"), (3002, "Ben"), (3003, "Cy")):
        await join(bot, team, user, name)
        await bot.press("Yes, show it", user=user)
    await lessons_done(bot, 3001, LESSONS[:3], bot.clock.now() - timedelta(days=3))
    await lessons_done(bot, 3002, LESSONS[:1], bot.clock.now())  # this week: counts from Monday
    await set_last_active(bot, 3003, bot.clock.now() - timedelta(days=10))
    [text] = await bot.send("/cohort Night team", user=LEAD)  # no chart under five
    assert "3 joined\n" in text.plain_text
    assert "Lessons completed together up to Monday 30 November 2026: 3" in text.plain_text
    assert "fewer than 5" in text.plain_text
    for hidden in ("active in", "Median", "Knowledge checks", "Cy", "Ana", "Ben"):
        assert hidden not in text.plain_text


async def test_dashboard_for_five_or_more(bot: BotUnderTest, team: str) -> None:
    learning = bot.runtime.services.learning
    now = bot.clock.now()
    names = ["Ana", "Ben", "Cy", "Di", "Ed", "Flo"]
    for index, name in enumerate(names):
        user = 3001 + index
        await join(bot, team, user, name)
        await lessons_done(bot, user, LESSONS[:index], now - timedelta(days=8))
        if 1 <= index <= 3:
            lesson = bot.runtime.services.content.lesson(LESSONS[0])
            assert lesson is not None
            right = lesson.check.correct
            await learning.answer_check(user, LESSONS[0], right if index % 2 else 1 - right)
    await bot.press("Yes, show it", user=3005)  # Ed agrees; Flo does not
    for user in (3005, 3006):
        await set_last_active(bot, user, now - timedelta(days=8))
    async with bot.runtime.sessions.begin() as session:  # a cohort with whole weeks behind it
        await session.execute(update(Cohort).values(created_at=now - timedelta(days=15)))
    text, photo = await bot.send("/cohort Night team", user=LEAD)
    plain = text.plain_text
    assert "6 joined\n" in plain and "active in" not in plain
    assert "Median lessons done: 2.5 of 32" in plain
    assert "Knowledge checks" not in plain and "%" not in plain  # never from check answers
    assert "0: 1" in plain and "1–8: 5" in plain
    assert "Not active for 7 days" in plain and "Ed" in plain and "Flo" not in plain
    assert photo.photo is not None and photo.photo.data is not None
    assert photo.photo.data.startswith(PNG)
    assert "whole week" in photo.plain_text and "w/c Monday 16 November 2026: 0" in photo.plain_text
    # /cohorts buttons open the same dashboard.
    await bot.send("/cohorts", user=LEAD)
    opened = await bot.press("Night team", user=LEAD)
    assert "6 joined" in opened[0].plain_text


async def test_export_is_a_csv_without_formulas_or_private_data(
    bot: BotUnderTest, team: str
) -> None:
    await join(bot, team, 3001, '=HYPERLINK("http://x")')
    await join(bot, team, 3002, "Ben")
    await bot.press("Yes, show it", user=3002)
    await lessons_done(bot, 3002, LESSONS[:2], bot.clock.now() - timedelta(days=3))
    await lessons_done(bot, 3002, LESSONS[2:3], bot.clock.now())  # counted from next Monday
    [document] = await bot.send("/cohort export Night team", user=LEAD)
    assert document.document is not None and document.document.data is not None
    assert document.document.filename == "night-team-2026-11-30.csv"
    data = document.document.data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(data)))
    assert table[0] == ["display name", "joined", "lessons done by Monday", "last active"]
    assert ['\'=HYPERLINK("http://x")', "2026-11-30", "0", "not shared"] in table
    assert ["Ben", "2026-11-30", "2", "2026-11-30"] in table


async def test_nudge_once_a_week_outside_quiet_hours_via_the_outbox(
    bot: BotUnderTest, team: str
) -> None:
    now = bot.clock.now()  # Monday 07:00 in London: quiet hours until the 08:00 lesson time
    await join(bot, team, 3001, "Ana")
    await join(bot, team, 3002, "Ben")
    await join(bot, team, 3003, "Cy")
    await set_last_active(bot, 3001, now - timedelta(days=8))
    await set_last_active(bot, 3002, now - timedelta(days=8))
    await bot.runtime.services.enrolment.pause(3002, now.date() + timedelta(days=14))
    await set_last_active(bot, 3002, now - timedelta(days=8))
    [result] = await bot.send("/cohort nudge Night team", user=LEAD)
    assert "gets a gentle nudge" in result.plain_text
    assert "won't be told who, how many" in result.plain_text
    assert "Ana" not in result.plain_text
    [nudge] = [d for d in await rows(bot, Delivery) if d.kind == "nudge"]
    assert nudge.due_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC) and nudge.chat_id == 3001
    [again] = await bot.send("/cohort nudge Night team", user=LEAD)
    assert "had a nudge this week" in again.plain_text
    assert len(await rows(bot, CohortNudge)) == 1

    # The engine delivers it at 08:00, when the member's quiet hours end, not before.
    await bot.runtime.services.delivery.claim_due()
    for job in bot.sim.clock_jobs:
        await job()
    assert not any("No pressure" in m.plain_text for m in bot.messages(3001))
    bot.clock.set(datetime(2026, 11, 30, 8, 1, tzinfo=UTC))
    for job in bot.sim.clock_jobs:
        await job()
    assert any("No pressure at all" in m.plain_text for m in bot.messages(3001))

    bot.clock.advance(timedelta(days=7))
    await set_last_active(bot, 3001, bot.clock.now() - timedelta(days=8))
    [next_week] = await bot.send("/cohort nudge Night team", user=LEAD)
    assert "gets a gentle nudge" in next_week.plain_text


async def test_nudge_late_at_night_waits_for_the_morning(bot: BotUnderTest, team: str) -> None:
    bot.clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))  # in the 23:00-08:00 quiet hours
    await join(bot, team, 3001, "Ana")
    await set_last_active(bot, 3001, bot.clock.now() - timedelta(days=8))
    await bot.send("/cohort nudge Night team", user=LEAD)
    [nudge] = [d for d in await rows(bot, Delivery) if d.kind == "nudge"]
    assert nudge.due_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def test_a_nudge_when_no_one_is_away_reads_the_same(bot: BotUnderTest, team: str) -> None:
    await join(bot, team, 3001, "Ana")
    [result] = await bot.send("/cohort nudge Night team", user=LEAD)
    assert "gets a gentle nudge" in result.plain_text  # the same words as when someone was away
    assert not [d for d in await rows(bot, Delivery) if d.kind == "nudge"]
    [record] = await rows(bot, CohortNudge)  # the week's nudge is used up all the same
    assert record.nudged == 0


# --- the huddle card -----------------------------------------------------------------------------
async def test_weekly_huddle_card_on_the_leads_day(bot: BotUnderTest, team: str) -> None:
    [saved] = await bot.send("/cohort huddle Night team friday", user=LEAD)
    assert "Fridays at 09:00" in saved.plain_text
    for index in range(5):
        await join(bot, team, 3001 + index, f"Member {index}")
        await lessons_done(
            bot, 3001 + index, LESSONS[: index + 1], bot.clock.now() - timedelta(days=3)
        )
        await lessons_done(bot, 3001 + index, LESSONS[index + 1 :], bot.clock.now())  # this week
    jobs = bot.sim.clock_jobs
    bot.clock.set(datetime(2026, 12, 4, 8, 59, tzinfo=UTC))  # Friday, just before 09:00
    for job in jobs:
        await job()
    assert not [m for m in bot.messages(LEAD) if "Huddle card: Night team" in m.plain_text]
    bot.clock.set(datetime(2026, 12, 4, 9, 5, tzinfo=UTC))
    for job in jobs:
        await job()
    cards = [m for m in bot.messages(LEAD) if "Huddle card: Night team" in m.plain_text]
    assert len(cards) == 1
    # Done by Monday: 5, 4, 3, 2, 1 lessons (this week's do not count); half have done 3.
    lesson = bot.runtime.services.content.lesson(LESSONS[2])
    assert lesson is not None
    assert "3 of 5 had done 3 or more lessons by Monday" in cards[0].plain_text
    assert lesson.title in cards[0].plain_text
    for job in jobs:  # once a week
        await job()
    assert len([m for m in bot.messages(LEAD) if "Huddle card: Night team" in m.plain_text]) == 1


# --- removing, archiving, leaving, settings ------------------------------------------------------
async def test_remove_a_member_by_name_with_confirmation(bot: BotUnderTest, team: str) -> None:
    await join(bot, team, 3001, "Ana")
    await join(bot, team, 3002, "Ben")
    [confirm] = await bot.send("/cohort remove Night team ana", user=LEAD)
    assert "Remove Ana from Night team?" in confirm.plain_text
    [cancelled] = await bot.press("Cancel", user=LEAD)
    assert "Nothing has changed" in cancelled.plain_text
    assert len(await rows(bot, CohortMember)) == 2
    await bot.send("/cohort remove Night team Ana", user=LEAD)
    [removed] = await bot.press("Yes, remove", user=LEAD)
    assert "Ana is no longer in Night team" in removed.plain_text
    assert [m.display_name for m in await rows(bot, CohortMember)] == ["Ben"]
    assert await subscription_of(bot, 3001) is not None  # their own lessons carry on
    # From the roster buttons, too.
    await bot.send("/cohort remove Night team", user=LEAD)
    await bot.press("Ben", user=LEAD)
    await bot.press("Yes, remove", user=LEAD)
    assert await rows(bot, CohortMember) == []
    [unknown] = await bot.send("/cohort remove Night team Zed", user=LEAD)
    assert unknown.plain_text == NEUTRAL


async def test_archive_with_confirmation_closes_the_cohort(bot: BotUnderTest, team: str) -> None:
    await join(bot, team, 3001, "Ana")
    [confirm] = await bot.send("/cohort archive Night team", user=LEAD)
    assert "Archive Night team?" in confirm.plain_text and "1 member" in confirm.plain_text
    [done] = await bot.press("Yes, archive", user=LEAD)
    assert "is archived" in done.plain_text
    [gone] = await bot.send("/cohort Night team", user=LEAD)
    assert gone.plain_text == NEUTRAL
    [dead] = await bot.send(f"/start {team}", user=3002)
    assert "doesn't work" in dead.plain_text
    assert await rows(bot, CohortMember) == []
    # The name is free again.
    await new_cohort(bot, "Night team")


async def test_a_member_leaves_with_confirmation(bot: BotUnderTest, team: str) -> None:
    [none] = await bot.send("/leave", user=3001)
    assert "not part of a team cohort" in none.plain_text
    await join(bot, team, 3001, "Ana")
    [confirm] = await bot.send("/leave", user=3001)
    assert "Leave Night team?" in confirm.plain_text
    [stay] = await bot.press("Stay", user=3001)
    assert "Nothing has changed" in stay.plain_text
    await bot.send("/leave", user=3001)
    [left] = await bot.press("Leave", user=3001)
    assert "You've left Night team" in left.plain_text
    assert await rows(bot, CohortMember) == []
    assert (await subscription_of(bot, 3001)) is not None


async def test_leave_asks_which_cohort_when_in_several(bot: BotUnderTest, team: str) -> None:
    await make_lead(bot, OTHER_LEAD)
    other = await new_cohort(bot, "Day team", lead=OTHER_LEAD)
    await join(bot, team, 3001, "Ana")
    await join(bot, other, 3001, "Ana")
    [which] = await bot.send("/leave", user=3001)
    assert "Which cohort" in which.plain_text
    await bot.press("Day team", user=3001)
    [left] = await bot.press("Leave", user=3001)
    assert "You've left Day team" in left.plain_text
    assert len(await rows(bot, CohortMember)) == 1


async def test_settings_change_the_schedule_for_new_members(bot: BotUnderTest, team: str) -> None:
    [settings] = await bot.send("/cohort settings Night team", user=LEAD)
    assert "08:00 (Europe/London), weekdays" in settings.plain_text
    assert "Mondays at 09:00" in settings.plain_text
    changes = {
        "/cohort time Night team 7pm": "19:00",
        "/cohort days Night team every day": "every day",
        "/cohort timezone Night team america/new_york": "America/New_York",
        "/cohort start Night team 2026-12-07": "Monday 7 December 2026",
        "/cohort huddle Night team off": "Huddle card: off",
        "/cohort myname Night team Sam <the lead>": "Sam <the lead>",
    }
    for command, shown in changes.items():
        [saved] = await bot.send(command, user=LEAD)
        assert "Saved." in saved.plain_text and shown in saved.plain_text, command
    for bad in (
        "/cohort time Night team 25:99",
        "/cohort days Night team someday",
        "/cohort timezone Night team Mars/Olympus",
        "/cohort start Night team 2020-01-01",
        "/cohort huddle Night team mon tue",
    ):
        [problem] = await bot.send(bad, user=LEAD)
        assert "couldn't read" in problem.plain_text, bad
    [consent] = await bot.send(f"/start {team}", user=3001)
    assert "Sam <the lead> has invited you" in consent.plain_text
    assert "19:00 (America/New_York), every day" in consent.plain_text


async def test_forget_erases_memberships(bot: BotUnderTest, team: str) -> None:
    await join(bot, team, 3001, "Ana")
    privacy = bot.runtime.services.privacy
    await privacy.forget(3001)
    assert await rows(bot, CohortMember) == []
    assert (await bot.send("/cohort Night team", user=LEAD))[0].plain_text.startswith("Night team")


# --- pure pieces ---------------------------------------------------------------------------------


def test_long_lists_stay_within_telegrams_limits() -> None:
    from bot.content.html import MAX_MESSAGE_CHARS
    from bot.results.cohorts import CohortInfo, MemberRef
    from bot.results.roles import LeadInfo
    from bot.views.cohorts import (
        cohorts_screen,
        lead_remove_confirm_screen,
        leads_screen,
        roster_screen,
    )

    name = "N" * 48
    infos = [
        CohortInfo(
            i,
            f"{name}{i}"[-48:],
            "Sam",
            time(8),
            "Europe/London",
            WEEKDAYS,
            datetime(2026, 12, 1).date(),
            0,
            5,
        )
        for i in range(200)
    ]
    listing = cohorts_screen(infos)
    assert len(listing.text) < MAX_MESSAGE_CHARS and len(listing.buttons) <= 100
    roster = roster_screen(infos[0], [MemberRef(i, "x" * 40) for i in range(300)])
    assert len(roster.buttons) <= 100 and "type /cohort remove" in roster.text
    names = tuple(f"{name}{i}" for i in range(200))
    leads = [LeadInfo(10**12 + i, None, names) for i in range(200)]
    assert len(leads_screen(leads).text) < MAX_MESSAGE_CHARS
    assert len(lead_remove_confirm_screen(leads[0]).text) < MAX_MESSAGE_CHARS


def test_completion_buckets_cover_every_count_once() -> None:
    from bot.services.cohorts.dashboard import completion_buckets

    done = [0, 1, 7, 8, 15, 16, 22, 23, 29, 30]
    buckets = completion_buckets(done, 30)
    assert [label for label, _ in buckets] == ["0", "1–8", "9–15", "16–23", "24–29", "all 30"]
    assert sum(count for _, count in buckets) == len(done)
    for length in range(1, 40):
        counted = completion_buckets(list(range(length + 1)), length)
        assert sum(count for _, count in counted) == length + 1, length


def test_csv_cells_never_start_a_formula() -> None:
    from bot.services.cohorts.dashboard import csv_cell

    for risky in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_cell(risky).startswith("'")
    assert csv_cell("Ana") == "Ana"


def test_nudge_times_avoid_each_members_quiet_hours() -> None:
    from bot.core.pattern import fixed_days, in_quiet_hours
    from bot.core.schedule import WEEKDAYS, zone
    from bot.services.cohorts.team_messages import nudge_due

    london = zone("Europe/London")
    nights = fixed_days(WEEKDAYS, time(19, 0))  # asleep 10:00-19:00
    day = datetime(2026, 11, 30, tzinfo=UTC)
    for hour in range(24):
        now = day + timedelta(hours=hour)
        due = nudge_due(now, nights, london)
        assert due >= now and not in_quiet_hours(due, nights, london)
        assert due == now or due.astimezone(london).hour == 19
    tokyo = zone("Asia/Tokyo")
    mornings = fixed_days(WEEKDAYS, time(8, 0))
    assert nudge_due(datetime(2026, 11, 30, 15, tzinfo=UTC), mornings, tokyo) == datetime(
        2026, 11, 30, 23, tzinfo=UTC
    )


def test_cohort_names_split_from_what_follows() -> None:
    from bot.services.cohorts.manage import split_cohort_name

    names = ["Night", "Night team", "Day team"]
    assert split_cohort_name("night team  Ana B", names) == ("Night team", "Ana B")
    assert split_cohort_name("Night Ana", names) == ("Night", "Ana")
    assert split_cohort_name("Evening team", names) is None
