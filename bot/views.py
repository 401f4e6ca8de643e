"""Pure views: domain objects in, (HTML text, buttons) out. Shared by handlers and the scheduler.

Views never import telegram; handlers turn a Screen's buttons into an InlineKeyboardMarkup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.callbacks import (
    CARD_MORE,
    CARD_OPEN,
    CARD_SHOW,
    COURSE,
    LESSON_ANSWER,
    LESSON_CHECK,
    LESSON_DONE,
    LESSON_MOMENT,
    LESSON_OPEN,
    LESSON_REFLECT,
    LESSON_SHOW,
    LESSON_SKIP,
    MENU_SHOW,
    SETTINGS,
    SUPPORT,
    SUPPORT_DISCLOSURE,
    encode,
)
from bot.commands import Command
from bot.content import MENUS, Card, Content, Lesson, Support, SupportContact, html_to_text
from bot.textclean import shorten

MAX_MESSAGE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Button:
    """One inline button: a text label and exactly one of callback data, URL or inline query."""

    text: str
    data: str | None = None
    url: str | None = None
    switch_inline_query: str | None = None


@dataclass(frozen=True, slots=True)
class Screen:
    """A message to send: HTML text and rows of buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)


def escape(text: str) -> str:
    """Escape user-supplied text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


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


def help_screen(commands: Mapping[str, Sequence[Command]]) -> Screen:
    """One screen explaining every command, grouped by section."""
    lines = ["<b>How this bot works</b>", ""]
    for section, items in commands.items():
        lines.append(f"<b>{escape(section)}</b>")
        lines.extend(f"/{c.name} - {escape(c.description)}" for c in items)
        lines.append("")
    lines.append("You can also type a few words, such as <i>stage 2</i>, to look something up.")
    buttons = (
        (Button("Today's lesson", encode(COURSE, "today")),),
        (Button("Look something up", encode(MENU_SHOW, ALL_MENUS)),),
        (Button("Support and contacts", encode(LESSON_MOMENT)),),
    )
    return Screen("\n".join(lines).strip(), buttons)


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


# --- Course content: lessons, lookup cards, support ----------------------------------------------
# Authored content (lesson bodies, card summaries, support text) is trusted HTML that the content
# checker has already validated, so it is inserted as is; plain-text fields (titles) are escaped.

_LETTERS = "ABCD"


def _lesson_button(label: str, action: str, lesson: Lesson) -> Button:
    return Button(label, encode(action, lesson.id))


def _lesson_heading(lesson: Lesson, course_position: int | None, course_length: int | None) -> str:
    heading = f"<b>{escape(lesson.title)}</b>"
    if course_position is not None and course_length is not None:
        heading += f"\n<i>Lesson {course_position} of {course_length}</i>"
    return heading


def lesson_screen(
    lesson: Lesson, *, course_position: int | None = None, course_length: int | None = None
) -> Screen:
    """What a lesson sends first: its content note alone when it has one, else the lesson.

    course_position is 1-based (content.lesson_index(id) + 1). The note holds the lesson back:
    it comes only after Show the lesson; Skip and I need a moment work from the note as well.
    """
    if not lesson.content_note:
        return lesson_body_screen(
            lesson, course_position=course_position, course_length=course_length
        )
    return Screen(
        f"{_lesson_heading(lesson, course_position, course_length)}\n\n"
        f"<b>Content note:</b> {lesson.content_note}\n\n"
        "<i>The lesson is shown only if you ask for it. You can skip it without giving a"
        " reason, or take a moment first.</i>",
        (
            (_lesson_button("Show the lesson", LESSON_OPEN, lesson),),
            (_lesson_button("Skip", LESSON_SKIP, lesson),),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


def lesson_body_screen(
    lesson: Lesson, *, course_position: int | None = None, course_length: int | None = None
) -> Screen:
    """The lesson itself: title, body and takeaway, with its buttons."""
    parts = [
        _lesson_heading(lesson, course_position, course_length),
        lesson.body,
        f"<b>Takeaway:</b> {lesson.takeaway}",
    ]
    return Screen(
        "\n\n".join(parts),
        (
            (
                _lesson_button("Reflect", LESSON_REFLECT, lesson),
                _lesson_button("Quick check", LESSON_CHECK, lesson),
            ),
            (
                _lesson_button("Done", LESSON_DONE, lesson),
                _lesson_button("Skip", LESSON_SKIP, lesson),
            ),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


NO_NAMES = "Please don't include names or details that could identify anyone you support."


def lesson_reflect_screen(lesson: Lesson) -> Screen:
    """The lesson's reflective prompt, inviting (never requiring) a written reply."""
    return Screen(
        f"<b>Reflect: {escape(lesson.title)}</b>\n\n{lesson.reflect}\n\n"
        "<i>Press Write a reflection to keep a few lines privately, or simply think it over."
        " Your reflections are yours: they are never shown to your team lead."
        f" {NO_NAMES}</i>",
        (
            # Text is captured only after this button (a reply without it is a search).
            (_lesson_button("Write a reflection", LESSON_REFLECT, lesson),),
            (
                _lesson_button("Quick check", LESSON_CHECK, lesson),
                _lesson_button("Done", LESSON_DONE, lesson),
            ),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


def _order(lesson: Lesson, order: Sequence[int] | None) -> Sequence[int]:
    """The answers' display order (answer indexes); the file's order when none is given."""
    count = len(lesson.check.answers)
    if order is None or sorted(order) != list(range(count)):
        return range(count)
    return order


def answer_letter(lesson: Lesson, choice: int, order: Sequence[int] | None = None) -> str:
    """The letter an answer was shown under, in this learner's order."""
    return _LETTERS[list(_order(lesson, order)).index(choice)]


def lettered_answers(
    lesson: Lesson, action: str, order: Sequence[int] | None
) -> tuple[str, tuple[Button, ...]]:
    """The answers as lettered lines in display order, and one button per letter.

    A button's data names the answer by its index in the file (a stable id), never by where it
    was shown, so an old message's buttons keep meaning the answer they showed.
    """
    shown = _order(lesson, order)
    answers = lesson.check.answers
    lines = "\n".join(
        f"<b>{_LETTERS[place]}.</b> {answers[index].text}" for place, index in enumerate(shown)
    )
    buttons = tuple(
        Button(_LETTERS[place], encode(action, lesson.id, index))
        for place, index in enumerate(shown)
    )
    return lines, buttons


def lesson_check_screen(lesson: Lesson, order: Sequence[int] | None = None) -> Screen:
    """The lesson's knowledge check: the question, lettered answers in the learner's order."""
    lines, buttons = lettered_answers(lesson, LESSON_ANSWER, order)
    return Screen(
        f"<b>Quick check: {escape(lesson.title)}</b>\n\n{lesson.check.question}\n\n{lines}",
        (buttons, (_lesson_button("I need a moment", LESSON_MOMENT, lesson),)),
    )


def lesson_answer_screen(lesson: Lesson, choice: int, order: Sequence[int] | None = None) -> Screen:
    """Feedback on the chosen answer (its index); a gentle "try again" when it is not the one."""
    check = lesson.check
    answer = check.answers[choice]
    # Authored feedback opens with its own verdict ("Yes." / "Not quite."); echo the choice.
    if choice == check.correct:
        first_row = (_lesson_button("Reflect", LESSON_REFLECT, lesson),)
    else:
        first_row = (_lesson_button("Try again", LESSON_CHECK, lesson),)
    return Screen(
        f"<b>{answer_letter(lesson, choice, order)}.</b> {answer.text}\n\n{answer.feedback}",
        (
            (*first_row, _lesson_button("Done", LESSON_DONE, lesson)),
            (_lesson_button("I need a moment", LESSON_MOMENT, lesson),),
        ),
    )


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


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def support_screen(support: Support) -> Screen:
    """The one support screen: grounding, what this bot is not, who to contact (ours, then local).

    /support, "I need a moment", the safety check and inline mode all show this.
    """
    text = (
        f"<b>Take a moment</b>\n\n{support.grounding}\n\n{support.not_a_crisis_service}\n\n"
        f"{_contacts(support.contacts)}"
    )
    reviewed = f"Contacts last checked {_day(support.last_reviewed)}"
    if support.local_contacts:
        text += f"\n\n<b>In your organisation</b>\n{_contacts(support.local_contacts)}"
        if support.local_last_reviewed is not None:
            reviewed += f" (your organisation's, {_day(support.local_last_reviewed)})"
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


@dataclass(frozen=True, slots=True)
class InlineCard:
    """A card offered in inline mode: result id, title and description, and the text sent."""

    id: str
    title: str
    description: str
    text: str


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


def slow_down_screen() -> Screen:
    """Told once to someone sending faster than the flood limit."""
    return Screen(
        "You're sending messages faster than I can keep up with, so I'll pause for a few"
        " seconds: what you send meanwhile won't be answered, so please send it again after."
        " /support still gets through."
    )


def reminder_screen(lesson: Lesson) -> Screen:
    """The one gentle reminder for a lesson not opened yet: no guilt, easy to turn off."""
    return Screen(
        f"Today's lesson is here whenever you have two minutes: <b>{escape(lesson.title)}</b>.\n\n"
        "No rush, and it's fine to skip it.",
        (
            (Button("Open the lesson", encode(COURSE, "today")),),
            (Button("No more reminders", encode(SETTINGS, "rem", "off")),),
        ),
    )


def auto_paused_screen() -> Screen:
    """Sent instead of a fourth lesson when the last three were left unopened."""
    return Screen(
        "I've paused your daily lessons for now, as the last few haven't been opened. "
        "That's completely fine: work and life get busy.\n\n"
        "Whenever you're ready, pick up where you left off. Nothing is lost, and there is no "
        "backlog waiting. /support is always there.",
        ((Button("Resume lessons", encode(COURSE, "resume")),),),
    )
