"""Safety first: crisis and safeguarding language brings the support screen before anything else.

The table is the contract for lessons/safety.yaml and bot/content/safety.py: every positive matches
(in ordinary wording, misspelt, with or without apostrophes), practitioner questions are recognised
as such (the listening card follows), and none of the negatives triggers, the course's own
vocabulary above all. Dialogues then check every path a text takes: typed text, /search, inline
queries and reflections.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.content.safety import SafetyCheck, SafetyRules, compile_pattern
from bot.core.clock import FakeClock
from bot.db.engine import Base
from bot.db.models import Reflection
from bot.sandbox.fake_telegram.records import FakeMessage
from bot.views.checks import check_course, load_course, screen_problems
from bot.views.lookup import (
    disclosure_screen,
    inline_support,
    safety_listening_screen,
    support_screen,
)
from tests.support.factories import count, deliver, make_learner
from tests.support.harness import USER, BotUnderTest, bot_under_test, labels, production_log
from tests.support.search_table import TABLE as SEARCH_TABLE

ROOT = Path(__file__).resolve().parent.parent
CONTENT = load_course(ROOT / "lessons")

# (text, category): first person, third person, misspelt, no apostrophes, curly apostrophes.
POSITIVES = [
    ("I want to kill myself", "suicide"),
    ("i want to kill myself", "suicide"),
    ("Im going to kill myself", "suicide"),
    ("I’m going to kill myself", "suicide"),
    ("im gonna kil myself", "suicide"),
    ("I'm thinking about killing myself", "suicide"),
    ("kms", "suicide"),
    ("suicide", "suicide"),
    ("Suicidal thoughts", "suicide"),
    ("feeling sucidal", "suicide"),
    ("i keep thinking about suicde", "suicide"),
    ("suiside", "suicide"),
    ("I want to end my life", "suicide"),
    ("I want to die", "suicide"),
    ("I wanna die", "suicide"),
    ("i wish i was dead", "suicide"),
    ("everyone would be better off without me", "suicide"),
    ("I don't want to be alive anymore", "suicide"),
    ("I DONT WANT TO LIVE", "suicide"),
    ("i dont want to be here anymore", "suicide"),
    ("there's no reason to live", "suicide"),
    ("I can't go on", "suicide"),
    ("she tried to take her own life", "suicide"),
    ("my friend is talking about suicide", "suicide"),
    ("thinking about unaliving myself", "suicide"),
    ("self harm", "self-harm"),
    ("self-harm", "self-harm"),
    ("selfharm", "self-harm"),
    ("Self Harming", "self-harm"),
    ("I've been cutting myself again", "self-harm"),
    ("I want to hurt myself", "self-harm"),
    ("i keep harming myself", "self-harm"),
    ("I'm going to take an overdose", "self-harm"),
    ("she's cutting her arms", "self-harm"),
    ("I am in danger", "danger"),
    ("I'm not safe at home", "danger"),
    ("I don't feel safe", "danger"),
    ("he's going to kill me", "danger"),
    ("my husband threatened to kill me", "danger"),
    ("I'm scared to go home", "danger"),
    ("he has a knife", "danger"),
    ("someone is following me", "danger"),
    ("I was raped", "abuse"),
    ("i was rapped", "abuse"),
    ("rape", "abuse"),
    ("i was sexually assaulted last night", "abuse"),
    ("I am being abused", "abuse"),
    ("someone is abusing me", "abuse"),
    ("my partner hits me", "abuse"),
    ("my boyfriend beat me", "abuse"),
    ("he touched me inappropriately", "abuse"),
    ("I'm in an abusive relationship", "abuse"),
    ("I was abused as a child", "abuse"),
    ("my mum is being beaten by her boyfriend", "abuse"),
    ("a child told me they are being hurt at home", "abuse"),
    ("a pupil told me her dad hits her", "disclosure"),
    ("what do I say when someone tells me about abuse", "disclosure"),
    ("a young person disclosed that she was raped", "abuse"),
]

# Practitioners asking what to do: the support screen, then the listening card.
PRACTITIONER = [
    "a child told me they are being hurt at home",
    "what do I say when someone discloses self-harm",
    "what do i say when someone discloses self harm",
    "a young person disclosed that she was raped",
    "my client told me he wants to kill himself",
    "a pupil told me her dad hits her",
    "what do I say when someone tells me about abuse",
    "I think a child in my class is being abused",
    "what should I do if someone tells me they are suicidal",
    "how do I respond when a young person says they self harm",
    "my client is suicidal",
    "I'm worried about a child who says they want to die",
    "a resident disclosed that her son hits her",
]

# Someone speaking for themselves: the support screen only, never a card after it.
FIRST_PERSON = [
    "I want to kill myself",
    "I was raped",
    "my partner hits me",
    "I'm not safe at home",
    "I was abused as a child",
    "he's going to kill me",
    "I've been cutting myself again",
]

# Must not trigger: the three, the course's own vocabulary and everyday idiom.
NEGATIVES = [
    "killing time",
    "a stage of recovery",
    "hurt feelings",
    "stage one safety",
    "how do I help someone feel safe",
    "safety plan",
    "safe harbour",
    "what is a secure base",
    "self care for staff",
    "self-esteem",
    "self regulation",
    "how do I respond to a disclosure",
    "talking about trauma",
    "disorganised attachment",
    "I'm in danger of burning out",
    "this lesson really hit me",
    "that touched me deeply",
    "I killed it at work today",
    "this rota is killing me",
    "I'm dying to know more about attachment",
    "I hurt my back lifting boxes",
    "behaviour is communication",
    "kid kicking off",
    "he pushes everyone away",
    "I'm struggling to cope",
    "substance misuse",
    "drugs and alcohol",
    "bullying",
    "domestic abuse",
    "abuse",
    "safeguarding",
    "I've overdone it this week",
    "flashbacks and nightmares",
    "why do I keep doing this",
    "what stage is she in",
    "he's willing himself to keep going",
    "she told me about her trauma",
    "the grapes were nice",
    "therapeutic relationships",
    "a child who is afraid of their carer",
]


@pytest.fixture(scope="module")
def check() -> SafetyCheck:
    """The check the bot builds at start-up, from the shipped rules."""
    return SafetyCheck(CONTENT.safety)


def test_the_table_is_big_enough() -> None:
    assert len(POSITIVES) >= 40 and len(NEGATIVES) >= 25
    assert len({text for text, _ in POSITIVES}) == len(POSITIVES)
    assert len(set(NEGATIVES)) == len(NEGATIVES)
    assert {category for _, category in POSITIVES} == {
        "suicide",
        "self-harm",
        "danger",
        "abuse",
        "disclosure",
    }


@pytest.mark.parametrize(("text", "category"), POSITIVES)
def test_every_positive_matches_its_category(check: SafetyCheck, text: str, category: str) -> None:
    found = check.check(text)
    assert found is not None, text
    assert found.category == category


@pytest.mark.parametrize("text", PRACTITIONER)
def test_practitioner_questions_are_recognised(check: SafetyCheck, text: str) -> None:
    found = check.check(text)
    assert found is not None and found.practitioner, text


@pytest.mark.parametrize("text", FIRST_PERSON)
def test_someone_speaking_for_themselves_is_not_asked_a_practitioners_question(
    check: SafetyCheck, text: str
) -> None:
    found = check.check(text)
    assert found is not None and not found.practitioner, text


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_negative_triggers(check: SafetyCheck, text: str) -> None:
    assert check.check(text) is None, text


def test_the_search_tables_everyday_queries_do_not_trigger(check: SafetyCheck) -> None:
    # How people look things up (tests/support/search_table.py); a query about self-harm or a
    # disclosure of abuse is a safety matter and brings the support screen first, by design.
    safety_matters = (
        "self harm",
        "self-injury",
        "abuse",
        "discloses",
        "hurt at home",
        "suicid",
        "raped",
    )
    everyday = [q for q, _ in SEARCH_TABLE if not any(word in q for word in safety_matters)]
    assert len(everyday) >= 60
    assert [query for query in everyday if check.check(query) is not None] == []


def test_no_card_or_lesson_title_triggers(check: SafetyCheck) -> None:
    titles = [card.title for card in CONTENT.cards] + [lesson.title for lesson in CONTENT.lessons]
    assert [title for title in titles if check.check(title) is not None] == []


def test_a_match_is_counted_and_nothing_else_is_kept() -> None:
    check = SafetyCheck(CONTENT.safety)
    check.check("I want to kill myself")
    check.check("I was raped")
    check.check("I was raped")
    check.check("stage 2")
    assert check.counts == {"suicide": 1, "abuse": 2}
    assert check.total == 3
    kept = repr(vars(check)) if hasattr(check, "__dict__") else repr(check.counts)
    assert "kill" not in kept and "raped" not in kept


def test_a_long_text_is_checked_to_its_end(check: SafetyCheck) -> None:
    text = "Today we talked about routines and boundaries in the team meeting. " * 50
    assert check.check(text) is None
    assert check.check(text + " Honestly I want to end my life.") is not None


# --- The phrases are content, validated like code -------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("I'm sad", "lower-case words"),
        ("(a|(b))", "nested"),
        ("(a|b", "never closed"),
        ("a)", "closes nothing"),
        ("{nobody} hits", "no word list 'nobody'"),
        ("dont go", "read as 'do not'"),
        ("!of", "matches nothing"),
    ],
)
def test_a_bad_pattern_says_what_is_wrong(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_pattern(pattern, {"someone": ["he"]}, {"dont": "do not"})


@pytest.fixture
def lessons(tmp_path: Path) -> Path:
    """A copy of the shipped lessons to break."""
    import shutil

    target = tmp_path / "lessons"
    shutil.copytree(ROOT / "lessons", target)
    return target


def _edit(lessons: Path, change: object) -> None:
    path = lessons / "safety.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_the_shipped_rules_pass_the_content_check() -> None:
    assert check_course(ROOT / "lessons") == []
    assert isinstance(CONTENT.safety, SafetyRules)


def test_an_example_that_no_longer_matches_fails_the_content_check(lessons: Path) -> None:
    _edit(lessons, lambda data: data["examples"]["match"].append("a sentence about nothing"))
    problems = [str(p) for p in check_course(lessons)]
    assert any(
        p.startswith("lessons/safety.yaml: examples.match.8:") and "matches no pattern" in p
        for p in problems
    ), problems


def test_a_negative_example_that_matches_fails_the_content_check(lessons: Path) -> None:
    _edit(lessons, lambda data: data["examples"]["no_match"].append("I want to die"))
    problems = [str(p) for p in check_course(lessons)]
    assert any("examples.no_match.8" in p and "'suicide'" in p for p in problems), problems


def test_a_broken_pattern_fails_the_content_check(lessons: Path) -> None:
    _edit(lessons, lambda data: data["categories"][0]["patterns"].append("(kill"))
    problems = [str(p) for p in check_course(lessons)]
    assert any("categories.0.patterns.14" in p and "never closed" in p for p in problems), problems


def test_a_card_title_that_triggers_fails_the_content_check(lessons: Path) -> None:
    path = lessons / "cards" / "listen.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["title"] = "Suicidal thoughts"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    problems = [str(p) for p in check_course(lessons)]
    assert any(
        p.startswith("lessons/cards/listen.yaml: title:") and "safety phrases" in p
        for p in problems
    ), problems


def test_a_missing_safety_file_stops_loading(lessons: Path) -> None:
    (lessons / "safety.yaml").unlink()
    problems = [str(p) for p in check_course(lessons)]
    assert any(p.startswith("lessons/safety.yaml: (file): cannot be read") for p in problems)


# --- Dialogues: typed text, /search, inline mode, reflections -------------------------------------

SUPPORT_TEXT = support_screen(CONTENT.support).text
COLLEAGUE = 2002  # has never used the bot


def is_support(message: FakeMessage) -> bool:
    """The support screen: grounding, nobody monitors it, the contacts."""
    text = message.plain_text
    return (
        message.text == SUPPORT_TEXT
        and "not a crisis service" in text
        and "nobody monitors" in text
        and "999" in text
        and "116 123" in text
    )


def card_title(card_id: str) -> str:
    card = CONTENT.card(card_id)
    assert card is not None
    return card.title


@pytest.mark.parametrize(
    "text", ["I want to kill myself", "self harm", "suicide", "I was raped", "Im not safe at home"]
)
async def test_crisis_words_typed_get_the_support_screen_and_no_card(
    bot: BotUnderTest, text: str
) -> None:
    replies = await bot.send(text, user=COLLEAGUE)  # someone who never started the course
    assert len(replies) == 1
    assert is_support(replies[0])
    assert "couldn't find" not in replies[0].plain_text
    for card in CONTENT.cards:
        assert not replies[0].plain_text.startswith(card.title)


async def test_search_command_checks_safety_first(bot: BotUnderTest) -> None:
    [reply] = await bot.send("/search I want to kill myself")
    assert is_support(reply)
    [reply] = await bot.send("/search stage 2")
    assert reply.plain_text.startswith(card_title("stage-2"))


async def test_a_practitioners_question_gets_support_then_the_listening_card(
    bot: BotUnderTest,
) -> None:
    support, listening = await bot.send("what do I say when someone discloses self-harm")
    assert is_support(support)
    assert listening.plain_text.startswith(card_title("listen"))
    assert "Give them time" in listening.plain_text
    assert labels(listening)[0] == "Responding to a disclosure"


async def test_a_disclosure_by_someone_else_gets_support_then_the_listening_card(
    bot: BotUnderTest,
) -> None:
    support, listening = await bot.send("a child told me they are being hurt at home")
    assert is_support(support)
    assert listening.plain_text.startswith(card_title("listen"))
    [disclosure] = await bot.press("Responding to a disclosure", message=listening)
    assert disclosure.plain_text.startswith("Responding to a disclosure")
    assert "Follow your organisation's safeguarding procedure" in disclosure.plain_text
    assert "999" in disclosure.plain_text
    [menu] = await bot.press("How to listen and respond", message=disclosure)
    assert menu.plain_text.startswith(card_title("listen"))


async def test_the_support_screen_leads_to_the_disclosure_screen_and_back(
    bot: BotUnderTest,
) -> None:
    [support] = await bot.send("/support")
    assert labels(support) == ["Responding to a disclosure"]
    [disclosure] = await bot.press("Responding to a disclosure", message=support)
    assert "safeguarding procedure" in disclosure.plain_text
    [again] = await bot.press("Support and urgent contacts", message=disclosure)
    assert is_support(again)


async def test_inline_puts_the_support_screen_first(bot: BotUnderTest) -> None:
    update_id = bot.server.inline_query(COLLEAGUE, "I want to kill myself")
    await bot.sim.application.wait_finished(update_id, 5)
    [support] = bot.server.inline_answers[-1].results
    assert support["id"] == "support"
    content = support["input_message_content"]
    assert isinstance(content, dict)
    assert content["message_text"] == SUPPORT_TEXT and content["parse_mode"] == "HTML"
    assert bot.messages(COLLEAGUE) == []


async def test_inline_for_a_practitioner_offers_support_then_the_listening_card(
    bot: BotUnderTest,
) -> None:
    update_id = bot.server.inline_query(COLLEAGUE, "a pupil told me her dad hits her")
    await bot.sim.application.wait_finished(update_id, 5)
    results = bot.server.inline_answers[-1].results
    assert [result["id"] for result in results] == ["support", "listen"]


async def test_a_reflection_that_matches_is_saved_and_points_to_support(
    bot: BotUnderTest,
) -> None:
    await make_learner(bot)
    lesson = await deliver(bot, "welcome")
    await bot.press("Reflect", message=lesson)
    words = "Honestly some days I want to die, the shift was so hard"
    [ack] = await bot.send(words)
    assert "Saved privately" in ack.plain_text
    assert "Nobody reads reflections" in ack.plain_text
    assert labels(ack) == ["Support and urgent contacts"]
    page = await bot.runtime.services.learning.journal(USER)
    assert [entry.text for entry in page.entries] == [words]  # kept exactly as written
    [support] = await bot.press("Support and urgent contacts", message=ack)
    assert is_support(support)


async def test_an_ordinary_reflection_gets_the_ordinary_acknowledgement(
    bot: BotUnderTest,
) -> None:
    await make_learner(bot)
    lesson = await deliver(bot, "welcome")
    await bot.press("Reflect", message=lesson)
    [ack] = await bot.send("I killed it at work today, and I felt safe to say so")
    assert ack.plain_text == "Saved privately in your /journal. Thank you for taking the time."
    assert ack.buttons == []
    assert await count(bot, Reflection) == 1


async def _rows(bot: BotUnderTest) -> dict[str, int]:
    async with bot.runtime.sessions() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


async def test_nothing_about_a_match_is_stored_or_logged_beyond_a_counter(
    bot: BotUnderTest,
) -> None:
    secret = "canary-crisis: I want to kill myself after what Tamsin did"
    await make_learner(bot)
    before = await _rows(bot)
    with production_log([]) as log:
        await bot.send(secret)
        await bot.send("/search I was raped by canary-Oswin")
        bot.server.inline_query(USER, "canary-inline suicidal")
        await bot.send("/help")  # the inline answer has been handled by now
    after = await _rows(bot)
    changed = {name for name in after if after[name] != before[name]}
    assert changed <= {"processed_updates"}  # the guard's update ids, kept for every update
    for word in ("Tamsin", "Oswin", "canary-inline", "kill myself", "raped", "suicid"):
        assert word not in log.getvalue()
    assert dict(bot.runtime.services.safety.counts) == {"suicide": 2, "abuse": 1}


async def test_a_deployments_own_contacts_are_on_the_support_and_disclosure_screens(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    local = tmp_path / "our-support.yaml"
    local.write_text(
        yaml.safe_dump(
            {
                "contacts": [
                    {"name": "Employee assistance", "how": "call <b>0800 111 222</b>"},
                    {
                        "name": "Council safeguarding hub",
                        "how": "call <b>0300 123 456</b>",
                        "when": "to report a concern about a child or adult",
                        "safeguarding": True,
                    },
                ],
                "last_reviewed": "2026-12-01",
            }
        ),
        encoding="utf-8",
    )
    async with bot_under_test(database_url, clock, support_file=local) as bot:
        [support] = await bot.send("I want to kill myself")
        text = support.plain_text
        assert "116 123" in text and "Employee assistance" in text and "0300 123 456" in text
        assert "1 December 2026" in text
        [disclosure] = await bot.press("Responding to a disclosure", message=support)
        assert "Council safeguarding hub" in disclosure.plain_text
        assert "Employee assistance" not in disclosure.plain_text
        [moment] = await bot.send("/support")
        assert "Employee assistance" in moment.plain_text


async def test_safety_and_disclosure_screens_are_valid_telegram() -> None:
    screens = {
        "support": support_screen(CONTENT.support),
        "disclosure": disclosure_screen(CONTENT.support),
        "listening": safety_listening_screen(CONTENT),
    }
    for name, screen in screens.items():
        assert screen_problems(screen, "safety", name) == [], name
    assert len(inline_support(CONTENT.support).text) <= 4096


async def test_safety_comes_first_even_when_the_database_is_down(clock: FakeClock) -> None:
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:9/nothing"
    async with bot_under_test(unreachable, clock) as down:
        replies = await down.send("I want to kill myself")
        assert [is_support(m) for m in replies] == [True]
        support, listening = await down.send("a child told me they are being hurt at home")
        assert is_support(support) and listening.plain_text.startswith(card_title("listen"))
        [disclosure] = await down.press("Responding to a disclosure", message=support)
        assert "safeguarding procedure" in disclosure.plain_text
        [card] = await down.send("stage 2")  # lookups need no database
        assert "went wrong" not in card.plain_text and "Stage 2" in card.plain_text
        assert down.server.rejected == []
