"""The daily lesson's buttons, reflections, reviews, /progress and /journal.

Buttons on the lesson message itself answer with a new message, so the lesson stays readable;
buttons on a follow-up screen (a check, feedback, a review) replace that screen in place. A
button whose data is malformed (forged) is answered with nothing; one naming a lesson that is no
longer in the course says so in a short notice.

"I need a moment" replies before touching the database, so the support text arrives even when the
database is unreachable.
"""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

from telegram import CallbackQuery, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, TypeHandler

from bot.content.schema import ID_PATTERN, Lesson, answer_order
from bot.context import BotContext
from bot.core.states import ConfidencePhase
from bot.core.textclean import RejectedText
from bot.handlers import parse
from bot.handlers.lookup import search_text, show_safety
from bot.handlers.text import FlowStep, pending
from bot.render import reply, show
from bot.results.learning import Touch
from bot.services.learning import REFLECT_FLOW
from bot.views.callbacks import (
    JOURNAL_PAGE,
    LESSON_ANSWER,
    LESSON_CHECK,
    LESSON_DONE,
    LESSON_MOMENT,
    LESSON_OPEN,
    LESSON_REFLECT,
    LESSON_SKIP,
    REFLECT_CANCEL,
    REVIEW_ANSWER,
    REVIEW_LATER,
    REVIEW_NEXT,
    SEP,
    decode,
)
from bot.views.confidence import invitation_screen
from bot.views.learning import (
    LESSON_GONE,
    check_answer_screen,
    done_screen,
    journal_screen,
    moment_screen,
    no_reviews_screen,
    progress_screen,
    reflect_screen,
    reflection_cancelled_screen,
    reflection_empty_screen,
    reflection_refused_screen,
    reflection_saved_screen,
    review_answer_screen,
    review_question_screen,
    reviews_later_screen,
    skip_screen,
    uncertain_lesson_screen,
)
from bot.views.lesson import lesson_body_screen, lesson_check_screen
from bot.views.screen import Screen

log = logging.getLogger(__name__)

REFLECT = REFLECT_FLOW
# A started reflection captures the learner's next text only for this long; after that the text
# is a search again (someone who pressed Reflect and walked away is not surprised days later).
REFLECTION_WINDOW_SECONDS = 12 * 3600
MAX_JOURNAL_PAGE = 10_000
_ID = re.compile(ID_PATTERN)
_INDEX = re.compile(r"^[0-9]{1,2}$")


# --- Parsing --------------------------------------------------------------------------------------


def _query(update: Update) -> CallbackQuery | None:
    return update.callback_query


async def _refuse(query: CallbackQuery) -> None:
    """Answer a malformed button with nothing at all."""
    await query.answer()


class _Press(NamedTuple):
    """A valid press of a lesson button: the query, its lesson, further arguments, who pressed."""

    query: CallbackQuery
    lesson: Lesson
    args: tuple[str, ...]
    user_id: int


async def _pressed(update: Update, context: BotContext, extra: int = 0) -> _Press | None:
    """The pressed lesson button (with `extra` further arguments), or None when the press was
    answered already (malformed or without a sender: silently; an unknown lesson: a notice)."""
    query = _query(update)
    if query is None:
        return None
    callback = decode(query.data)
    user_id = parse.user_id(update)
    if (
        callback is None
        or user_id is None
        or len(callback.args) != 1 + extra
        or not _ID.match(callback.args[0])
    ):
        await _refuse(query)
        return None
    lesson = context.services.content.lesson(callback.args[0])
    if lesson is None:
        await query.answer(LESSON_GONE)
        return None
    return _Press(query, lesson, callback.args[1:], user_id)


def _choice(lesson: Lesson, raw: str) -> int | None:
    if not _INDEX.match(raw):
        return None
    choice = int(raw)
    return choice if choice < len(lesson.check.answers) else None


