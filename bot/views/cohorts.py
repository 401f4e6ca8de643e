"""Pure views for team leads and cohort members: plain results in, (HTML text, buttons) out.

Everything a person typed (cohort names, member and lead names) is escaped here, always. Lead
screens show what `bot.services.cohorts` gives them and nothing else: names members chose,
counts and dates; never reflections, check answers or journal text. Captions stay under
Telegram's 1,024 characters (names are length-limited where they are stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from bot.content.schema import Lesson
from bot.core.dates import WEEKDAYS, clock, day, moment, named
from bot.core.pattern import describe, describe_next
from bot.core.schedule import format_days, zone
from bot.core.states import SubscriptionState
from bot.core.textclean import utf16_len
from bot.results.cohorts import (
    HUDDLE_AT,
    MAX_DISPLAY_NAME,
    CohortInfo,
    CohortInvitePreview,
    Dashboard,
    HuddleCard,
    InviteLink,
    Joined,
    LeadInvitePreview,
    MemberRef,
    Membership,
    NudgeResult,
    TeamPatternTaken,
)
from bot.results.roles import Handover, LeadInfo, LeadInvite, invite_payload
from bot.views.callbacks import (
    LEAD_ACCEPT,
    LEAD_REMOVE,
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
    encode,
)
from bot.views.charts import qr_png
from bot.views.common import framing_text
from bot.views.confidence import change_lines
from bot.views.pdf import ACCENT, MUTED, Page, one_page
from bot.views.screen import Button, Screen, escape

MAX_LISTED_NAMES = 30
# Long lists stay well inside Telegram's 4,096 characters and 100 buttons a message.
MAX_LISTED_COHORTS = 40
MAX_LISTED_LEADS = 60
MAX_ROSTER_BUTTONS = 80
POSTER_QR_MM = 140  # the QR code's width on the A4 poster: scans from a couple of metres


def deep_link(bot_username: str, token: str) -> str:
    """The t.me link that opens the bot with an invite (payload within 64 characters)."""
    return f"https://t.me/{bot_username}?start={invite_payload(token)}"


def _day(when: date) -> str:
    return day(when)


def _when(instant: datetime, timezone: str, now: datetime | None = None) -> str:
    return moment(instant, timezone, now)


def _names(names: Sequence[str], limit: int = 10) -> str:
    """Escaped names, comma-separated, the first `limit` of them."""
    shown = ", ".join(escape(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _within(lines: list[str], budget: int = 3800) -> str:
    """Lines joined, cut (with a note) before they would pass `budget` characters."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + utf16_len(line) + 1 > budget:
            kept.append(f"… and {len(lines) - index} more lines")
            break
        kept.append(line)
        used += utf16_len(line) + 1
    return "\n".join(kept)


def _schedule(at: time, timezone: str, days: int) -> str:
    return f"{clock(at)} ({escape(timezone)}), {format_days(days)}"


# --- shared ---------------------------------------------------------------------------------------


def not_available_screen() -> Screen:
    """The one neutral refusal: it does not say what exists or who may do it."""
    return Screen("Sorry, that isn't available.")


def cancelled_screen() -> Screen:
    """A confirmation was cancelled: nothing changed."""
    return Screen("Cancelled. Nothing has changed.")


