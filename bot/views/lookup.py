"""Workday lookups: cards, support and disclosure, menus, every card, search and inline results."""

from __future__ import annotations

from collections.abc import Sequence

from bot.content.html import html_to_text
from bot.content.schema import MENUS, Card, Content, Lesson, Support, SupportContact
from bot.core.dates import day
from bot.core.textclean import shorten
from bot.views.callbacks import (
    CARD_MORE,
    CARD_OPEN,
    CARD_SHOW,
    LESSON_MOMENT,
    LESSON_SHOW,
    MENU_SHOW,
    SUPPORT,
    SUPPORT_DISCLOSURE,
    encode,
)
from bot.views.screen import Button, InlineCard, Screen, escape


def _card_buttons(card: Card, content: Content, *, more: bool) -> tuple[tuple[Button, ...], ...]:
    rows: list[tuple[Button, ...]] = []
    if more and card.more:
        rows.append((Button("More detail", encode(CARD_MORE, card.id)),))
    for related_id in card.related:
        related = content.card(related_id)
        if related is not None:
            rows.append((Button(related.title, encode(CARD_SHOW, related.id)),))
    lessons = content.lessons_for_card(card.id)
    if lessons:
        rows.append((Button("Related lesson", encode(LESSON_SHOW, lessons[0].id)),))
    rows.append((Button(f"Back to {MENUS[card.menu]}", encode(MENU_SHOW, card.menu)),))
    return tuple(rows)


def _card_note(card: Card) -> str:
    return (
        f"<b>{escape(card.title)}</b>\n\n<b>Content note:</b> {card.content_note}\n\n"
        "<i>The card is shown only if you ask for it.</i>"
    )


def _moment_row() -> tuple[Button, ...]:
    return (Button("I need a moment", encode(LESSON_MOMENT)),)


def card_screen(card: Card, content: Content, *, opened: bool = False) -> Screen:
    """A lookup card: title and summary, with related cards, a related lesson and the way back.

    A card with a content note shows the note alone first; `opened` is the card after Show.
    """
    if card.content_note and not opened:
        return Screen(
            _card_note(card),
            (
                (Button("Show the card", encode(CARD_OPEN, card.id)),),
                (Button(f"Back to {MENUS[card.menu]}", encode(MENU_SHOW, card.menu)),),
                _moment_row(),
            ),
        )
    return Screen(
        f"<b>{escape(card.title)}</b>\n\n{card.summary}", _card_buttons(card, content, more=True)
    )


def card_more_screen(card: Card, content: Content) -> Screen:
    """The fuller version of a card (its summary when it has none)."""
    return Screen(
        f"<b>{escape(card.title)}</b>\n\n{card.more or card.summary}",
        (
            (Button("Summary", encode(CARD_OPEN if card.content_note else CARD_SHOW, card.id)),),
            *_card_buttons(card, content, more=False),
        ),
    )


def _contacts(contacts: Sequence[SupportContact]) -> str:
    return "\n".join(
        f"• <b>{escape(contact.name)}</b>: {contact.how}"
        + (f" – {contact.when}" if contact.when else "")
        for contact in contacts
    )


def support_screen(support: Support) -> Screen:
    """The one support screen: grounding, what this bot is not, who to contact (ours, then local).

    /support, "I need a moment", the safety check and inline mode all show this.
    """
    text = (
        f"<b>Take a moment</b>\n\n{support.grounding}\n\n{support.not_a_crisis_service}\n\n"
        f"{_contacts(support.contacts)}"
    )
    reviewed = f"Contacts last checked {day(support.last_reviewed)}"
    if support.local_contacts:
        text += f"\n\n<b>In your organisation</b>\n{_contacts(support.local_contacts)}"
        if support.local_last_reviewed is not None:
            reviewed += f" (your organisation's, {day(support.local_last_reviewed)})"
    return Screen(
        f"{text}\n\n<i>{reviewed}.</i>",
        ((Button("Responding to a disclosure", encode(SUPPORT, SUPPORT_DISCLOSURE)),),),
    )