def _on_lesson_message(query: CallbackQuery) -> bool:
    """True when the press came from the lesson message itself (it carries a Skip button)."""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return False
    return any(
        (button.callback_data or "").startswith(LESSON_SKIP + SEP)
        for row in markup.inline_keyboard
        for button in row
        if isinstance(button.callback_data, str)
    )


async def _respond(update: Update, query: CallbackQuery, screen: Screen) -> None:
    """A new message under the lesson; otherwise the follow-up screen is replaced."""
    if _on_lesson_message(query):
        await reply(update, screen)
    else:
        await show(update, screen)


# --- Lesson buttons -------------------------------------------------------------------------------


async def mark_done(update: Update, context: BotContext) -> None:
    """Done: record it kindly, then offer the day's review questions."""
    press = await _pressed(update, context)
    if press is None:
        return
    query, lesson, _, user_id = press
    await query.answer()
    touch = await context.services.learning.mark_done(user_id, lesson.id)
    await _respond(update, query, done_screen(touch, context.services.clock.now()))
    await _after(update, context, lesson, touch)


async def skip_lesson(update: Update, context: BotContext) -> None:
    """Skip: no reason asked, no penalty."""
    press = await _pressed(update, context)
    if press is None:
        return
    query, lesson, _, user_id = press
    await query.answer()
    touch = await context.services.learning.skip(user_id, lesson.id)
    await _respond(update, query, skip_screen(touch, context.services.clock.now()))
    await _after(update, context, lesson, touch)


async def _after(update: Update, context: BotContext, lesson: Lesson, touch: Touch) -> None:
    """After Done or Skip on the course's last lesson: the six-week follow-up is queued and the
    end self-assessment offered (once; skipping the last lesson still ends the course)."""
    lessons = context.services.content.lessons
    user_id = parse.user_id(update)
    if not touch.recorded or user_id is None or not lessons or lesson.id != lessons[-1].id:
        return
    if await context.services.confidence.reached_end(user_id):
        await reply(update, invitation_screen(ConfidencePhase.END))


async def take_a_moment(update: Update, context: BotContext) -> None:
    """I need a moment: grounding and contacts first (no database), then put the lesson aside."""
    query = _query(update)
    if query is None:
        return
    await query.answer()
    await reply(update, moment_screen(context.services.content.support))
    callback = decode(query.data)
    lesson_id = callback.args[0] if callback is not None and callback.args else None
    if lesson_id is None or context.services.content.lesson(lesson_id) is None:
        lesson_id = None
    user_id = parse.user_id(update)
    if user_id is None:
        return
    try:
        await context.services.learning.take_a_moment(user_id, lesson_id)
    except Exception as exc:  # the support text is out; pausing the lesson is best effort
        log.warning("could not put a lesson aside: %s", type(exc).__name__)


async def open_lesson(update: Update, context: BotContext) -> None:
    """Show the lesson: the lesson behind its content note replaces the note."""
    press = await _pressed(update, context)
    if press is None:
        return
    query, lesson, _, user_id = press
    await query.answer()
    await context.services.learning.open_lesson(user_id, lesson.id)
    content = context.services.content
    screen = lesson_body_screen(
        lesson,
        course_position=content.lesson_index(lesson.id) + 1,
        course_length=len(content.lessons),
    )
    await show(update, screen)


async def start_reflection(update: Update, context: BotContext) -> None:
    """Reflect: show the prompt; the learner's next text becomes their private reflection."""
    press = await _pressed(update, context)
    if press is None:
        return
    query, lesson, _, user_id = press
    await query.answer()
    stamp = int(context.services.clock.now().timestamp())
    keeps = await context.services.learning.start_reflection(
        user_id, lesson.id, pending(REFLECT, f"{lesson.id}{SEP}{stamp}")
    )
    await _respond(update, query, reflect_screen(lesson, can_keep=keeps))


async def cancel_reflection(update: Update, context: BotContext) -> None:
    """Cancel a started reflection: nothing is saved."""
    query = _query(update)
    user_id = parse.user_id(update)
    if query is None or user_id is None:
        return
    await query.answer()
    callback = decode(query.data)
    lesson_id = callback.args[0] if callback is not None and callback.args else None
    outcome = await context.services.learning.stop_reflection(user_id, lesson_id)
    await show(update, reflection_cancelled_screen(outcome))


