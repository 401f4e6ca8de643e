"""Telegram's command menus, per role: the learners' menu is the default; a lead's or an
admin's is set in their own private chat (BotCommandScopeChat), when the bot starts and whenever
a role is given or taken away.

A menu that cannot be set (Telegram down, a chat the bot never talked to) is logged and left: it
is a convenience, and the commands themselves check the role on every use. An admin named in
ADMIN_TELEGRAM_IDS who has not opened a chat with the bot yet ("chat not found" at start-up) gets
their menu with their first /start.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import BadRequest, TelegramError

from bot.context import BotContext, Services
from bot.render import unreachable
from bot.results.roles import NONE
from bot.views.commands import COMMANDS, Command, menu

log = logging.getLogger(__name__)
# The table a lead's role lives in, as /forget reports it: erasing it takes the lead menu away.
LEAD_ROLE_TABLE = "leads"


def bot_commands(commands: tuple[Command, ...]) -> list[BotCommand]:
    """The commands as setMyCommands takes them."""
    return [BotCommand(c.name, c.description) for c in commands]


async def apply_menu(bot: Bot, chat_id: int, role: str) -> None:
    """Set (or, for a learner, remove) the menu in one person's private chat."""
    scope = BotCommandScopeChat(chat_id)
    try:
        if role == NONE:
            await bot.delete_my_commands(scope=scope)
        else:
            await bot.set_my_commands(bot_commands(menu(role)), scope=scope)
    except BadRequest as exc:
        if not unreachable(exc):
            log.warning("command menu for a %s not updated: %s", role, exc.message)
        else:  # an admin by configuration who has not opened the chat yet: set at their /start
            log.info("command menu for a %s waits for their first /start", role)
    except TelegramError as exc:
        log.warning("command menu for a %s not updated: %s", role, type(exc).__name__)


async def refresh_menu(context: BotContext, telegram_user_id: int) -> None:
    """Bring one person's menu in line with their role now (after it was given or removed)."""
    try:
        role = await context.services.leads.role(telegram_user_id)
    except Exception as exc:  # the change itself is done; the menu can follow at start-up
        log.warning("role unreadable, command menu not updated: %s", type(exc).__name__)
        return
    await apply_menu(context.bot, telegram_user_id, role)


async def set_all_menus(bot: Bot, services: Services) -> None:
    """At start-up: the learners' menu as the default, then every lead's and admin's own."""
    try:
        await bot.set_my_commands(bot_commands(COMMANDS))
    except TelegramError as exc:
        log.warning("default command menu not set: %s", type(exc).__name__)
    try:
        holders = await services.leads.role_holders()
    except Exception as exc:
        log.warning("roles unreadable, lead menus not set: %s", type(exc).__name__)
        return
    for telegram_user_id, role in holders:
        await apply_menu(bot, telegram_user_id, role)