def lead_help_screen(*, admin: bool) -> Screen:
    """How leading cohorts works, for leads (and admins) only."""
    lines = [
        "<b>Leading a cohort</b>",
        "",
        "/cohort new <i>name</i> – start a cohort; you get an invite link and a QR code",
        "/cohorts – your cohorts",
        "/cohort <i>name</i> – how the cohort is getting on, with a chart",
        "/cohort invite <i>name</i> – a fresh link (the old one stops working);"
        " add <code>uses 20</code> or <code>days 14</code> to limit it",
        "/cohort export <i>name</i> – the roster as a CSV file",
        "/cohort nudge <i>name</i> – a gentle reminder to anyone away for 7 days (once a week)",
        "/cohort remove <i>name</i> – take someone out of the cohort",
        "/cohort archive <i>name</i> – close the cohort",
        "/cohort settings <i>name</i> – schedule for new members, start date, huddle day",
        "",
        "You see names as members gave them, when they joined, the lessons each had done by"
        " Monday and, if they agree, when they were last active; with 5 or more members, team"
        " figures made from those, and the team's average confidence change from the"
        " self-assessment, only from 5 people up and only in steps of 5. Never reflections,"
        " check answers, journal entries, anyone's own ratings or whether someone paused their"
        " lessons.",
    ]
    if admin:
        lines += [
            "",
            "<b>Admins</b>",
            "/lead invite – a one-time link that makes someone a team lead (7 days)",
            "/lead add <i>numeric id</i> – make someone a team lead",
            "/lead list – leads and their cohorts",
            "/lead remove <i>numeric id</i> – remove a lead (their cohorts wait for a handover)",
            "/lead handover <i>from id</i> <i>to id</i> – give a lead's cohorts to another lead",
            "/report – the programme report across all cohorts (CSV and XLSX, groups of 5+)",
        ]
    return Screen("\n".join(lines))


# --- the lead: cohorts ----------------------------------------------------------------------------


def cohort_name_problem_screen(reason: str) -> Screen:
    """Why a cohort name cannot be used."""
    texts = {
        "empty": "Please give the cohort a name, for example <code>/cohort new Night team</code>.",
        "long": "That name is a little long. Please use 48 characters or fewer.",
        "reserved": "Please choose a name that doesn't start with a /cohort word such as"
        " <i>new</i>, <i>invite</i> or <i>export</i>.",
        "taken": "You already have a cohort with that name. Please choose another.",
    }
    return Screen(texts.get(reason, texts["empty"]))


def invite_caption(
    cohort: CohortInfo, link: InviteLink, url: str, *, created: bool = False
) -> Screen:
    """The caption under the QR code: the link, how long it works, what to do next."""
    head = (
        f"<b>{escape(cohort.name)}</b> is ready."
        if created
        else f"A new invite link for <b>{escape(cohort.name)}</b>. Earlier links no longer work."
    )
    limit = f", for up to {link.max_uses} people" if link.max_uses else ""
    until = _day(link.expires_at.astimezone(zone(cohort.timezone)).date())
    schedule = _schedule(cohort.delivery_time, cohort.timezone, cohort.days)
    return Screen(
        f"{head}\n\nShare this link or the QR code with your team:\n{url}\n\n"
        f"It works until {until}{limit}. Lessons for new members: {schedule}.\n"
        f"How it's going: /cohort {escape(cohort.name)}"
    )


def invite_poster(cohort: CohortInfo, link: InviteLink, url: str) -> bytes:
    """A printable A4 poster of the invite: the cohort, "Scan to join", the QR code, the lead,
    until when it works, and the link in words for anyone who cannot scan."""
    until = link.expires_at.astimezone(zone(cohort.timezone)).date()
    qr = qr_png(url)

    def draw(page: Page) -> None:
        page.gap(4)
        page.text(cohort.name, 40, bold=True, colour=ACCENT, centre=True)
        page.text("Scan to join", 32, bold=True, centre=True)
        page.gap(3)
        page.image(qr, POSTER_QR_MM)
        page.text(f"Invited by {cohort.lead_name}", 22, centre=True)
        page.text(f"Works until {named(until)}", 20, centre=True)
        page.gap(5)
        page.text("No camera? Open this link on your phone:", 14, colour=MUTED, centre=True)
        page.text(url, 15, bold=True, centre=True, wrap_anywhere=True)
        page.gap(5)
        page.text(
            "Trauma-informed practice: one short lesson a day in Telegram, about two minutes."
            " Your lead sees team totals, never your reflections or answers.",
            13,
            colour=MUTED,
            centre=True,
        )

    return one_page(f"Join {cohort.name}", draw)


def poster_caption(cohort: CohortInfo) -> Screen:
    """Caption for the poster PDF."""
    return Screen(f"A poster of this invite to print (A4) for <b>{escape(cohort.name)}</b>.")