async def save_reflection(update: Update, context: BotContext, argument: str) -> None:
    """The text after Reflect: store it privately (the free-text router calls this)."""
    message = update.effective_message
    user_id = parse.user_id(update)
    if message is None or message.text is None or user_id is None:
        return
    lesson_id, _, stamp = argument.partition(SEP)
    now = context.services.clock.now().timestamp()
    if not stamp.isdigit() or now - int(stamp) > REFLECTION_WINDOW_SECONDS:
        # Too long ago to be the reply to the prompt: this text is a search after all.
        await context.services.learning.stop_reflection(user_id)
        await search_text(update, context)
        return
    # Safety first, but the reflection is still kept as the learner asked: the acknowledgement
    # points to support, calmly. Only the match is counted; nothing about it is stored.
    found = context.services.safety.check(message.text)
    try:
        saved = await context.services.learning.save_reflection(
            user_id, lesson_id or None, message.text
        )
    except RejectedText:
        await reply(update, reflection_refused_screen(lesson_id or None))
        return
    except ValueError:
        await reply(update, reflection_empty_screen(lesson_id or None))
        return
    if saved is None:  # the learner erased their data meanwhile: treat it as any other text
        if found is not None:
            await show_safety(update, context, found)
        else:
            await search_text(update, context)
        return
    await reply(
        update,
        reflection_saved_screen(truncated=saved.truncated, support=found is not None),
    )


# --- Checks and reviews ---------------------------------------------------------------------------


async def open_check(update: Update, context: BotContext) -> None:
    """Quick check (and Try again): the question with a button per answer."""
    press = await _pressed(update, context)
    if press is None:
        return
    query, lesson, _, user_id = press
    await query.answer()
    await context.services.learning.open_lesson(user_id, lesson.id)
    await _respond(update, query, lesson_check_screen(lesson, answer_order(lesson, user_id)))


async def answer_check(update: Update, context: BotContext) -> None:
    """An answer to a lesson's check: feedback for the choice; the answer is recorded."""
    press = await _pressed(update, context, extra=1)
    if press is None:
        return
    query, lesson, (raw,), user_id = press
    choice = _choice(lesson, raw)
    if choice is None:
        await _refuse(query)
        return
    await query.answer()
    result = await context.services.learning.answer_check(user_id, lesson.id, choice)
    order = answer_order(lesson, user_id)
    await _respond(update, query, check_answer_screen(lesson, choice, result, order))


async def next_review(update: Update, context: BotContext) -> None:
    """Answer now / Next question: the next review question due today, if any."""
    query = _query(update)
    user_id = parse.user_id(update)
    if query is None or user_id is None:
        return
    await query.answer()
    question = await context.services.learning.next_review(user_id)
    lesson = context.services.content.lesson(question.lesson_id) if question else None
    if question is None or lesson is None:
        await show(update, no_reviews_screen())
        return
    order = answer_order(lesson, user_id)
    await show(update, review_question_screen(lesson, question.number, question.of, order))


async def later_reviews(update: Update, context: BotContext) -> None:
    """Not today / Not now: the reviews wait, nothing is recorded."""
    query = _query(update)
    if query is None:
        return
    await query.answer()
    await show(update, reviews_later_screen())


async def answer_review(update: Update, context: BotContext) -> None:
    """An answer to a review question: feedback, the review moved on, maybe the next one."""
    press = await _pressed(update, context, extra=1)
    if press is None:
        return
    query, lesson, (raw,), user_id = press
    choice = _choice(lesson, raw)
    if choice is None:
        await _refuse(query)
        return
    await query.answer()
    result = await context.services.learning.answer_check(user_id, lesson.id, choice, review=True)
    order = answer_order(lesson, user_id)
    await show(update, review_answer_screen(lesson, choice, result, order))


