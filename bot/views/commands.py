"""The command menu: every public command with its one-line description.

One list drives Telegram's command menu (setMyCommands at start-up) and the /help screen, so the
two cannot drift apart. Features add their commands here, in the order people should see them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    """A command as shown to people: name (no slash), description, and a help section."""

    name: str
    description: str
    section: str


LEARN = "Your course"
LOOKUP = "Look things up"
PRIVACY = "Your data"
HELP = "Help"

COMMANDS: tuple[Command, ...] = (
    Command("start", "Start the course or see where you are", LEARN),
    Command("today", "Your latest lesson again", LEARN),
    Command("next", "The next lesson now, at your own pace", LEARN),
    Command("progress", "Lessons done, your streak, checks mastered, next lesson", LEARN),
    Command("journal", "Your private reflections, newest first", LEARN),
    Command("confidence", "Your own confidence self-assessment answers", LEARN),
    Command("certificate", "Your record of learning (PDF) once you finish the course", LEARN),
    Command("leave", "Leave a team cohort you joined", LEARN),
    Command("settings", "Lesson time, timezone, days, reflection time, reminders", LEARN),
    Command("pause", "Take a break: /pause 3d, /pause 2w or /pause until 2027-01-04", LEARN),
    Command("resume", "Lessons back on after a pause or a stop", LEARN),
    Command("restart", "Go through the course again from lesson 1", LEARN),
    Command("stop", "Stop daily lessons, keeping or deleting your data", LEARN),
    Command("listen", "How to listen and respond when someone tells you", LOOKUP),
    Command("stages", "The three stages of recovery", LOOKUP),
    Command("stage", "One stage of recovery: /stage 1, /stage 2 or /stage 3", LOOKUP),
    Command("triangle", "The recovery triangle, part by part", LOOKUP),
    Command("attachment", "The four models of attachment", LOOKUP),
    Command(
        "resilience", "Resilience: what it is, the areas that support it, how it is built", LOOKUP
    ),
    Command("questions", "Key questions to assess sources of resilience", LOOKUP),
    Command("wellbeing", "Protecting staff wellbeing", LOOKUP),
    Command("cards", "Every card, by topic", LOOKUP),
    Command("search", "Search the cards and lessons: /search your words", LOOKUP),
    Command("mydata", "Everything stored about you, as a file", PRIVACY),
    Command("forget", "Erase everything stored about you", PRIVACY),
    Command("help", "What this bot can do", HELP),
    # Public (HELP, not PRIVACY): the policy is nobody's personal data, so it answers in groups.
    Command("privacy", "What is stored about you, who sees it, for how long", HELP),
    Command("support", "Support and urgent contacts, any time", HELP),
)


def sections() -> dict[str, list[Command]]:
    """Commands grouped by help section, in first-seen order."""
    grouped: dict[str, list[Command]] = {}
    for command in COMMANDS:
        grouped.setdefault(command.section, []).append(command)
    return grouped
