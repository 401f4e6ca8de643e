"""Pure views for the learner's data: /privacy, the /mydata document's caption and the /forget
screens.

Domain values in, Screens out; no telegram import. What was erased is listed table by table in
plain words; nothing here persuades anyone to keep their data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.core.dates import moment
from bot.views.callbacks import FORGET_CONFIRM, FORGET_KEEP, encode
from bot.views.screen import Button, Screen, escape


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


# How erased rows are described, by table; a new table shows under its own name until added here.
ERASED_LABELS: dict[str, tuple[str, str]] = {
    "lesson_progress": ("lesson record", "lesson records"),
    "check_answers": ("check answer", "check answers"),
    "reviews": ("review question", "review questions"),
    "reflections": ("reflection", "reflections"),
    "deliveries": ("record of a message sent to you", "records of messages sent to you"),
    "cohort_members": ("cohort membership", "cohort memberships"),
    "confidence_answers": ("self-assessment answer", "self-assessment answers"),
    "leads": ("team-lead role", "team-lead roles"),
}
_NOT_LISTED = frozenset({"learners", "subscriptions"})


def _kept_for(days: int) -> str:
    years, rest = divmod(days, 365)
    about = f" (about {_count(years, 'year', 'years')})" if years and rest < 31 else ""
    return f"{_count(days, 'day', 'days')}{about}"


def privacy_screen(reflection_days: int, inactive_days: int) -> Screen:
    """/privacy: what is stored, who sees it, how long (the retention settings in force, 0 being
    off) and how to export or erase it."""
    reflections = (
        f"Reflections are deleted {_kept_for(reflection_days)} after you write them; your"
        " progress stays."
        if reflection_days
        else "Reflections are kept until you erase them."
    )
    inactive = (
        f"If you don't use the bot for {_kept_for(inactive_days)}, everything about you is"
        " erased, as /forget would."
        if inactive_days
        else "Nothing is erased for inactivity: your data stays until you erase it."
    )
    return Screen(
        "<b>Privacy</b>\n\n"
        "<b>What is stored:</b> your Telegram user and chat id, your settings, which lessons were"
        " sent, opened, done or skipped, your check answers, your reflections and, if you join a"
        " team cohort, the name you chose for it (a team lead's first name shows on their"
        " cohort's join screen). No usernames, phone numbers or other message text.\n\n"
        "<b>Who sees it:</b> only you see your reflections, journal and check answers."
        " Reflections are encrypted with a key of your own. A team lead sees totals for their"
        " cohort, never your reflections or answers, and nothing that could single you out in a"
        " group of fewer than 5. Your lessons and data are only ever sent in your private chat"
        " with me.\n\n"
        f"<b>How long:</b> {reflections} {inactive}\n\n"
        "<b>Your choice, any time:</b> /mydata sends you everything stored about you, as a file;"
        " /forget erases it all, at once, after you confirm.",
    )


def mydata_caption(taken: datetime) -> str:
    """The caption of the /mydata document."""
    return (
        f"Everything I store about you, as of {moment(taken, 'UTC', taken)} (UTC). Your"
        " reflections are in it,"
        " readable: keep the file somewhere safe. /forget erases it all."
    )


def mydata_nothing_screen() -> Screen:
    """/mydata for someone with no learner row."""
    return Screen(
        "I don't store anything about you: you haven't started the course, or your data was"
        " erased. /start begins the course whenever you like."
    )


def forget_confirm_screen(asked_minute: int) -> Screen:
    """/forget: what will go, and an explicit choice."""
    return Screen(
        "<b>Erase everything about you?</b>\n\nThis deletes your profile, settings, progress,"
        " check answers and reflections, and destroys the key that encrypts your reflections."
        " It cannot be undone.\n\nIf you would like a copy first, send /mydata.",
        (
            (Button("Yes, erase everything", encode(FORGET_CONFIRM, asked_minute)),),
            (Button("No, keep my data", encode(FORGET_KEEP)),),
        ),
    )


def forget_done_screen(erased: Mapping[str, int], kept: Mapping[str, int]) -> Screen:
    """What was erased, table by table, what was kept for a team, and what happens now."""
    lines = ["<b>Erased.</b>", ""]
    if erased.get("learners"):
        lines.append("• your profile and settings")
    for table, number in erased.items():
        if table in _NOT_LISTED or not number:
            continue
        one, many = ERASED_LABELS.get(table, (table.replace("_", " "), table.replace("_", " ")))
        lines.append(f"• {_count(number, escape(one), escape(many))}")
    if erased.get("learners"):
        lines.append("• the key that encrypted your reflections (destroyed)")
    led = kept.get("cohorts", 0)
    if led:
        which = "The cohort you lead stays" if led == 1 else f"The {led} cohorts you lead stay"
        lines += [
            "",
            f"{which} for your team, without your name or Telegram id; an admin can hand"
            f" {'it' if led == 1 else 'them'} over to another lead.",
        ]
    lines += [
        "",
        "Messages already in this chat stay in your Telegram app; you can delete them there."
        " /start begins afresh whenever you like, and /support is always here.",
    ]
    return Screen("\n".join(lines))


def forget_kept_screen() -> Screen:
    """The learner chose to keep their data."""
    return Screen("Nothing was erased. Your data stays as it is.")


def forget_nothing_screen() -> Screen:
    """/forget (or its confirmation) when nothing is stored."""
    return Screen("There is nothing to erase: I don't store anything about you.")


def forget_expired_screen() -> Screen:
    """A confirmation pressed long after it was asked."""
    return Screen(
        "That confirmation is from a while ago, so I haven't acted on it. Send /forget again"
        " if you still want to erase your data."
    )