# --- Commands -------------------------------------------------------------------------------------


async def show_progress(update: Update, context: BotContext) -> None:
    """/progress: lessons done, streak, checks mastered, reflections, next lesson."""
    user_id = parse.user_id(update)
    if user_id is None:
        return
    progress = await context.services.learning.progress(user_id)
    await reply(update, progress_screen(progress, context.services.clock.now()))


async def show_journal(update: Update, context: BotContext) -> None:
    """/journal: the learner's own reflections, newest first."""
    user_id = parse.user_id(update)
    if user_id is None:
        return
    page = await context.services.learning.journal(user_id)
    await reply(
        update, journal_screen(page, context.services.content, context.services.clock.now())
    )


async def turn_journal_page(update: Update, context: BotContext) -> None:
    """Newer / Older in the journal."""
    query = _query(update)
    user_id = parse.user_id(update)
    if query is None or user_id is None:
        return
    callback = decode(query.data)
    raw = callback.args[0] if callback is not None and len(callback.args) == 1 else ""
    if not raw.isdigit() or int(raw) > MAX_JOURNAL_PAGE:
        await _refuse(query)
        return
    await query.answer()
    page = await context.services.learning.journal(user_id, int(raw))
    await show(update, journal_screen(page, context.services.content, context.services.clock.now()))


# --- Registration ---------------------------------------------------------------------------------

# The free-text router hands a learner's next text to these flows (see bot.handlers.text).
TEXT_FLOWS: dict[str, FlowStep] = {REFLECT: save_reflection}


def _button(prefix: str) -> str:
    """A callback pattern for one prefix, with or without arguments."""
    return f"^{re.escape(prefix)}(?:{re.escape(SEP)}|$)"


# After every feature has answered (the guard's finishing step runs later still).
OFFER_GROUP = 500


async def offer_uncertain_lesson(update: Update, context: BotContext) -> None:
    """After any reply in a private chat: offer, once, a lesson that may not have arrived."""
    chat = update.effective_chat
    if chat is None or chat.type != "private" or update.effective_user is None:
        return
    try:
        lesson_id = await context.services.delivery.take_uncertain_offer(chat.id)
    except Exception as exc:  # an offer is a courtesy: never an apology for it
        log.warning("uncertain lessons unreadable: %s", type(exc).__name__)
        return
    lesson = context.services.content.lesson(lesson_id) if lesson_id else None
    if lesson is not None:
        await reply(update, uncertain_lesson_screen(lesson))


def after_reply_handlers() -> list[tuple[BaseHandler[Update, BotContext, None], int]]:
    """Handlers that run after the reply, with their group."""
    return [(TypeHandler(Update, offer_uncertain_lesson), OFFER_GROUP)]


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Lesson buttons, reviews, /progress and /journal."""
    return [
        CallbackQueryHandler(take_a_moment, pattern=_button(LESSON_MOMENT)),
        CallbackQueryHandler(mark_done, pattern=_button(LESSON_DONE)),
        CallbackQueryHandler(skip_lesson, pattern=_button(LESSON_SKIP)),
        CallbackQueryHandler(open_lesson, pattern=_button(LESSON_OPEN)),
        CallbackQueryHandler(start_reflection, pattern=_button(LESSON_REFLECT)),
        CallbackQueryHandler(cancel_reflection, pattern=_button(REFLECT_CANCEL)),
        CallbackQueryHandler(open_check, pattern=_button(LESSON_CHECK)),
        CallbackQueryHandler(answer_check, pattern=_button(LESSON_ANSWER)),
        CallbackQueryHandler(next_review, pattern=_button(REVIEW_NEXT)),
        CallbackQueryHandler(later_reviews, pattern=_button(REVIEW_LATER)),
        CallbackQueryHandler(answer_review, pattern=_button(REVIEW_ANSWER)),
        CallbackQueryHandler(turn_journal_page, pattern=_button(JOURNAL_PAGE)),
        CommandHandler("progress", show_progress),
        CommandHandler("journal", show_journal),
    ]