def cohorts_screen(cohorts: Sequence[CohortInfo]) -> Screen:
    """/cohorts: the lead's cohorts, a button each."""
    if not cohorts:
        return Screen(
            "You have no cohorts yet. Start one with <code>/cohort new Night team</code>."
            " /lead shows everything a lead can do."
        )
    lines = ["<b>Your cohorts</b>", ""]
    hidden = len(cohorts) - MAX_LISTED_COHORTS
    cohorts = cohorts[:MAX_LISTED_COHORTS]
    for cohort in cohorts:
        link = "no live invite link"
        if cohort.invite_expires_at is not None:
            expires = cohort.invite_expires_at.astimezone(zone(cohort.timezone)).date()
            link = f"link works until {_day(expires)}"
        lines.append(f"• <b>{escape(cohort.name)}</b>: {cohort.members} joined; {link}")
    if hidden > 0:
        lines.append(f"and {hidden} more: open one with /cohort <i>name</i>")
    return Screen(
        _within(lines),
        tuple((Button(cohort.name, encode(TEAM_OPEN, cohort.id)),) for cohort in cohorts),
    )


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "0%"


def dashboard_screen(dashboard: Dashboard) -> Screen:
    """The cohort at a glance, lessons counted up to this Monday; under five, counts only."""
    d = dashboard
    name = escape(d.cohort.name)
    lines = [
        f"<b>{name}</b>",
        f"{d.joined} joined",
        f"Lessons completed together up to {_day(d.counted_until)}: {d.lessons_done}",
    ]
    if d.small:
        lines += [
            "",
            "<i>With fewer than 5 members only these counts are shown, so no one can be picked"
            " out.</i>",
        ]
    else:
        lines += ["", "<b>Lessons done by Monday</b> (members)"]
        lines += [f"{escape(label)}: {count}" for label, count in d.distribution]
        median = f"{d.median_done:g}" if d.median_done is not None else "–"
        lines += ["", f"Median lessons done: {median} of {d.course_length}", ""]
        if d.inactive_names:
            shown = d.inactive_names[:MAX_LISTED_NAMES]
            more = len(d.inactive_names) - len(shown)
            lines.append("<b>Not active for 7 days</b> (members who agreed to show this)")
            lines.append(
                ", ".join(escape(n) for n in shown) + (f" and {more} more" if more else "")
            )
            lines.append(f"A gentle reminder: /cohort nudge {name}")
        else:
            lines.append("No one who shares their activity has been away for 7 days.")
        if not d.weekly:
            counted = _day(d.counted_until + timedelta(weeks=1))
            lines.append(
                "The weekly chart starts once the cohort has had a whole week (Monday to"
                f" Sunday); its first week is counted on {counted}."
            )
        lines += ["", *change_lines(d.confidence)]
    lines += [
        "",
        "<i>Lessons are counted each Monday, and no figure comes from check answers or from"
        " anyone's activity they keep private.</i>",
        "",
        f"/cohort export {name} · /cohort invite {name}",
    ]
    return Screen("\n".join(lines))


def chart_caption(dashboard: Dashboard) -> Screen:
    """Caption for the weekly chart (groups of five or more): the chart's numbers as text too,
    so a screen reader gets them."""
    this_week = dashboard.counted_until
    lines = [
        f"<b>{escape(dashboard.cohort.name)}</b>: lessons completed in each whole week"
        " (week commencing Monday), counting each member from their first whole week in the"
        " cohort.",
        *(f"w/c {_day(monday)}: {count}" for monday, count in dashboard.weekly),
        f"This week (from {_day(this_week)}): counted on {_day(this_week + timedelta(weeks=1))}.",
    ]
    return Screen("\n".join(lines))


def export_caption(cohort_name: str, rows: int) -> Screen:
    """Caption for the CSV roster."""
    return Screen(
        f"<b>{escape(cohort_name)}</b>: {rows} member{'s' if rows != 1 else ''}. Names as members"
        ' gave them; lessons done by this Monday; "last active" only for members who agreed'
        " to share it."
    )