def disclosure_screen(support: Support) -> Screen:
    """Someone told me they are being harmed: follow the organisation's safeguarding procedure."""
    text = f"<b>Responding to a disclosure</b>\n\n{support.disclosure}"
    local = [contact for contact in support.local_contacts if contact.safeguarding]
    if local:
        text += f"\n\n<b>Safeguarding in your organisation</b>\n{_contacts(local)}"
    return Screen(
        text,
        (
            (Button("How to listen and respond", encode(MENU_SHOW, "listen")),),
            (Button("Support and urgent contacts", encode(SUPPORT)),),
        ),
    )


def safety_listening_screen(content: Content) -> Screen:
    """After the support screen, for a practitioner's question: the listening card, as /listen."""
    card = menu_screen("listen", content)
    return Screen(
        card.text,
        (
            (Button("Responding to a disclosure", encode(SUPPORT, SUPPORT_DISCLOSURE)),),
            *card.buttons,
        ),
    )


def inline_support(support: Support) -> InlineCard:
    """The support screen as the first inline result when the safety check matches."""
    return InlineCard(
        id="support",
        title="Support and urgent contacts",
        description="This bot is not a crisis service. Who to contact now, and grounding.",
        text=support_screen(support).text,
    )


# --- Workday lookups: menus, every card, search results, inline results (issue 6) ----------------
# Menus come from the content: a menu's overview card (id == menu name) heads it, and its cards
# follow in the order Content.cards_in_menu gives. Search hits arrive already resolved to cards
# and lessons, so these functions stay pure.

ALL_MENUS = "all"  # MENU_SHOW payload for the menu of every menu (/cards); not a menu name
MAX_OTHER_MATCHES = 4
MAX_INLINE_DESCRIPTION = 100
_MAX_ECHO = 60  # how much of a person's query is echoed back


def _menu_rows(content: Content) -> tuple[tuple[Button, ...], ...]:
    """One button per menu that has cards, two to a row."""
    buttons = [
        Button(title, encode(MENU_SHOW, menu))
        for menu, title in MENUS.items()
        if content.cards_in_menu(menu)
    ]
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def _all_cards_row() -> tuple[Button, ...]:
    return (Button("All cards", encode(MENU_SHOW, ALL_MENUS)),)


def _echo(query: str) -> str:
    """A person's words, shortened and escaped, to show what was searched for."""
    return escape(shorten(" ".join(query.split()), _MAX_ECHO))


def menu_screen(menu: str, content: Content, *, opened: bool = False) -> Screen:
    """A lookup menu: its overview card, a button per card in it, its lesson, and every card.

    An overview card with a content note shows the note in its place until `opened`.
    """
    overview = content.card(menu)
    cards = [card for card in content.cards_in_menu(menu) if card is not overview]
    noted = overview is not None and bool(overview.content_note) and not opened
    if overview is None:
        text = f"<b>{escape(MENUS.get(menu, 'Cards'))}</b>"
        related: list[Card] = []
    else:
        text = (
            _card_note(overview)
            if noted
            else f"<b>{escape(overview.title)}</b>\n\n{overview.summary}"
        )
        related = [
            card
            for card in map(content.card, overview.related)
            if card is not None and card not in cards
        ]
    rows: list[tuple[Button, ...]] = []
    if noted and overview is not None:
        rows.append((Button("Show the card", encode(CARD_OPEN, overview.id)),))
    elif overview is not None and overview.more:
        rows.append((Button("More detail", encode(CARD_MORE, overview.id)),))
    rows += [(Button(card.title, encode(CARD_SHOW, card.id)),) for card in (*cards, *related)]
    lessons = content.lessons_for_card(overview.id) if overview is not None else []
    if lessons:
        rows.append((Button("Related lesson", encode(LESSON_SHOW, lessons[0].id)),))
    if noted:
        rows.append(_moment_row())
    rows.append(_all_cards_row())
    return Screen(text, tuple(rows))


