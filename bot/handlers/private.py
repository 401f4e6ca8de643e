"""Personal things stay in the person's private chat: the one place that knows which commands
and buttons are personal.

Registered first in the features' group, so it sees an update before any feature does:

- a personal command (your course, your data, a lead's cohorts) typed in a group gets one line
  with a button that opens the private chat, where `/start <command>` continues with it;
- a personal button is honoured only in its owner's private chat. Personal screens are only ever
  sent to private chats, and a private chat with the bot has exactly one person in it, so the
  chat a button sits in names its owner; no owner id needs to travel in the 64 bytes of callback
  data. A press anywhere else (a group, a forwarded message, an inline message) gets a short
  notice and opens the presser's own private chat; nothing is sent or changed.

Lookups, cards, menus, /help, /support and inline mode are not personal and work anywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import BotContext
from bot.handlers import (
    certificate,
    cohorts,
    confidence,
    learning,
    onboarding,
    privacy,
    settings,
)
from bot.render import reply
from bot.views.callbacks import (
    CARD_MORE,
    CARD_OPEN,
    CARD_SHOW,
    HELP_PAGE,
    LESSON_MOMENT,
    MENU_SHOW,
    SEP,
    SUPPORT,
)
from bot.views.commands import COMMANDS, LEARN, PRIVACY
from bot.views.common import PRIVATE_BUTTON_NOTICE, private_chat_screen, start_link

Verb = Callable[[Update, BotContext], Awaitable[None]]

# Personal: every command of these help sections, and the lead's commands (not in the menu).
PERSONAL_SECTIONS = frozenset({LEARN, PRIVACY})
LEAD_COMMANDS = ("lead", "cohorts", "cohort", "report")
# Buttons that show content only (cards, a card behind its content note, menus, and the support
# and disclosure screens). Every other button is personal, so a new
# feature's buttons are private unless added here.
PUBLIC_BUTTONS = frozenset({CARD_SHOW, CARD_MORE, CARD_OPEN, MENU_SHOW, SUPPORT, HELP_PAGE})
# "Support and contacts" (no lesson named): support is one tap away in every chat.
SUPPORT_BUTTON = LESSON_MOMENT
# `/start <payload>` in the private chat continues with these screens, which only show things
# (or ask before acting): a link posted in a group cannot make anyone resume, move on or erase.
CONTINUATIONS: dict[str, Verb] = {
    "today": onboarding.today,
    "progress": learning.show_progress,
    "confidence": confidence.my_confidence,
    "journal": learning.show_journal,
    "certificate": certificate.certificate,
    "leave": cohorts.leave,
    "settings": settings.settings,
    "pause": onboarding.pause,
    "restart": onboarding.restart,
    "stop": onboarding.stop,
    "mydata": privacy.send_my_data,
    "forget": privacy.ask_to_forget,
    "cohorts": cohorts.cohorts,
}
# The payload of a refused button's link: no continuation, the private chat's /start.
GENERIC_PAYLOAD = "hello"


def personal_commands() -> frozenset[str]:
    """Every command that is only answered in the person's private chat."""
    menu = {c.name for c in COMMANDS if c.section in PERSONAL_SECTIONS}
    return frozenset(menu | set(LEAD_COMMANDS))


def is_public_button(data: str | None) -> bool:
    """True for a button that may be pressed by anyone, anywhere (a card, a menu, support)."""
    prefix = (data or "").split(SEP, 1)[0]
    return prefix in PUBLIC_BUTTONS or data == SUPPORT_BUTTON


def in_owners_chat(update: Update) -> bool:
    """True when a button was pressed in the presser's own private chat with the bot."""
    query = update.callback_query
    message = query.message if query is not None else None
    if query is None or message is None:
        return False  # an inline message: no chat to own it
    chat = message.chat
    return chat.type == ChatType.PRIVATE and chat.id == query.from_user.id


class _PersonalButtonElsewhere(BaseHandler[Update, BotContext, None]):
    """Matches a press of a personal button outside its owner's private chat."""

    def check_update(self, update: object) -> bool:
        if not isinstance(update, Update) or update.callback_query is None:
            return False
        return not is_public_button(update.callback_query.data) and not in_owners_chat(update)


async def point_to_private_chat(update: Update, context: BotContext) -> None:
    """A personal command in a group: one line with a button that opens the private chat."""
    message = update.effective_message
    text = (message.text or "") if message is not None else ""
    command = text.split(maxsplit=1)[0].removeprefix("/").split("@")[0].lower()
    link = start_link(context.bot.username, command)
    await reply(update, private_chat_screen(link))


async def refuse_button(update: Update, context: BotContext) -> None:
    """A personal button pressed outside its owner's chat: a short notice, nothing else."""
    query = update.callback_query
    if query is not None:
        link = start_link(context.bot.username, GENERIC_PAYLOAD)
        await query.answer(PRIVATE_BUTTON_NOTICE, url=link)


async def continue_in_private(update: Update, context: BotContext) -> None:
    """`/start <command>` from a group's link: that screen, or the welcome for someone new."""
    user = update.effective_user
    payload = (context.args or [""])[0]
    context.args = []  # the continued command runs as if typed on its own
    step = CONTINUATIONS.get(payload)
    if user is None or step is None or not await context.services.privacy.holds_anything(user.id):
        await onboarding.start(update, context)
        return
    await step(update, context)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Registered before every feature: personal commands and buttons outside the private chat,
    and the continuation of a group's link in it."""
    elsewhere = filters.UpdateType.MESSAGES & ~filters.ChatType.PRIVATE
    continuation = filters.ChatType.PRIVATE & filters.Regex(
        r"^/start(?:@\w+)?\s+(?:" + "|".join(CONTINUATIONS) + r")\s*$"
    )
    return [
        CommandHandler(sorted(personal_commands()), point_to_private_chat, filters=elsewhere),
        _PersonalButtonElsewhere(refuse_button),
        CommandHandler("start", continue_in_private, filters=continuation),
    ]