def _slug(cohort_name: str) -> str:
    """The cohort name for a file name (ASCII letters, digits and dashes only)."""
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in cohort_name.lower())
    return "-".join(filter(None, slug.split("-")))[:30] or "cohort"


def export_filename(cohort_name: str, today: date) -> str:
    """A safe file name for the roster."""
    return f"{_slug(cohort_name)}-{today.isoformat()}.csv"


def poster_filename(cohort_name: str) -> str:
    """A safe file name for the invite poster."""
    return f"{_slug(cohort_name)}-invite-poster.pdf"


def nudge_result_screen(cohort_name: str, result: NudgeResult, timezone: str) -> Screen:
    """What the lead learns from a nudge: that it went, never who or how many."""
    name = escape(cohort_name)
    if not result.sent and result.next_allowed_at is not None:
        return Screen(
            f"<b>{name}</b> had a nudge this week. The next one can go from"
            f" {_when(result.next_allowed_at, timezone)}."
        )
    return Screen(
        f"Done: anyone in <b>{name}</b> who has been away for 7 days or more gets a gentle"
        " nudge, at a sensible time of day for them. You won't be told who, how many, or who"
        " opens it."
    )


def nudge_screen() -> Screen:
    """The pre-written nudge a member receives (sent by the delivery engine)."""
    return Screen(
        "Hello from your team's trauma-informed practice course. No pressure at all: whenever"
        " suits you, /today has a short lesson waiting, about two minutes.\n\n"
        "If now isn't a good time, /pause takes a break for as long as you need."
        " /support is here any time."
    )


def roster_screen(cohort: CohortInfo, members: Sequence[MemberRef]) -> Screen:
    """Choose a member to remove."""
    if not members:
        return Screen(f"No one has joined <b>{escape(cohort.name)}</b> yet.")
    text = f"Who should leave <b>{escape(cohort.name)}</b>? You'll be asked to confirm."
    if len(members) > MAX_ROSTER_BUTTONS:
        text += (
            f"\n\nThe first {MAX_ROSTER_BUTTONS} are below; for anyone else type"
            f" /cohort remove {escape(cohort.name)} <i>their name</i>."
        )
        members = members[:MAX_ROSTER_BUTTONS]
    return Screen(
        text,
        (
            *((Button(m.display_name, encode(TEAM_REMOVE_ASK, cohort.id, m.id)),) for m in members),
            (Button("Cancel", encode(TEAM_CANCEL)),),
        ),
    )


def remove_confirm_screen(cohort: CohortInfo, member: MemberRef) -> Screen:
    """Are you sure?"""
    return Screen(
        f"Remove <b>{escape(member.display_name)}</b> from <b>{escape(cohort.name)}</b>?\n\n"
        "Their own lessons carry on; you will no longer see their name or progress.",
        (
            (
                Button("Yes, remove", encode(TEAM_REMOVE, cohort.id, member.id)),
                Button("Cancel", encode(TEAM_CANCEL)),
            ),
        ),
    )


def removed_screen(cohort_name: str, member_name: str) -> Screen:
    """Done."""
    return Screen(f"{escape(member_name)} is no longer in <b>{escape(cohort_name)}</b>.")


def archive_confirm_screen(cohort: CohortInfo) -> Screen:
    """Are you sure?"""
    return Screen(
        f"Archive <b>{escape(cohort.name)}</b>?\n\nIts invite links stop working and its"
        f" {cohort.members} member{'s' if cohort.members != 1 else ''} stop being part of it;"
        " everyone keeps their own lessons and progress. You will no longer see this cohort.",
        (
            (
                Button("Yes, archive", encode(TEAM_ARCHIVE, cohort.id)),
                Button("Cancel", encode(TEAM_CANCEL)),
            ),
        ),
    )


def archived_screen(cohort_name: str) -> Screen:
    """Done."""
    return Screen(f"<b>{escape(cohort_name)}</b> is archived.")