def cards_screen(content: Content, *, share: bool = False, note: str | None = None) -> Screen:
    """/cards: every card listed by topic, a button per topic, and (optionally) a way to share."""
    lines = [note, ""] if note else []
    lines += ["<b>All cards</b>", "Choose a topic, or type a few words to search.", ""]
    for menu, title in MENUS.items():
        cards = content.cards_in_menu(menu)
        if cards:
            lines.append(f"<b>{escape(title)}</b>")
            lines.append(" · ".join(escape(card.title) for card in cards))
    rows = list(_menu_rows(content))
    if share:
        rows.append((Button("Share a card in another chat", switch_inline_query=""),))
    return Screen("\n".join(lines).strip(), tuple(rows))


def stage_hint_screen(content: Content) -> Screen:
    """/stage without a stage it knows: the three stages, gently."""
    stages = [card for card in content.cards_in_menu("stages") if card.id != "stages"]
    return Screen(
        "There are three stages of recovery. Type <code>/stage 1</code>, <code>/stage 2</code> or"
        " <code>/stage 3</code>, or choose one below.",
        (
            *((Button(card.title, encode(CARD_SHOW, card.id)),) for card in stages),
            (Button(MENUS["stages"], encode(MENU_SHOW, "stages")),),
        ),
    )


# The /start payload of the inline "nothing found" button: it opens the search prompt.
SEARCH_PAYLOAD = "search"
INLINE_NOTHING_FOUND = "Nothing found: search in the bot"


def search_prompt_screen(content: Content) -> Screen:
    """/search with no words: an example, and the topics to browse instead."""
    return Screen(
        "What would you like to look up? For example <code>/search stage 2</code>, or just type"
        " a few words to me.",
        _menu_rows(content),
    )


def no_match_screen(query: str, content: Content) -> Screen:
    """Nothing matched: say so kindly, suggest other words, and offer the topics."""
    return Screen(
        f"I couldn't find a card for <i>{_echo(query)}</i>. Fewer or different words may help,"
        " for example <i>stage 2</i>, <i>boundaries</i> or <i>listening</i>. Or choose a topic:"
        "\n\n<i>If you need support yourself, /support is always here.</i>",
        _menu_rows(content),
    )


def search_screen(
    query: str, best: Card | None, others: Sequence[Card | Lesson], content: Content
) -> Screen:
    """Search results: the best card in full, then up to four more matches as buttons."""
    others = list(others)[:MAX_OTHER_MATCHES]
    other_rows = tuple(
        (
            Button(item.title, encode(CARD_SHOW, item.id))
            if isinstance(item, Card)
            else Button(f"Lesson: {item.title}", encode(LESSON_SHOW, item.id)),
        )
        for item in others
    )
    if best is None:
        return Screen(
            f"These lessons match <i>{_echo(query)}</i>:", (*other_rows, _all_cards_row())
        )
    shown = menu_screen(best.id, content) if best.id == best.menu else card_screen(best, content)
    listed = {row[0].data for row in other_rows}
    own_rows = tuple(row for row in shown.buttons if not (len(row) == 1 and row[0].data in listed))
    text = shown.text
    if other_rows:
        text += "\n\n<i>Not quite it? Other matches are below.</i>"
    return Screen(text, (*other_rows, *own_rows))


def inline_card(card: Card) -> InlineCard:
    """A card as an inline-mode result that someone can send into any chat."""
    summary = shorten(" ".join(html_to_text(card.summary).split()), MAX_INLINE_DESCRIPTION)
    return InlineCard(
        id=card.id,
        title=card.title,
        description=summary,
        # Sent into another chat, where nothing can be held back: the note comes first.
        text=(f"<b>Content note:</b> {card.content_note}\n\n" if card.content_note else "")
        + f"<b>{escape(card.title)}</b>\n\n{card.summary}",
    )
