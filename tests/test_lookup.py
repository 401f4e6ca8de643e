"""Dialogues for workday lookups: every command, button and inline query, on the shipped content.

Plus the Lookup service against a real database: anonymous view counts and "most used".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.content.loader import load_content
from bot.content.schema import MENUS, Content
from bot.db.engine import create_engine, create_sessions
from bot.db.models import CardView
from bot.services.lookup import Lookup
from bot.views.checks import screen_problems
from bot.views.lookup import (
    MAX_INLINE_DESCRIPTION,
    MAX_OTHER_MATCHES,
    cards_screen,
    inline_card,
    menu_screen,
    no_match_screen,
    search_prompt_screen,
    search_screen,
    stage_hint_screen,
)
from tests.support.harness import USER, BotUnderTest, labels
from tests.support.search_table import TABLE

ROOT = Path(__file__).resolve().parent.parent
CONTENT = load_content(ROOT / "lessons")
COLLEAGUE = 2002  # someone who has never talked to the bot


def title(card_id: str) -> str:
    """A card's title, which is also its button label."""
    card = CONTENT.card(card_id)
    assert card is not None
    return card.title


async def inline(bot: BotUnderTest, query: str, user: int = USER) -> list[dict[str, object]]:
    """The user types `@bot query` in some chat; returns the results the bot offered."""
    update_id = bot.server.inline_query(user, query)
    await bot.sim.application.wait_finished(update_id, 5)
    answer = bot.server.inline_answers[-1]
    assert answer.user_id == user
    return answer.results


# --- Menu commands --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "menu", ["listen", "stages", "triangle", "attachment", "resilience", "questions", "wellbeing"]
)
async def test_each_menu_command_shows_its_overview_and_a_button_per_card(
    bot: BotUnderTest, menu: str
) -> None:
    [reply] = await bot.send(f"/{menu}")
    assert reply.plain_text.startswith(title(menu))
    shown = labels(reply)
    for card in CONTENT.cards_in_menu(menu)[1:]:
        assert card.title in shown
    assert shown[-1] == "All cards"