def settings_screen(cohort: CohortInfo, note: str | None = None) -> Screen:
    """A cohort's settings and how to change each."""
    name = escape(cohort.name)
    huddle_at = clock(cohort.huddle_time or HUDDLE_AT)
    huddle = (
        f"{WEEKDAYS[cohort.huddle_day]}s at {huddle_at}" if cohort.huddle_day is not None else "off"
    )
    rota = escape(describe(cohort.pattern)) if cohort.pattern is not None else "none"
    lines = [note, ""] if note else []
    lines += [
        f"<b>{name}</b> settings",
        "",
        f"Lessons for new members: {_schedule(cohort.delivery_time, cohort.timezone, cohort.days)}",
        f"Starts: {_day(cohort.starts_on)}",
        f"Team rota, offered to new members in one tap: {rota}",
        f"Huddle card: {huddle}",
        f"Your name on the invite screen: {escape(cohort.lead_name)}",
        "",
        "To change one:",
        f"/cohort time {name} 07:30",
        f"/cohort days {name} weekdays",
        f"/cohort timezone {name} Europe/London",
        f"/cohort start {name} 2027-01-04",
        f"/cohort rota {name} 2 days 2 nights 4 off from 2026-12-07 (or off)",
        "<i>(day shifts at the lesson time above; add <code>nights 19:00</code> for"
        " another time on night shifts)</i>",
        f"/cohort huddle {name} friday 17:30 (or off)",
        f"/cohort myname {name} Sam",
        "",
        "<i>Members who have already joined keep their own times; they can change them in"
        " /settings.</i>",
    ]
    return Screen("\n".join(lines))


def setting_problem_screen(what: str) -> Screen:
    """A setting value could not be read."""
    examples = {
        "time": "a time such as <code>07:30</code> or <code>7pm</code>",
        "days": "days such as <code>weekdays</code>, <code>every day</code> or <code>Mon Wed"
        " Fri</code>",
        "timezone": "a timezone such as <code>Europe/London</code>",
        "start": "a date such as <code>2027-01-04</code>, today or later",
        "huddle": "a day such as <code>friday</code>, and a time if you like"
        " (<code>friday 17:30</code>), or <code>off</code>",
        "rota": "a rota and the date of its first on-day, such as <code>4 on 4 off from"
        " 2026-12-07</code> (add <code>nights 19:00</code> for night shifts), or <code>off</code>",
        "myname": "a name of up to 48 characters",
        "invite": "<code>uses 20</code> and/or <code>days 14</code> (up to 365 days)",
    }
    return Screen(f"I couldn't read that. Please give {examples.get(what, 'a value')}.")


def huddle_screen(card: HuddleCard, lesson: Lesson) -> Screen:
    """The weekly huddle card: one question for team supervision, from the lesson's prompt."""
    return Screen(
        f"<b>Huddle card: {escape(card.cohort_name)}</b>\n"
        f"<i>{card.reached} of {card.members} had done {card.lesson_position} or more lessons"
        f" by Monday. This week: lesson {card.lesson_position}, {escape(lesson.title)}.</i>\n\n"
        f"<b>The lesson in a line</b>\n{lesson.takeaway}\n\n"
        f"<b>A question to talk over together</b>\n{lesson.reflect}\n\n"
        "<i>Invite, never require: people share only what they choose, and personal stories stay"
        " in the room. /support is there for anyone who needs it.</i>"
    )


# --- admins: leads --------------------------------------------------------------------------------


def lead_invite_created_screen(invite: LeadInvite, url: str) -> Screen:
    """A one-time lead invitation link for an admin to pass on."""
    return Screen(
        "A one-time link that makes whoever opens it first a team lead:\n"
        f"{url}\n\nIt works once, until {_day(invite.expires_at.date())} (UTC). Send it only to"
        " the person you mean."
    )


