"""Workday lookups: menu commands, /stage N, /cards, /search, card and menu buttons, inline mode.

Nothing here needs the person to have subscribed: lookups read the content, and the only thing
written is an anonymous per-card view count (see bot.services.lookup). Every text is checked for
crisis and safeguarding words first (bot.content.safety): a match brings the support screen instead
of a search, and counts nothing but the match itself.
"""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import InlineQueryLimit, ParseMode
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    InlineQueryHandler,
)

from bot.content.safety import SafetyMatch
from bot.context import BotContext
from bot.handlers import parse
from bot.render import reply, show
from bot.views.callbacks import CARD_MORE, CARD_OPEN, CARD_SHOW, LESSON_SHOW, MENU_SHOW, SEP
from bot.views.lesson import lesson_screen
from bot.views.lookup import (
    ALL_MENUS,
    INLINE_NOTHING_FOUND,
    MAX_OTHER_MATCHES,
    SEARCH_PAYLOAD,
    card_more_screen,
    card_screen,
    cards_screen,
    inline_card,
    inline_support,
    menu_screen,
    no_match_screen,
    safety_listening_screen,
    search_prompt_screen,
    search_screen,
    stage_hint_screen,
    support_screen,
)
from bot.views.screen import InlineCard, Screen

# Commands that open a menu, by the menu they open (the command is the menu's name).
MENU_COMMANDS = (
    "listen",
    "stages",
    "triangle",
    "attachment",
    "resilience",
    "questions",
    "wellbeing",
)
STAGES = {
    "1": "stage-1",
    "2": "stage-2",
    "3": "stage-3",
    "one": "stage-1",
    "two": "stage-2",
    "three": "stage-3",
    "i": "stage-1",
    "ii": "stage-2",
    "iii": "stage-3",
}
INLINE_RESULTS = 10  # well within Telegram's 50; a phone shows about five at once
INLINE_CACHE_SECONDS = 300
MOST_USED_CACHE_SECONDS = 60


# --- Commands -------------------------------------------------------------------------------------


async def open_menu(update: Update, context: BotContext) -> None:
    """Show the menu a command names (/listen, /stages, /triangle ...)."""
    menu = parse.command(update)
    await reply(update, menu_screen(menu, context.services.content))
    await context.services.lookup.record_view(menu)


async def open_stage(update: Update, context: BotContext) -> None:
    """Show one stage of recovery (/stage 2, also /stage2); a gentle hint for anything else."""
    command = parse.command(update)
    wanted = command.removeprefix("stage") or parse.argument(update).casefold().split(" ")[0]
    content = context.services.content
    card = content.card(STAGES.get(wanted, ""))
    if card is None:
        await reply(update, stage_hint_screen(content))
        return
    await reply(update, card_screen(card, content))
    await context.services.lookup.record_view(card.id)


async def list_cards(update: Update, context: BotContext) -> None:
    """Show every card, by topic."""
    share = bool(context.bot.supports_inline_queries)
    await reply(update, cards_screen(context.services.content, share=share))


async def search_command(update: Update, context: BotContext) -> None:
    """Search for the words after /search."""
    query = parse.argument(update)
    if not query:
        await reply(update, search_prompt_screen(context.services.content))
        return
    await _search(update, context, query)