async def test_listen_shows_all_the_guidance_on_one_screen(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/listen")
    for point in ("Give them time", "Focus on listening", "Accept their feelings", "their words"):
        assert point in reply.plain_text
    assert "Only give advice if asked" in reply.plain_text
    [more] = await bot.press("More detail")
    assert more.message_id == reply.message_id  # edited in place
    assert "Safeguarding" in more.plain_text
    [back] = await bot.press("Summary")
    assert "Give them time" in back.plain_text


async def test_stages_has_a_button_for_each_stage_and_each_leads_back(bot: BotUnderTest) -> None:
    [menu] = await bot.send("/stages")
    # The overview card carries a content note: it shows in the summary's place until asked for.
    assert "Content note" in menu.plain_text
    assert labels(menu)[:4] == [
        "Show the card",
        title("stage-1"),
        title("stage-2"),
        title("stage-3"),
    ]
    [note] = await bot.press(title("stage-2"))
    assert note.message_id == menu.message_id
    assert "Content note" in note.plain_text and "Its main work" not in note.plain_text
    assert labels(note) == ["Show the card", f"Back to {MENUS['stages']}", "I need a moment"]
    [card] = await bot.press("Show the card", message=note)
    assert card.message_id == menu.message_id
    assert "remembrance and mourning" in card.plain_text and "Its main work" in card.plain_text
    assert {title("stage-1"), title("stage-3"), "Related lesson"} <= set(labels(card))
    [back] = await bot.press(f"Back to {MENUS['stages']}")
    assert back.plain_text.startswith(title("stages"))


@pytest.mark.parametrize(
    ("text", "card_id"),
    [
        ("/stage 1", "stage-1"),
        ("/stage 2", "stage-2"),
        ("/stage 3", "stage-3"),
        ("/stage two", "stage-2"),
        ("/stage2", "stage-2"),
        ("/stage@trauma_informed_bot 3", "stage-3"),
    ],
)
async def test_stage_n_shows_that_stage(bot: BotUnderTest, text: str, card_id: str) -> None:
    [reply] = await bot.send(text)
    assert reply.plain_text.startswith(title(card_id))
    assert f"Back to {MENUS['stages']}" in labels(reply)


@pytest.mark.parametrize("text", ["/stage", "/stage 4", "/stage 0", "/stage please"])
async def test_stage_without_a_known_stage_gets_a_kind_hint(bot: BotUnderTest, text: str) -> None:
    [reply] = await bot.send(text)
    assert "three stages" in reply.plain_text and "/stage 2" in reply.plain_text
    assert labels(reply)[:3] == [title("stage-1"), title("stage-2"), title("stage-3")]
    [card] = await bot.press(title("stage-3"))
    assert card.plain_text.startswith(title("stage-3"))


async def test_triangle_has_a_button_per_part(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/triangle")
    parts = ["triangle-instability", "triangle-trust", "triangle-working-through"]
    parts += ["triangle-insight", "triangle-future"]
    assert labels(reply)[:5] == [title(part) for part in parts]
    [part] = await bot.press(title("triangle-trust"))
    assert "routine" in part.plain_text


async def test_attachment_has_the_four_models(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/attachment")
    models = ["secure", "avoidant", "ambivalent", "disorganised"]
    assert labels(reply)[:4] == [title(f"attachment-{model}") for model in models]
    [model] = await bot.press(title("attachment-ambivalent"))
    assert "clingy" in model.plain_text


async def test_resilience_defines_it_and_leads_to_domains_and_building(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/resilience")
    assert "normal development under difficult conditions" in reply.plain_text
    assert {title("resilience-domains"), title("resilience-building")} <= set(labels(reply))


async def test_questions_are_grouped(bot: BotUnderTest) -> None:
    await bot.send("/questions")
    groups = [card.id for card in CONTENT.cards_in_menu("questions")[1:]]
    assert len(groups) >= 3
    [group] = await bot.press(title(groups[0]))
    assert "?" in group.plain_text


async def test_wellbeing(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/wellbeing")
    assert "supervision and debriefing" in reply.plain_text


# --- Buttons: related cards, related lesson, menus ------------------------------------------------


async def test_a_card_has_related_cards_a_related_lesson_and_the_way_back(
    bot: BotUnderTest,
) -> None:
    await bot.send("/attachment")
    [note] = await bot.press(title("attachment-disorganised"))
    assert "Content note" in note.plain_text
    [card] = await bot.press("Show the card", message=note)
    assert title("behaviour") in labels(card)
    [related] = await bot.press(title("behaviour"))
    assert related.plain_text.startswith(title("behaviour"))
    [lesson] = await bot.press("Related lesson")
    assert lesson.message_id != related.message_id  # the card stays; the lesson is a new message
    assert CONTENT.lessons_for_card("behaviour")[0].title in lesson.plain_text
    assert "Takeaway" in lesson.plain_text
    [back] = await bot.press(f"Back to {MENUS['basics']}", message=related)
    assert back.plain_text.startswith(title("basics"))


async def test_the_related_lesson_of_a_menu(bot: BotUnderTest) -> None:
    await bot.send("/stages")
    [lesson] = await bot.press("Related lesson")
    assert CONTENT.lessons_for_card("stages")[0].title in lesson.plain_text
    # Its content note comes first, alone; the lesson only on request.
    assert "Content note" in lesson.plain_text and "Takeaway" not in lesson.plain_text
    assert labels(lesson) == ["Show the lesson", "Skip", "I need a moment"]
    [shown] = await bot.press("Show the lesson", message=lesson)
    assert shown.message_id == lesson.message_id and "Takeaway" in shown.plain_text


async def test_cards_lists_every_card_and_opens_each_menu(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/cards")
    for card in CONTENT.cards:
        assert card.title in reply.plain_text
    assert [label for label in labels(reply) if label in MENUS.values()] == list(MENUS.values())
    assert "Share a card in another chat" in labels(reply)
    [menu] = await bot.press(MENUS["triangle"])
    assert menu.message_id == reply.message_id
    assert menu.plain_text.startswith(title("triangle"))
    [everything] = await bot.press("All cards")
    assert everything.plain_text == reply.plain_text


async def test_pressing_the_same_button_twice_changes_nothing(bot: BotUnderTest) -> None:
    [menu] = await bot.send("/stages")
    await bot.press(title("stage-1"))
    await bot.press(f"Back to {MENUS['stages']}")
    again = await bot.sim.press_data(USER, menu.message_id, "mn:stages")
    assert again == []  # Telegram's "message is not modified" is handled quietly...
    assert len(bot.server.callback_answers) == 3  # ...and every press is still answered
    [refused] = bot.server.rejected
    assert "not modified" in refused.description
    bot.server.rejected.clear()  # expected: Telegram refuses an identical edit


# --- Search ---------------------------------------------------------------------------------------


async def test_search_shows_the_best_card_then_other_matches(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/search stage 2")
    assert reply.plain_text.startswith(title("stage-2"))
    assert "Other matches" in reply.plain_text
    shown = labels(reply)
    assert title("stages") in shown
    assert f"Back to {MENUS['stages']}" in shown
    assert len(shown) == len(set(shown))  # a match is not listed twice


async def test_free_text_is_searched(bot: BotUnderTest) -> None:
    # (A question about a disclosure of harm gets the support screen first: tests/test_safety.py)
    [reply] = await bot.send("what do I say when someone tells me about their trauma")
    assert reply.plain_text.startswith(title("listen"))


async def test_free_text_with_typos(bot: BotUnderTest) -> None:
    [reply] = await bot.send("disorganized atachment")
    assert reply.plain_text.startswith(title("attachment-disorganised"))


async def test_a_lesson_in_the_results_opens_as_a_new_message(bot: BotUnderTest) -> None:
    [reply] = await bot.send("remembrance and mourning")
    lesson_buttons = [label for label in labels(reply) if label.startswith("Lesson: ")]
    assert lesson_buttons
    [lesson] = await bot.press(lesson_buttons[0])
    assert lesson.message_id != reply.message_id
    [lesson] = await bot.press("Show the lesson", message=lesson)  # past its content note
    assert "Takeaway" in lesson.plain_text


async def test_other_matches_open_in_place(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/search secure base")
    assert reply.plain_text.startswith(title("resilience-domains"))
    [other] = await bot.press(title("attachment-secure"))
    assert other.message_id == reply.message_id
    assert other.plain_text.startswith(title("attachment-secure"))


async def test_no_match_is_answered_kindly_with_the_menu(bot: BotUnderTest) -> None:
    [reply] = await bot.send("xyzzy plugh")
    assert "couldn't find" in reply.plain_text
    assert "xyzzy plugh" in reply.plain_text
    assert "/support" in reply.plain_text
    assert list(MENUS.values()) == labels(reply)
    [menu] = await bot.press(MENUS["listen"])
    assert menu.plain_text.startswith(title("listen"))


async def test_search_echoes_what_was_typed_safely(bot: BotUnderTest) -> None:
    [reply] = await bot.send("<b>zzqq</b> & qqzz")
    assert "&lt;b&gt;zzqq&lt;/b&gt; &amp; qqzz" in (reply.text or "")  # escaped for Telegram
    assert "<b>zzqq</b> & qqzz" in reply.plain_text


async def test_search_without_words_asks_for_some(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/search")
    assert "/search stage 2" in reply.plain_text
    assert labels(reply) == list(MENUS.values())


async def test_greetings_get_the_menu_not_a_random_card(bot: BotUnderTest) -> None:
    [reply] = await bot.send("hello")
    assert "couldn't find" in reply.plain_text


# --- Inline mode ----------------------------------------------------------------------------------


async def test_inline_query_offers_matching_cards_to_send(bot: BotUnderTest) -> None:
    results = await inline(bot, "stage 2")
    assert results[0]["id"] == "stage-2"
    first = results[0]
    assert first["type"] == "article" and first["title"] == title("stage-2")
    content = first["input_message_content"]
    assert isinstance(content, dict)
    assert content["parse_mode"] == "HTML"
    # Sent into another chat, where nothing can be held back: the card's note comes first.
    assert str(content["message_text"]).startswith("<b>Content note:</b>")
    assert f"<b>{title('stage-2')}</b>" in str(content["message_text"])
    assert len(str(first["description"])) <= 100
    answer = bot.server.inline_answers[-1]
    assert answer.is_personal is False and answer.cache_time == 300


async def test_inline_works_for_someone_who_never_subscribed(bot: BotUnderTest) -> None:
    results = await inline(bot, "boundries", user=COLLEAGUE)
    assert results[0]["id"] == "triangle-instability"
    assert bot.messages(COLLEAGUE) == []  # nothing was sent to them


async def test_inline_completes_a_half_typed_word(bot: BotUnderTest) -> None:
    results = await inline(bot, "resil")
    assert results[0]["id"] == "resilience"


async def test_inline_with_no_match_offers_nothing(bot: BotUnderTest) -> None:
    assert await inline(bot, "xyzzy plugh") == []


async def test_results_fit_telegrams_limits_for_every_card(bot: BotUnderTest) -> None:
    for query in ("", "attachment", "resilience", "stage", "triangle"):
        results = await inline(bot, query)
        assert 1 <= len(results) <= 50
        assert len({result["id"] for result in results}) == len(results)
    assert bot.server.rejected == []


async def test_empty_inline_query_offers_the_most_used_cards(bot: BotUnderTest) -> None:
    fresh = await inline(bot, "")
    assert [result["id"] for result in fresh][:3] == ["listen", "stages", "stage-1"]
    for _ in range(3):
        await bot.send("/stage 3")
    await bot.send("/triangle")
    await bot.send("/triangle", user=COLLEAGUE)
    used = await inline(bot, "", user=COLLEAGUE)
    assert [result["id"] for result in used][:3] == ["stage-3", "triangle", "listen"]
    assert bot.server.inline_answers[-1].cache_time == 60


async def test_a_card_sent_from_inline_mode_counts_as_used(bot: BotUnderTest) -> None:
    for _ in range(2):
        update_id = bot.server.send_update(
            {
                "chosen_inline_result": {
                    "result_id": "wellbeing",
                    "from": {"id": COLLEAGUE, "is_bot": False, "first_name": "Sam"},
                    "query": "self care",
                }
            }
        )
        await bot.sim.application.wait_finished(update_id, 5)
    assert (await inline(bot, ""))[0]["id"] == "wellbeing"


# --- Commands menu --------------------------------------------------------------------------------


async def test_lookup_commands_are_in_the_command_menu_and_help(bot: BotUnderTest) -> None:
    [request] = [r for r in bot.server.requests if r.method == "setMyCommands"]
    names = {command["command"] for command in request.params["commands"]}
    lookups = {"listen", "stages", "stage", "triangle", "attachment", "resilience"}
    assert lookups | {"questions", "wellbeing", "cards", "search"} <= names
    [reply] = await bot.send("/help")
    assert "Look things up" in reply.plain_text and "/cards" in reply.plain_text
    [everything] = await bot.press("All commands")
    assert "/stages" in everything.plain_text


# --- The service, on a real database --------------------------------------------------------------


@pytest.fixture
def content() -> Content:
    """The shipped content."""
    return CONTENT


async def test_views_are_counted_per_card_and_nothing_else(
    engine: AsyncEngine, content: Content
) -> None:
    lookup = Lookup(content, create_sessions(engine))
    for card_id in ("stage-2", "stage-2", "listen", "no-such-card"):
        await lookup.record_view(card_id)
    await lookup.flush()  # as it is at most a second later, and at shutdown
    async with create_sessions(engine)() as session:
        rows = {row.card_id: row.views for row in await session.scalars(select(CardView))}
        columns = set(CardView.__table__.columns.keys())
        total = await session.scalar(select(func.count()).select_from(CardView))
    assert rows == {"stage-2": 2, "listen": 1}
    assert total == 2
    assert columns == {"card_id", "views"}  # no person, no chat, no time
    most = [card.id for card in await lookup.most_used(4)]
    assert most[:3] == ["stage-2", "listen", "stages"]
    assert len(most) == 4


async def test_a_flush_adds_to_every_card_in_one_statement(
    engine: AsyncEngine, content: Content
) -> None:
    """Load profiling: a flush wrote one upsert per card shown that second, holding SQLite's
    one connection for a round trip each while every other update waited for it."""
    lookup = Lookup(content, create_sessions(engine))
    for card_id in ("stage-2", "listen"):
        await lookup.record_view(card_id)
    await lookup.flush()
    for card_id in ("stage-2", "stage-1", "listen", "listen", "stages"):
        await lookup.record_view(card_id)
    statements: list[str] = []

    def note(*args: Any) -> None:
        statements.append(str(args[2]).split()[0])

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    await lookup.flush()
    event.remove(engine.sync_engine, "before_cursor_execute", note)
    assert statements.count("INSERT") == 1
    async with create_sessions(engine)() as session:
        rows = {row.card_id: row.views for row in await session.scalars(select(CardView))}
    assert rows == {"stage-2": 2, "listen": 3, "stage-1": 1, "stages": 1}


async def test_lookups_survive_a_database_that_is_down(content: Content) -> None:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    lookup = Lookup(content, create_sessions(engine))
    try:
        await lookup.record_view("listen")  # logged, not raised
        most = await lookup.most_used(3)
    finally:
        await engine.dispose()
    assert [card.id for card in most] == ["listen", "stages", "stage-1"]
    assert lookup.search("stage 2")[0].id == "stage-2"


# --- Every lookup screen, rendered from the shipped content, as Telegram would check it -----------


def test_every_lookup_screen_is_valid_telegram() -> None:
    screens = {f"menu {menu}": menu_screen(menu, CONTENT) for menu in MENUS}
    screens["cards"] = cards_screen(CONTENT, note="A note.")
    screens["stage hint"] = stage_hint_screen(CONTENT)
    screens["search prompt"] = search_prompt_screen(CONTENT)
    screens["no match"] = no_match_screen("<b>x</b> & " * 40, CONTENT)
    lookup = Lookup(CONTENT, async_sessionmaker())  # search needs no database
    for query, _ in TABLE:
        found = lookup.find(query, others=MAX_OTHER_MATCHES)
        screens[f"search {query!r}"] = search_screen(query, found.best, found.others, CONTENT)
    for name, screen in screens.items():
        assert screen_problems(screen, "lookup", name) == [], name
    for card in CONTENT.cards:
        item = inline_card(card)
        assert len(item.text) <= 4096 and len(item.description) <= MAX_INLINE_DESCRIPTION
        assert len(item.id.encode()) <= 64