def lead_added_screen(telegram_user_id: int, added: bool) -> Screen:
    """/lead add result."""
    if added:
        return Screen(
            f"{telegram_user_id} is now a team lead. /lead in their chat shows what they can do."
        )
    return Screen(f"{telegram_user_id} is already a team lead.")


def lead_usage_screen() -> Screen:
    """A /lead subcommand without what it needs."""
    return Screen(
        "Please give a numeric Telegram id, for example <code>/lead add 123456789</code>."
        " /lead shows every lead command."
    )


def leads_screen(leads: Sequence[LeadInfo]) -> Screen:
    """/lead list."""
    if not leads:
        return Screen("There are no team leads yet. /lead invite makes a one-time link.")
    lines = ["<b>Team leads</b>", ""]
    waiting: list[str] = []
    hidden = len(leads) - MAX_LISTED_LEADS
    leads = leads[:MAX_LISTED_LEADS]
    for lead in leads:
        cohorts = _names(lead.cohorts, limit=3) or "no cohorts"
        if lead.is_lead:
            lines.append(f"• <code>{lead.telegram_user_id}</code>: {cohorts}")
        else:
            erased = " (a lead who erased their data)" if lead.telegram_user_id < 0 else ""
            waiting.append(f"• from <code>{lead.telegram_user_id}</code>{erased}: {cohorts}")
    if hidden > 0:
        lines.append(f"and {hidden} more")
    if waiting:
        lines += ["", "<b>Cohorts waiting for a new lead</b>", *waiting]
        lines.append("Hand them over with /lead handover <i>from id</i> <i>to id</i>.")
    return Screen(_within(lines))


def lead_remove_confirm_screen(lead: LeadInfo) -> Screen:
    """Are you sure?"""
    cohorts = _names(lead.cohorts) or "no cohorts"
    return Screen(
        f"Remove <code>{lead.telegram_user_id}</code> as a team lead? They lose access at once."
        f"\n\nThey lead: {cohorts}. Those cohorts stay as they are until you hand them to"
        " another lead.",
        (
            (
                Button("Yes, remove", encode(LEAD_REMOVE, lead.telegram_user_id)),
                Button("Cancel", encode(TEAM_CANCEL)),
            ),
        ),
    )


def lead_removed_screen(lead: LeadInfo) -> Screen:
    """Done; what happens to their cohorts."""
    text = f"<code>{lead.telegram_user_id}</code> is no longer a team lead."
    if lead.cohorts:
        text += (
            f"\n\nTheir cohorts ({_names(lead.cohorts)}) wait for a new"
            f" lead: /lead handover {lead.telegram_user_id} <i>new lead's id</i>"
        )
    return Screen(text)


def handover_screen(handover: Handover) -> Screen:
    """Done."""
    return Screen(f"<code>{handover.to_id}</code> now leads: {_names(handover.cohorts)}.")


# --- members: joining and leaving -----------------------------------------------------------------


def join_screen(preview: CohortInvitePreview, now: datetime) -> Screen:
    """The consent screen: the cohort, its lead, and exactly what the lead will see."""
    cohort, lead = escape(preview.cohort_name), escape(preview.lead_name)
    if preview.already_member:
        return Screen(f"You're already part of <b>{cohort}</b>. /leave if you want to leave it.")
    if preview.subscribed:
        lessons = (
            "You keep your progress and your own lesson times (change them any time in /settings)."
        )
    else:
        first = (
            _when(preview.first_lesson_at, preview.timezone, now)
            if preview.first_lesson_at is not None
            else _day(preview.starts_on)
        )
        lessons = (
            "You'll get one short lesson at"
            f" {_schedule(preview.delivery_time, preview.timezone, preview.days)}; your first"
            f" lesson: {first} (change your own time any time in /settings)."
        )
    return Screen(
        f"<b>Join {cohort}?</b>\n\n{_capitalised(lead)} has invited you to take this"
        f" trauma-informed practice course together as a team. {lessons}\n\n"
        f"<b>What {lead} will see</b> (on screen and in a spreadsheet)\n"
        "• the name you choose to give (next step)\n"
        "• when you joined\n"
        "• how many lessons you had done by each Monday\n"
        "• when you were last active, only if you agree to it after joining\n"
        "• with 5 or more members, team totals made only from these\n"
        "• if you choose to rate your confidence, only the team's average change, from 5 or"
        " more people\n\n"
        f"<b>What {lead} will never see</b>\n"
        "• your reflections, your journal, your answers to the knowledge checks, or your own"
        " confidence ratings\n"
        "• whether your lessons are paused or stopped, or on which days you take them\n\n"
        # The same framing as /start: someone arriving by a link may never have seen it.
        f"{framing_text()}\n\n"
        "You can /leave the cohort at any time.",
        (
            (
                Button("Join", encode(TEAM_JOIN, preview.token)),
                Button("No thanks", encode(TEAM_DECLINE)),
            ),
        ),
    )


