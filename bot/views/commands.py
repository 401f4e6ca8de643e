"""The command menus: every command with its one-line description, per role.

One list drives Telegram's command menus (setMyCommands: the learners' menu as the default, and
a lead's or an admin's in their own chat) and the /help screens, so they cannot drift apart.
Features add their commands here, in the order people should see them; `essential` ones make the
short /help that fits one phone screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.results.roles import ADMIN, LEAD


@dataclass(frozen=True, slots=True)
class Command:
    """A command as shown to people: name (no slash), description, and a help section."""

    name: str
    description: str
    section: str
    short: str = ""  # its words on the short /help (one phone screen); empty: not on it


LEARN = "Your course"
LOOKUP = "Look things up"
PRIVACY = "Your data"
HELP = "Help"
TEAM = "Your team"

COMMANDS: tuple[Command, ...] = (
    Command("start", "Start the course or see where you are", LEARN),
    Command("today", "Your latest lesson again", LEARN, short="your latest lesson"),
    Command("next", "The next lesson now, at your own pace", LEARN, short="the next lesson now"),
    Command(
        "progress",
        "Lessons done, your streak, checks mastered, next lesson",
        LEARN,
        short="how far you've come",
    ),
    Command("journal", "Your private reflections, newest first", LEARN),
    Command("confidence", "Your own confidence self-assessment answers", LEARN),
    Command("certificate", "Your record of learning (PDF) once you finish the course", LEARN),
    Command("leave", "Leave a team cohort you joined", LEARN),
    Command(
        "settings",
        "Lesson time, timezone, days, reflection time, reminders",
        LEARN,
        short="when your lessons come",
    ),
    Command(
        "pause",
        "Take a break: /pause 3d, /pause 2w or /pause until 4 January",
        LEARN,
        short="take a break (/resume to come back)",
    ),
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
    Command("cards", "Every card, by topic", LOOKUP, short="every card, by topic"),
    Command(
        "search",
        "Search the cards and lessons: /search your words",
        LOOKUP,
        short="or just type a few words, such as <i>stage 2</i>",
    ),
    Command("mydata", "Everything stored about you, as a file", PRIVACY, short="what is stored"),
    Command("forget", "Erase everything stored about you", PRIVACY, short="erase it all"),
    Command("help", "What this bot can do", HELP),
    # Public (HELP, not PRIVACY): the policy is nobody's personal data, so it answers in groups.
    Command("privacy", "What is stored about you, who sees it, for how long", HELP),
    Command(
        "support",
        "Support and urgent contacts, any time",
        HELP,
        short="support and urgent contacts, any time",
    ),
)


# A lead's commands, in their own chat's menu (admins may lead cohorts too).
LEAD_COMMANDS: tuple[Command, ...] = (
    Command("cohorts", "Your team cohorts", TEAM, short="your cohorts"),
    Command("cohort", "One cohort: /cohort name; a new one: /cohort new name", TEAM),
    Command("lead", "How leading a cohort works", TEAM, short="how leading works"),
)
# An admin's /lead does more than a lead's.
ADMIN_LEAD = Command(
    "lead", "Team leads: invite, add, list, remove, hand over", TEAM, short="manage team leads"
)
ADMIN_REPORT = Command(
    "report", "The programme report, CSV and XLSX (groups of 5 or more)", TEAM, short="report"
)


def menu(role: str) -> tuple[Command, ...]:
    """The commands in the menu of someone with this role (ADMIN, LEAD or NONE)."""
    if role == ADMIN:
        lead = tuple(c for c in LEAD_COMMANDS if c.name != "lead")
        return COMMANDS + lead + (ADMIN_LEAD, ADMIN_REPORT)
    if role == LEAD:
        return COMMANDS + LEAD_COMMANDS
    return COMMANDS
