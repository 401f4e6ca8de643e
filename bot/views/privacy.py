"""Pure views for the learner's data: the /mydata document's caption and the /forget screens.

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
    "leads": ("team-lead role", "team-lead roles"),
}
_NOT_LISTED = frozenset({"learners", "subscriptions"})


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