def _capitalised(text: str) -> str:
    """A name at the start of a sentence ("your team lead" -> "Your team lead")."""
    return text[:1].upper() + text[1:]


def lead_invitation_screen(preview: LeadInvitePreview) -> Screen:
    """Someone opened a lead invitation."""
    if preview.already_lead:
        return Screen("You're already a team lead. /lead shows what you can do.")
    return Screen(
        "<b>Become a team lead?</b>\n\nYou've been invited to lead cohorts: invite your team,"
        " see how the team is getting on (in aggregate, and each member's lessons done by"
        " Monday under the name they give), send an occasional gentle nudge and get a weekly"
        " huddle card."
        " You will never see anyone's reflections, journal or check answers.",
        (
            (
                Button("Accept", encode(LEAD_ACCEPT, preview.token)),
                Button("No thanks", encode(TEAM_DECLINE)),
            ),
        ),
    )


def lead_accepted_screen() -> Screen:
    """The invitation worked."""
    return Screen("You're now a team lead. " + lead_help_screen(admin=False).text)


def bad_invite_screen(*, throttled: bool, from_admin: bool = False) -> Screen:
    """A link that doesn't work: clear, revealing nothing about any cohort, and pointing to
    whoever makes that kind of link (a lead invitation comes from an admin)."""
    if throttled:
        return Screen(
            "Several links in a row haven't worked, so I've stopped checking them for a little"
            " while. Please ask whoever sent you the link for a fresh one and try again later."
        )
    who = "the admin who invited you to lead" if from_admin else "your team lead"
    return Screen(
        "Sorry, this invite link doesn't work. It may have expired, been replaced or already"
        f" been used. Please ask {who} for a fresh one. /start shows what this bot does."
    )


def declined_screen() -> Screen:
    """No thanks: nothing was stored."""
    return Screen(
        "No problem: nothing has been stored. The link works again if you change your"
        " mind, while it lasts."
    )


def name_prompt_screen(cohort_name: str) -> Screen:
    """Ask for the name the lead will see."""
    return Screen(
        f"What name should <b>{escape(cohort_name)}</b>'s lead see for you? A first name or"
        f" initials is fine (up to {MAX_DISPLAY_NAME} characters). Type it as your next message.",
        ((Button("Cancel", encode(TEAM_NAME_CANCEL)),),),
    )


def name_rejected_screen(reason: str) -> Screen:
    """The name cannot be used."""
    if reason == "taken":
        return Screen(
            "Someone in this cohort already uses that name. Please try another, for example"
            " with an initial."
        )
    return Screen("Please type a name with at least one letter or number.")


def join_cancelled_screen() -> Screen:
    """The person stopped joining."""
    return Screen("Okay, you haven't joined. Nothing about this has been kept.")


def already_member_screen(cohort_name: str) -> Screen:
    """Pressed Join again."""
    return Screen(f"You're already part of <b>{escape(cohort_name)}</b>.")


