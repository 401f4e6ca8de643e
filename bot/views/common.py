"""Screens any feature can show: framing, help, apology, unknown input, the private-chat pointer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.views.callbacks import (
    COURSE,
    HELP_PAGE,
    LESSON_MOMENT,
    MENU_SHOW,
    encode,
)
from bot.views.commands import Command
from bot.views.lookup import ALL_MENUS
from bot.views.screen import Button, Screen, escape


def framing_text() -> str:
    """What the bot is and is not, and what it stores: said on /start and on every invite link."""
    return (
        "<b>What this is not</b>\n"
        "It is a learning tool. It is not a crisis service, and nobody monitors these messages."
        " If you need support, /support is always there.\n\n"
        "<b>What is stored, and who sees it</b>\n"
        "If you agree, I keep your Telegram user number (not your name or phone number), your"
        " schedule and your progress. Your reflections are encrypted and are yours alone. If you"
        " join a team, your team lead sees progress only, never your reflections.\n"
        "You can see everything stored with /mydata and delete it all with /forget, at any time."
    )


# /help's pages, as the HELP_PAGE button's payload.
HELP_SHORT = "short"
HELP_ALL = "all"


def help_screen(commands: Sequence[Command]) -> Screen:
    """/help on one phone screen: the few commands people need, grouped; buttons for the rest.

    A section with one or two of them goes on one line; `commands` is the person's menu, so a
    lead's help names the team commands too.
    """
    lines = ["<b>How this bot works</b>"]
    for section, items in _grouped(c for c in commands if c.short).items():
        shown = [f"/{c.name} {c.short}" for c in items]  # shorts are our own HTML
        lines.append("")
        if len(shown) <= 2:
            lines.append(f"<b>{escape(section)}</b>: " + " · ".join(shown))
        else:
            lines.append(f"<b>{escape(section)}</b>")
            lines.extend(shown)
    buttons = (
        (Button("Today's lesson", encode(COURSE, "today")),),
        (
            Button("Look something up", encode(MENU_SHOW, ALL_MENUS)),
            Button("All commands", encode(HELP_PAGE, HELP_ALL)),
        ),
        (Button("Support and contacts", encode(LESSON_MOMENT)),),
    )
    return Screen("\n".join(lines), buttons)


def all_commands_screen(commands: Sequence[Command]) -> Screen:
    """Every command in the person's menu with its description, grouped; Back to /help."""
    lines = ["<b>All commands</b>", ""]
    for section, items in _grouped(commands).items():
        lines.append(f"<b>{escape(section)}</b>")
        lines.extend(f"/{c.name} - {escape(c.description)}" for c in items)
        lines.append("")
    return Screen("\n".join(lines).strip(), ((Button("Back", encode(HELP_PAGE, HELP_SHORT)),),))


def _grouped(commands: Iterable[Command]) -> dict[str, list[Command]]:
    grouped: dict[str, list[Command]] = {}
    for command in commands:
        grouped.setdefault(command.section, []).append(command)
    return grouped


def apology_screen() -> Screen:
    """What a person sees when something went wrong on our side."""
    return Screen(
        "Sorry, something went wrong on our side and that did not work, so please send it"
        " again in a moment. /support is always available."
    )


def unknown_command_screen() -> Screen:
    """Reply to a command the bot does not know."""
    return Screen("I don't know that command. /help lists everything I can do.")


# A refused personal button's notice (answerCallbackQuery: at most 200 characters).
PRIVATE_BUTTON_NOTICE = (
    "That button belongs to someone's private chat with me. "
    "Your own course and data are in yours: opening it now."
)


def start_link(bot_username: str, payload: str) -> str:
    """The t.me link that opens the private chat with the bot and sends /start <payload>."""
    return f"https://t.me/{bot_username}?start={payload}"


def private_chat_screen(link: str) -> Screen:
    """In a group, the answer to a personal command: one line and a button to the private chat."""
    return Screen(
        "Your course and your data stay in your private chat with me.",
        ((Button("Open our private chat", url=link),),),
    )


def private_command_screen(command: str, bot_username: str) -> Screen:
    """A known command sent where it does not work (a group): it works in the private chat."""
    return Screen(
        f"/{escape(command)} works in our private chat, where what you do stays yours.",
        ((Button("Open the private chat", url=f"https://t.me/{bot_username}"),),),
    )


def unsupported_message_screen() -> Screen:
    """Reply to a sticker, photo, voice note or other message the bot cannot read."""
    return Screen(
        "I can only read text messages. Type a few words to look something up, or see /help."
    )


def slow_down_screen() -> Screen:
    """Told once to someone sending faster than the flood limit."""
    return Screen(
        "You're sending messages faster than I can keep up with, so I'll pause for a few"
        " seconds: what you send meanwhile won't be answered, so please send it again after."
        " /support still gets through."
    )