async def search_text(update: Update, context: BotContext) -> None:
    """Search for free text that is not part of a flow (the free-text router calls this)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    await _search(update, context, message.text)


async def show_safety(update: Update, context: BotContext, found: SafetyMatch) -> None:
    """The support screen, then (for a practitioner's question) the listening card; no search."""
    content = context.services.content
    await reply(update, support_screen(content.support))
    if found.practitioner:
        await reply(update, safety_listening_screen(content))


async def safety_only(update: Update, context: BotContext) -> bool:
    """The safety check alone, for when nothing else can run (the database is down)."""
    message = update.effective_message
    found = context.services.safety.check(message.text) if message and message.text else None
    if found is not None:
        await show_safety(update, context, found)
    return found is not None


async def _search(update: Update, context: BotContext, query: str) -> None:
    found_safety = context.services.safety.check(query)
    if found_safety is not None:
        await show_safety(update, context, found_safety)
        return
    lookup = context.services.lookup
    found = lookup.find(query, others=MAX_OTHER_MATCHES)
    if found.best is None and not found.others:
        await reply(update, no_match_screen(query, context.services.content))
        return
    screen = search_screen(query, found.best, found.others, context.services.content)
    await reply(update, screen)
    if found.best is not None:
        await lookup.record_view(found.best.id)


# --- Buttons --------------------------------------------------------------------------------------


def _payload(update: Update) -> str:
    callback = parse.pressed(update)
    return callback.args[0] if callback is not None and callback.args else ""


async def show_card(update: Update, context: BotContext) -> None:
    """Show the card a button names (an overview card shows as its menu)."""
    card_id = await _show_card(update, context, opened=False)
    if card_id is not None:
        await context.services.lookup.record_view(card_id)


async def open_card(update: Update, context: BotContext) -> None:
    """Show the card: the card behind its content note replaces the note."""
    await _show_card(update, context, opened=True)  # counted when the note was shown


async def _show_card(update: Update, context: BotContext, *, opened: bool) -> str | None:
    """Show the pressed card (its note first unless `opened`); the id shown, None if it is gone."""
    await parse.quiet(update)
    content = context.services.content
    card = content.card(_payload(update))
    if card is None:
        await show(update, _gone(context))
        return None
    screen = (
        menu_screen(card.id, content, opened=opened)
        if card.id == card.menu
        else card_screen(card, content, opened=opened)
    )
    await show(update, screen)
    return card.id


async def show_card_more(update: Update, context: BotContext) -> None:
    """Show the fuller version of a card."""
    await parse.quiet(update)
    content = context.services.content
    card = content.card(_payload(update))
    if card is None:
        await show(update, _gone(context))
        return
    await show(update, card_more_screen(card, content))
    await context.services.lookup.record_view(card.id)


async def show_menu(update: Update, context: BotContext) -> None:
    """Show the menu a button names, or every card."""
    await parse.quiet(update)
    content = context.services.content
    menu = _payload(update)
    if menu == ALL_MENUS:
        share = bool(context.bot.supports_inline_queries)
        await show(update, cards_screen(content, share=share))
        return
    if content.card(menu) is None:
        await show(update, _gone(context))
        return
    await show(update, menu_screen(menu, content))
    await context.services.lookup.record_view(menu)


async def show_lesson(update: Update, context: BotContext) -> None:
    """Send a card's related lesson as a new message, so the card stays where it was."""
    await parse.quiet(update)
    content = context.services.content
    lesson = content.lesson(_payload(update))
    if lesson is None:
        await show(update, _gone(context))
        return
    await reply(update, lesson_screen(lesson))


def _gone(context: BotContext) -> Screen:
    """For a button whose card or lesson no longer exists (the content changed since)."""
    return cards_screen(
        context.services.content,
        note="That has changed since the button was made. Here is everything there is now.",
    )


# --- Inline mode ----------------------------------------------------------------------------------


async def answer_inline(update: Update, context: BotContext) -> None:
    """Offer matching cards (the most used ones for an empty query) to send into any chat."""
    query = update.inline_query
    if query is None:
        return
    lookup, content = context.services.lookup, context.services.content
    words = query.query.strip()
    limit = min(INLINE_RESULTS, InlineQueryLimit.RESULTS)
    found = context.services.safety.check(words) if words else None
    items: list[InlineCard]
    if found is not None:
        # Safety first: the support screen heads the results; a practitioner also gets /listen.
        listen = content.card("listen")
        items = [inline_support(content.support)]
        if found.practitioner and listen is not None:
            items.append(inline_card(listen))
    else:
        cards = lookup.search_cards(words, limit) if words else await lookup.most_used(limit)
        items = [inline_card(card) for card in cards]
    more = InlineKeyboardMarkup(
        [[InlineKeyboardButton("More cards", url=f"https://t.me/{context.bot.username}")]]
    )
    results = [
        InlineQueryResultArticle(
            id=item.id,
            title=item.title,
            description=item.description,
            input_message_content=InputTextMessageContent(
                item.text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            ),
            reply_markup=more if content.card(item.id) is not None else None,
        )
        for item in items
    ]
    # Nothing found: a button into the private chat, where the search prompt offers the topics.
    into_bot = (
        InlineQueryResultsButton(text=INLINE_NOTHING_FOUND, start_parameter=SEARCH_PAYLOAD)
        if not results
        else None
    )
    await query.answer(
        results,
        cache_time=INLINE_CACHE_SECONDS if words else MOST_USED_CACHE_SECONDS,
        is_personal=False,
        button=into_bot,
    )


async def open_search(update: Update, context: BotContext) -> None:
    """The search prompt and the topics (/start search, from the inline "nothing found")."""
    await reply(update, search_prompt_screen(context.services.content))


async def count_inline_choice(update: Update, context: BotContext) -> None:
    """Count a card someone sent from inline mode (arrives only with /setinlinefeedback on)."""
    chosen = update.chosen_inline_result
    if chosen is not None:
        await context.services.lookup.record_view(chosen.result_id)


# --- Registration ---------------------------------------------------------------------------------


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Lookup handlers; free text reaches `search_text` through the router (bot/handlers/text)."""
    return [
        CommandHandler(list(MENU_COMMANDS), open_menu),
        CommandHandler(["stage", "stage1", "stage2", "stage3"], open_stage),
        CommandHandler("cards", list_cards),
        CommandHandler("search", search_command),
        CallbackQueryHandler(show_card, pattern=f"^{CARD_SHOW}{SEP}"),
        CallbackQueryHandler(open_card, pattern=f"^{CARD_OPEN}{SEP}"),
        CallbackQueryHandler(show_card_more, pattern=f"^{CARD_MORE}{SEP}"),
        CallbackQueryHandler(show_menu, pattern=f"^{MENU_SHOW}{SEP}"),
        CallbackQueryHandler(show_lesson, pattern=f"^{LESSON_SHOW}{SEP}"),
        InlineQueryHandler(answer_inline),
        ChosenInlineResultHandler(count_inline_choice),
    ]