def joined_screen(joined: Joined, now: datetime) -> Screen:
    """Welcome to the cohort, when lessons come, and one choice about last-active visibility."""
    name = escape(joined.display_name)
    lines = [f"You've joined <b>{escape(joined.cohort_name)}</b> as <b>{name}</b>."]
    if joined.shortened:
        lines.append(
            f"<i>(Names can be up to {MAX_DISPLAY_NAME} characters, so I shortened it.)</i>"
        )
    if joined.kept_progress:
        lines.append("Your progress and lesson times stay as they were.")
    if joined.state == SubscriptionState.ACTIVE and joined.next_due_at is not None:
        if joined.next_due_at <= now:
            lines.append("Your next lesson is on its way.")
        else:
            lines.append(f"Your next lesson: {_when(joined.next_due_at, joined.timezone, now)}.")
    elif joined.state == SubscriptionState.PAUSED:
        lines.append("Your lessons are paused; /resume whenever you're ready.")
    elif joined.state in (SubscriptionState.STOPPED, SubscriptionState.INACTIVE):
        lines.append("Your lessons are stopped; /resume starts them again.")
    lines += [
        "",
        f"One choice: may {escape(joined.lead_name)} see when you were last active? That lets"
        " them check in kindly if you've been away for a week or more. Either answer is fine;"
        " you can change it by pressing the other button later.",
    ]
    rows: list[tuple[Button, ...]] = [
        (
            Button("Yes, show it", encode(TEAM_SHOW_ACTIVITY, joined.member_id, 1)),
            Button("No, keep it private", encode(TEAM_SHOW_ACTIVITY, joined.member_id, 0)),
        )
    ]
    if joined.team_pattern is not None:
        lines += [
            "",
            f"Your team works a {escape(describe(joined.team_pattern))}. If that's your rota"
            " too, one tap sets your lessons to follow it (you can change it in /settings).",
        ]
        rows.append((Button("Follow the team's rota", encode(TEAM_PATTERN, joined.cohort_id)),))
    return Screen("\n".join(lines), tuple(rows))


def team_pattern_taken_screen(taken: TeamPatternTaken, now: datetime) -> Screen:
    """The member now follows the team's rota."""
    lines = [
        f"Done: your lessons follow the {escape(describe(taken.pattern))}"
        f" of <b>{escape(taken.cohort_name)}</b>."
    ]
    if taken.next_due_at is not None:
        when = describe_next(taken.next_due_at, taken.pattern, taken.timezone, now)
        lines.append(f"Your next lesson: {escape(when)}.")
    lines.append("You can change this any time in /settings.")
    return Screen("\n".join(lines))


def team_pattern_gone_screen() -> Screen:
    """The button no longer applies (left the team, or the lead removed the rota)."""
    return Screen(
        "That rota isn't on offer any more, so nothing changed. Your times are in /settings."
    )


def activity_choice_screen(show: bool) -> Screen:
    """The choice is saved."""
    if show:
        return Screen("Saved: your lead can see when you were last active. /leave any time.")
    return Screen("Saved: your lead won't see when you were last active. /leave any time.")


def leave_screen(memberships: Sequence[Membership]) -> Screen:
    """/leave: nothing to leave, or which cohort."""
    if not memberships:
        return Screen("You're not part of a team cohort.")
    return Screen(
        "Which cohort would you like to leave? You'll be asked to confirm.",
        tuple((Button(m.cohort_name, encode(TEAM_LEAVE_ASK, m.cohort_id)),) for m in memberships),
    )


def leave_confirm_screen(membership: Membership) -> Screen:
    """Are you sure?"""
    return Screen(
        f"Leave <b>{escape(membership.cohort_name)}</b>? Your lessons carry on as they are;"
        f" {escape(membership.lead_name)} will no longer see your name or progress.",
        (
            (
                Button("Leave", encode(TEAM_LEAVE, membership.cohort_id)),
                Button("Stay", encode(TEAM_CANCEL)),
            ),
        ),
    )


def left_screen(cohort_name: str | None) -> Screen:
    """Done (or it had already happened)."""
    if cohort_name is None:
        return Screen("You're not part of that cohort any more.")
    return Screen(f"You've left <b>{escape(cohort_name)}</b>. Your lessons carry on as before.")
