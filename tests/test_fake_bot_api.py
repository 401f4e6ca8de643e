"""The fake Bot API server, driven by a real telegram.Bot / Application over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram import error as tg_error
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.sandbox.fake_telegram.faults import (
    BadRequest,
    Delay,
    Disconnect,
    Forbidden,
    ServerError,
    TooManyRequests,
)
from bot.sandbox.fake_telegram.rules import EntityParseError, parse_html
from bot.sandbox.fake_telegram.server import FakeBotAPI

# PTB itself warns whenever it builds a RetryAfter (retry_after becomes a timedelta in v23).
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Deprecated since version v22\.2:telegram.warnings.PTBDeprecationWarning"
)

USER = 1001
OTHER = 1002
TOKEN = "123456:TEST-token"


@pytest.fixture
async def server() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as tg:
        yield tg


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(buttons)])


# --- basics -------------------------------------------------------------------------------------


async def test_get_me_and_base_urls(server: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.username, me.id, me.is_bot) == ("trauma_informed_bot", server.bot_id, True)
    assert server.base_url == f"http://127.0.0.1:{server.port}/bot"
    assert server.base_file_url == f"http://127.0.0.1:{server.port}/file/bot"
    assert server.tokens == {TOKEN}
    assert server.calls("getMe")[0].chat_id is None


async def test_send_html_message_is_stored_and_parsed_by_ptb(server: FakeBotAPI, bot: Bot) -> None:
    markup = keyboard(InlineKeyboardButton("Done", callback_data="ld:one"))
    sent = await bot.send_message(
        USER, "<b>Hello</b> &lt;you&gt; 🙂 <i>x</i>", parse_mode="HTML", reply_markup=markup
    )
    assert sent.text == "Hello <you> 🙂 x"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 5),
        ("italic", 15, 1),  # the emoji counts two UTF-16 units
    ]
    assert sent.reply_markup == markup
    assert sent.chat.type == "private" and sent.from_user and sent.from_user.is_bot
    stored = server.last_message(USER)
    assert stored.text == "<b>Hello</b> &lt;you&gt; 🙂 <i>x</i>"
    assert stored.plain_text == "Hello <you> 🙂 x"
    assert stored.parse_mode == "HTML"
    assert stored.button("Done")["callback_data"] == "ld:one"
    assert server.calls("sendMessage")[0].params["reply_markup"] == markup.to_dict()
    assert server.rejected == []


async def test_message_ids_increment_per_chat(server: FakeBotAPI, bot: Bot) -> None:
    first = await bot.send_message(USER, "one")
    second = await bot.send_message(USER, "two")
    elsewhere = await bot.send_message(OTHER, "one")
    assert (first.message_id, second.message_id, elsewhere.message_id) == (1, 2, 1)
    server.send_text(USER, "hi")  # user and bot share a private chat's sequence
    assert (await bot.send_message(USER, "three")).message_id == 4
    assert [m.plain_text for m in server.messages(USER)] == ["one", "two", "three"]


async def test_json_bodies_and_unknown_methods(server: FakeBotAPI) -> None:
    async with httpx.AsyncClient() as client:
        ok = await client.post(
            f"{server.base_url}{TOKEN}/sendMessage", json={"chat_id": USER, "text": "json"}
        )
        missing = await client.post(f"{server.base_url}{TOKEN}/sendTelepathy", data={"a": "1"})
    assert ok.json()["ok"] is True and ok.json()["result"]["text"] == "json"
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert [(r.method, r.error_code) for r in server.rejected] == [("sendTelepathy", 404)]


async def test_documents_and_photos_keep_bytes_and_filename(server: FakeBotAPI, bot: Bot) -> None:
    doc = await bot.send_document(USER, b"my,data\n", filename="export.csv", caption="Your data")
    photo = await bot.send_photo(USER, b"\x89PNG fake", filename="card.png")
    assert doc.document and doc.document.file_name == "export.csv"
    assert doc.caption == "Your data"
    assert photo.photo
    stored_doc, stored_photo = server.messages(USER)
    assert stored_doc.document and stored_doc.document.data == b"my,data\n"
    assert stored_doc.document.filename == "export.csv"
    assert stored_photo.photo and stored_photo.photo.data == b"\x89PNG fake"
    downloaded = await (await bot.get_file(doc.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"my,data\n"
    again = await bot.send_document(OTHER, doc.document.file_id)  # re-send by file_id
    assert again.document and again.document.file_id == doc.document.file_id


async def test_edits_and_deletes_change_the_current_state(server: FakeBotAPI, bot: Bot) -> None:
    markup = keyboard(InlineKeyboardButton("Next", callback_data="n"))
    sent = await bot.send_message(USER, "Step 1", reply_markup=markup)
    edited = await bot.edit_message_text("<b>Step 2</b>", USER, sent.message_id, parse_mode="HTML")
    assert isinstance(edited, type(sent)) and edited.text == "Step 2" and edited.edit_date
    state = server.last_message(USER)
    assert (state.plain_text, state.reply_markup, state.edit_count) == ("Step 2", None, 1)
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=markup)
    assert server.last_message(USER).buttons == [[{"text": "Next", "callback_data": "n"}]]
    assert await bot.delete_message(USER, sent.message_id)
    assert server.messages(USER) == []
    assert server.rejected == []


async def test_command_menus_per_chat_scope_resolve_as_telegram_does(
    server: FakeBotAPI, bot: Bot
) -> None:
    await bot.set_my_commands([BotCommand("start", "Begin")])
    await bot.set_my_commands(
        [BotCommand("start", "Begin"), BotCommand("cohorts", "Your cohorts")],
        scope=BotCommandScopeChat(USER),
    )
    # A private chat sees its own chat's menu, else the private chats' one, else the default.
    assert [c["command"] for c in server.menu_seen_in(USER)] == ["start", "cohorts"]
    assert [c["command"] for c in server.menu_seen_in(OTHER)] == ["start"]
    await bot.set_my_commands([BotCommand("help", "Help")], scope=BotCommandScopeAllPrivateChats())
    assert [c["command"] for c in server.menu_seen_in(OTHER)] == ["help"]
    got = await bot.get_my_commands(scope=BotCommandScopeChat(USER))
    assert [c.command for c in got] == ["start", "cohorts"]
    assert await bot.delete_my_commands(scope=BotCommandScopeChat(USER))
    assert [c["command"] for c in server.menu_seen_in(USER)] == ["help"]
    # A chat scope needs a chat id, and an unknown scope type is refused, as Telegram does.
    with pytest.raises(tg_error.BadRequest, match=r"(?i)chat not found"):
        await bot.set_my_commands([BotCommand("a", "b")], scope=BotCommandScopeChat(0))
    with pytest.raises(tg_error.BadRequest, match="scope"):
        await bot.set_my_commands([BotCommand("a", "b")], api_kwargs={"scope": {"type": "nope"}})
    assert len(server.rejected) == 2
    server.rejected.clear()


async def test_commands_and_webhook_housekeeping(server: FakeBotAPI, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Begin"), BotCommand("help", "Get help")])
    assert server.commands == [
        {"command": "start", "description": "Begin"},
        {"command": "help", "description": "Get help"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    await bot.set_my_commands([BotCommand("hilfe", "Hilfe")], language_code="de")
    assert server.commands_for(language_code="de") == [{"command": "hilfe", "description": "Hilfe"}]
    assert await bot.delete_my_commands()
    assert server.commands == []
    assert await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(tg_error.Conflict):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.close() and await bot.log_out()


# --- limits: each one the 400 Telegram would send ------------------------------------------------

LIMIT_CASES = [
    ("a" * 4097, None, "Bad Request: message is too long"),
    ("", None, "Bad Request: message text is empty"),
    ("<b> </b>", "HTML", "Bad Request: message must be non-empty"),
    (
        "<br>hi",
        "HTML",
        'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 0',
    ),
    (
        "<b>bold",
        "HTML",
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag b",
    ),
    (
        "<b>x</i>",
        "HTML",
        "Bad Request: can't parse entities: Unmatched end tag at byte offset 4, "
        'expected "</b>", found "</i>"',
    ),
    ("x</b>", "HTML", "Bad Request: can't parse entities: Unexpected end tag at byte offset 1"),
    (
        "1 < 2",
        "HTML",
        'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2',
    ),
    ("Tom & Jerry", "HTML", 'Bad Request: can\'t parse entities: Unescaped "&" at byte offset 4'),
    (
        '<span class="x">s</span>',
        "HTML",
        'Bad Request: can\'t parse entities: Tag "span" must '
        'have class "tg-spoiler" at byte offset 0',
    ),
    ("hi", "Shouting", "Bad Request: unsupported parse_mode Shouting"),
    (
        '<a href="https://t.me/trauma_informed_bot?start=a b">join</a>',
        "HTML",
        "Bad Request: START_PARAM_INVALID",
    ),
]


@pytest.mark.parametrize(
    ("text", "parse_mode", "description"), LIMIT_CASES, ids=[c[2][13:40] for c in LIMIT_CASES]
)
async def test_send_message_limits(
    server: FakeBotAPI, bot: Bot, text: str, parse_mode: str | None, description: str
) -> None:
    with pytest.raises(tg_error.BadRequest) as raised:
        await bot.send_message(USER, text, parse_mode=parse_mode)
    [rejection] = server.rejected
    assert (rejection.method, rejection.chat_id, rejection.error_code) == ("sendMessage", USER, 400)
    assert rejection.description.startswith(description)
    assert raised.value.message == tg_error.BadRequest(rejection.description).message
    assert server.messages(USER) == []


async def test_length_counts_visible_text_after_html(server: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(USER, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(USER, "&lt;" * 4096, parse_mode="HTML")
    with pytest.raises(tg_error.BadRequest, match=r"^Message is too long$"):
        await bot.send_message(USER, "&amp;" * 4097, parse_mode="HTML")
    assert len(server.messages(USER)) == 2


async def test_caption_limit(server: FakeBotAPI, bot: Bot) -> None:
    await bot.send_document(USER, b"x", filename="a.txt", caption="c" * 1024)
    with pytest.raises(tg_error.BadRequest, match=r"^Message caption is too long$"):
        await bot.send_photo(USER, b"x", filename="a.png", caption="c" * 1025)
    assert [r.method for r in server.rejected] == ["sendPhoto"]


@pytest.mark.parametrize(
    ("button", "description"),
    [
        ({"text": "x", "callback_data": "é" * 33}, "BUTTON_DATA_INVALID"),
        ({"text": "x", "callback_data": ""}, "BUTTON_DATA_INVALID"),
        (
            {"text": "x"},
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
        (
            {"text": "x", "callback_data": "a", "url": "https://example.org"},
            "can't parse inline keyboard button: exactly one of the optional fields must be used",
        ),
        ({"text": "x", "url": "example.org"}, "BUTTON_URL_INVALID"),
        (
            {"text": "x", "url": "https://t.me/trauma_informed_bot?start=" + "a" * 65},
            "START_PARAM_INVALID",
        ),
        ({"text": "x", "url": "https://t.me/trauma_informed_bot?start=a+b"}, "START_PARAM_INVALID"),
        (
            {"callback_data": "a"},
            'can\'t parse inline keyboard button: Field "text" must be of type String',
        ),
    ],
)
async def test_inline_keyboard_limits(
    server: FakeBotAPI, bot: Bot, button: dict[str, str], description: str
) -> None:
    with pytest.raises(tg_error.BadRequest):
        raw = {"inline_keyboard": [[button]]}  # raw: PTB's own types would not send some of these
        await bot.send_message(USER, "pick", reply_markup=raw)  # type: ignore[arg-type]
    [rejection] = server.rejected
    assert rejection.description.startswith("Bad Request: " + description)


async def test_callback_data_of_exactly_64_bytes_is_fine(server: FakeBotAPI, bot: Bot) -> None:
    deep_link = "https://t.me/trauma_informed_bot?start=" + "a" * 64
    markup = keyboard(
        InlineKeyboardButton("ok", callback_data="é" * 32),
        InlineKeyboardButton("invite", url=deep_link),
    )
    await bot.send_message(USER, "pick", reply_markup=markup)
    assert server.rejected == []


async def test_edit_limits(server: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(
        USER, "same", reply_markup=keyboard(InlineKeyboardButton("a", callback_data="a"))
    )
    with pytest.raises(tg_error.BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("new", USER, 999)
    with pytest.raises(tg_error.BadRequest, match=r"^Message is not modified: specified new"):
        await bot.edit_message_text("same", USER, sent.message_id, reply_markup=sent.reply_markup)
    with pytest.raises(tg_error.BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=sent.reply_markup)
    with pytest.raises(tg_error.BadRequest, match=r"^Message to delete not found$"):
        await bot.delete_message(USER, 999)
    server.send_text(USER, "mine")
    with pytest.raises(tg_error.BadRequest, match=r"^Message can't be edited$"):
        await bot.edit_message_text("theirs", USER, sent.message_id + 1)
    assert [r.method for r in server.rejected] == [
        "editMessageText",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
        "editMessageText",
    ]


async def test_unknown_chats(bot: Bot) -> None:
    with pytest.raises(tg_error.BadRequest, match=r"^Chat not found$"):
        await bot.send_message("@nobody", "hi")
    strict = FakeBotAPI(known_chats_only=True)
    async with strict, Bot(TOKEN, base_url=strict.base_url) as strict_bot:
        with pytest.raises(tg_error.BadRequest, match=r"^Chat not found$"):
            await strict_bot.send_message(USER, "hi")
        strict.add_user(USER)
        await strict_bot.send_message(USER, "hi")


async def test_command_limits(server: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(tg_error.BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start-Now", "x")])
    with pytest.raises(tg_error.BadRequest, match=r"(?i)BOT_COMMAND_DESCRIPTION_INVALID"):
        await bot.set_my_commands([BotCommand("start", "x" * 257)])
    assert server.commands == []


async def test_descriptions_per_language_and_their_limits(server: FakeBotAPI, bot: Bot) -> None:
    assert (await bot.get_my_description()).description == ""
    assert await bot.set_my_description("A learning tool.")
    assert await bot.set_my_short_description("Lessons.")
    assert await bot.set_my_description("Ein Lernwerkzeug.", language_code="de")
    assert (await bot.get_my_description()).description == "A learning tool."
    assert (await bot.get_my_description(language_code="de")).description == "Ein Lernwerkzeug."
    # A language without its own falls back to the default one, as Telegram shows it.
    assert (await bot.get_my_short_description(language_code="fr")).short_description == "Lessons."
    assert server.description() == "A learning tool." and server.description(short=True)
    with pytest.raises(tg_error.BadRequest, match=r"(?i)^description is too long"):
        await bot.set_my_description("x" * 513)
    with pytest.raises(tg_error.BadRequest, match=r"(?i)short_description is too long"):
        await bot.set_my_short_description("x" * 121)
    assert await bot.set_my_description("x" * 512) and await bot.set_my_short_description("y" * 120)
    assert await bot.set_my_description()  # none given: cleared
    assert (await bot.get_my_description()).description == ""


# --- the HTML parser (tdlib's rules) -------------------------------------------------------------


def test_parse_html_entities() -> None:
    text, entities = parse_html(
        '<a href="https://example.org/?a=1&amp;b=2">link</a> <tg-spoiler>s</tg-spoiler> '
        '<pre><code class="language-python">x = 1</code></pre> <code>c</code> '
        "<blockquote expandable>q</blockquote> &#128578;&#x41;&quot;"
    )
    assert text == 'link s x = 1 c q 🙂A"'
    assert entities == [
        {"offset": 0, "length": 4, "type": "text_link", "url": "https://example.org/?a=1&b=2"},
        {"offset": 5, "length": 1, "type": "spoiler"},
        {"offset": 7, "length": 5, "type": "pre", "language": "python"},
        {"offset": 13, "length": 1, "type": "code"},
        {"offset": 15, "length": 1, "type": "expandable_blockquote"},
    ]


def test_parse_html_nesting_and_case() -> None:
    text, entities = parse_html("<B>bold <I>both</I></B><u></u>")
    assert text == "bold both"
    assert entities == [
        {"offset": 0, "length": 9, "type": "bold"},
        {"offset": 5, "length": 4, "type": "italic"},
    ]


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("é<b", "Unclosed start tag at byte offset 2"),
        ("<a href=https://x>y</a>", "Unexpected end of name token at byte offset 8"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("<b =x>y</b>", 'Empty attribute name in the tag "b" at byte offset 0'),
    ],
)
def test_parse_html_errors(markup: str, message: str) -> None:
    with pytest.raises(EntityParseError, match=f"^{message}$"):
        parse_html(markup)


def test_bare_ampersand_is_allowed_when_not_strict() -> None:
    assert parse_html("Tom & Jerry &nbsp;", strict_ampersand=False) == ("Tom & Jerry &nbsp;", [])


# --- faults -------------------------------------------------------------------------------------


async def test_fault_too_many_requests(server: FakeBotAPI, bot: Bot) -> None:
    server.inject("sendMessage", fault=TooManyRequests(retry_after=7))
    with pytest.raises(tg_error.RetryAfter, match=r"Retry in 7 seconds"):
        await bot.send_message(USER, "hi")
    await bot.send_message(USER, "hi")  # times=1: the next call goes through
    assert len(server.messages(USER)) == 1
    assert [f.fault for f in server.faults_served] == [TooManyRequests(7)]
    assert server.rejected == []  # injected faults are not bot bugs


async def test_fault_forbidden_per_chat_until_cleared(server: FakeBotAPI, bot: Bot) -> None:
    server.inject(chat_id=USER, times=None, fault=Forbidden())
    for _ in range(2):
        with pytest.raises(tg_error.Forbidden, match=r"bot was blocked by the user"):
            await bot.send_message(USER, "hi")
    await bot.send_message(OTHER, "hi")
    server.clear_faults()
    await bot.send_message(USER, "hi")
    assert len(server.messages(USER)) == 1 and len(server.messages(OTHER)) == 1


async def test_fault_bad_request_and_server_error(server: FakeBotAPI, bot: Bot) -> None:
    server.inject("sendMessage", fault=BadRequest("Bad Request: chat not found"))
    server.inject("sendMessage", fault=ServerError(status=502))
    with pytest.raises(tg_error.BadRequest, match=r"^Chat not found$"):
        await bot.send_message(USER, "hi")
    with pytest.raises(tg_error.NetworkError) as raised:
        await bot.send_message(USER, "hi")
    assert not isinstance(raised.value, tg_error.BadRequest)
    assert server.messages(USER) == []


async def test_fault_delay_times_out_but_the_message_was_sent(server: FakeBotAPI, bot: Bot) -> None:
    server.inject("sendMessage", chat_id=USER, fault=Delay(0.5))
    with pytest.raises(tg_error.TimedOut):
        await bot.send_message(USER, "uncertain", read_timeout=0.05)
    assert [m.plain_text for m in server.messages(USER)] == ["uncertain"]


async def test_fault_disconnect_is_a_network_error_and_nothing_is_sent(
    server: FakeBotAPI, bot: Bot
) -> None:
    server.inject("sendMessage", fault=Disconnect())
    with pytest.raises(tg_error.NetworkError) as raised:
        await bot.send_message(USER, "lost")
    assert not isinstance(raised.value, tg_error.TimedOut | tg_error.BadRequest)
    assert server.messages(USER) == []
    await bot.send_message(USER, "next")  # the client recovers on a new connection
    assert [m.plain_text for m in server.messages(USER)] == ["next"]


async def test_fail_ratio_is_reproducible(server: FakeBotAPI, bot: Bot) -> None:
    async def outcomes() -> list[str]:
        results = []
        for n in range(30):
            try:
                await bot.send_message(USER, f"m{n}")
                results.append("ok")
            except tg_error.TelegramError as exc:
                results.append(type(exc).__name__)
        return results

    server.fail_ratio(0.3, seed=7)
    first = await outcomes()
    server.fail_ratio(0.3, seed=7)
    second = await outcomes()
    server.fail_ratio(0, seed=0)
    assert first == second
    assert 0 < first.count("ok") < 30
    assert set(first) <= {"ok", "RetryAfter", "NetworkError"}
    await bot.get_me()  # calls without a chat are not eligible by default


async def test_latency_is_added_to_each_call(server: FakeBotAPI, bot: Bot) -> None:
    server.latency = 0.05
    started = time.monotonic()
    await bot.send_message(USER, "slow")
    assert time.monotonic() - started >= 0.05


# --- users' side and long polling ---------------------------------------------------------------


async def test_long_polling_returns_as_soon_as_an_update_arrives(
    server: FakeBotAPI, bot: Bot
) -> None:
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, lambda: server.send_text(USER, "/start welcome", first_name="Sam"))
    started = time.monotonic()
    [update] = await bot.get_updates(timeout=5)
    assert time.monotonic() - started < 1
    assert update.message and update.message.text == "/start welcome"
    assert update.message.from_user and update.message.from_user.first_name == "Sam"
    assert [(e.type, e.length) for e in update.message.entities] == [("bot_command", 6)]


async def test_long_polling_honours_timeout(server: FakeBotAPI, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=timedelta(seconds=0.2)) == ()
    assert 0.15 <= time.monotonic() - started < 1


async def test_offsets_confirm_updates(server: FakeBotAPI, bot: Bot) -> None:
    first = server.send_text(USER, "one")
    second = server.send_text(USER, "two")
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates()] == [first, second]  # not confirmed
    assert [u.update_id for u in await bot.get_updates(offset=second)] == [second]
    assert [u["update_id"] for u in server.pending_updates] == [second]
    assert await bot.get_updates(offset=second + 1, timeout=0) == ()
    assert server.pending_updates == []


async def test_allowed_updates_filters(server: FakeBotAPI, bot: Bot) -> None:
    server.send_text(USER, "text")
    server.inline_query(USER, "listen")
    updates = await bot.get_updates(allowed_updates=["inline_query"])
    assert [u.inline_query is not None for u in updates] == [True]


async def test_a_second_poll_terminates_the_first(server: FakeBotAPI, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    async with Bot(TOKEN, base_url=server.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(tg_error.Conflict, match=r"terminated by other getUpdates request"):
        await first
    assert server.rejected == []  # a superseded poll is not a bot bug


async def test_updates_can_come_from_another_thread(server: FakeBotAPI, bot: Bot) -> None:
    threading.Timer(0.05, server.send_text, args=(USER, "from a thread")).start()
    [update] = await bot.get_updates(timeout=5)
    assert update.message and update.message.text == "from a thread"


async def test_non_text_messages_and_edits_are_valid_updates(server: FakeBotAPI, bot: Bot) -> None:
    server.send_sticker(USER)
    server.send_photo_message(USER, caption="look")
    server.send_voice(USER, duration=4)
    text_id = server.send_text(USER, "typo")
    server.edit_text(USER, 4, "fixed")
    server.send_update({"my_chat_member": {"bogus": True}, "update_id": 500})
    updates = await bot.get_updates(allowed_updates=["message", "edited_message"])
    assert updates[0].message and updates[0].message.sticker
    assert updates[1].message and updates[1].message.photo and updates[1].message.caption == "look"
    assert updates[2].message and updates[2].message.voice
    assert server.pending_updates[2]["message"]["voice"]["duration"] == 4
    assert updates[3].update_id == text_id
    assert updates[4].edited_message and updates[4].edited_message.text == "fixed"
    assert len(updates) == 5


async def test_press_and_answer_callback_query(server: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(
        USER, "Ready?", reply_markup=keyboard(InlineKeyboardButton("Yes", callback_data="y"))
    )
    with pytest.raises(LookupError):
        server.press(USER, sent.message_id + 1, "y")  # no such message
    server.press(USER, sent.message_id, "y")
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query and query.data == "y"
    assert isinstance(query.message, Message) and query.message.text == "Ready?"
    assert await bot.answer_callback_query(query.id, text="Saved")
    assert [(a.user_id, a.text) for a in server.callback_answers] == [(USER, "Saved")]
    with pytest.raises(tg_error.BadRequest, match=r"^Query is too old and response timeout"):
        await bot.answer_callback_query(query.id)  # a query is answered once
    server.press(USER, sent.message_id, "y")
    [later] = await bot.get_updates(offset=update.update_id + 1)
    assert later.callback_query
    with pytest.raises(tg_error.BadRequest, match=r"(?i)MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(later.callback_query.id, text="x" * 201)
    server.press(USER, sent.message_id, "forged:data")  # stale or forged data still arrives
    [forged] = await bot.get_updates(offset=later.update_id + 1)
    assert forged.callback_query and forged.callback_query.data == "forged:data"


async def test_inline_query_answer(server: FakeBotAPI, bot: Bot) -> None:
    server.inline_query(USER, "recovery")
    [update] = await bot.get_updates()
    assert update.inline_query and update.inline_query.query == "recovery"

    def article(n: int, result_id: str | None = None) -> InlineQueryResultArticle:
        content = InputTextMessageContent(f"<b>Card {n}</b>", parse_mode="HTML")
        return InlineQueryResultArticle(result_id or str(n), f"Card {n}", content)

    with pytest.raises(tg_error.BadRequest, match=r"(?i)RESULTS_TOO_MUCH"):
        await bot.answer_inline_query(update.inline_query.id, [article(n) for n in range(51)])
    with pytest.raises(tg_error.BadRequest, match=r"(?i)RESULT_ID_INVALID"):
        await bot.answer_inline_query(update.inline_query.id, [article(1, "x" * 65)])
    await bot.answer_inline_query(update.inline_query.id, [article(1), article(2)], cache_time=5)
    [answer] = server.inline_answers
    assert (answer.user_id, [r["id"] for r in answer.results], answer.cache_time) == (
        USER,
        ["1", "2"],
        5,
    )
    assert len(server.rejected) == 2


# --- a real Application end to end --------------------------------------------------------------


async def test_application_dialogue(server: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message
        await update.effective_message.reply_html(
            "<b>Welcome</b>",
            reply_markup=keyboard(InlineKeyboardButton("Begin", callback_data="b")),
        )

    async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query
        await query.answer()
        await query.edit_message_text("Lesson one")

    app: Application = (  # type: ignore[type-arg]
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(begin))
    async with app:
        assert app.updater
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        server.send_text(USER, "/start")
        reply = await server.wait_for_message(USER)
        assert reply.plain_text == "Welcome"
        server.press(USER, reply.message_id, "b")
        await server.wait_until(lambda: server.last_message(USER).plain_text == "Lesson one")
        await app.updater.stop()
        await app.stop()
    assert len(server.callback_answers) == 1
    assert server.rejected == []
    assert server.pending_updates == []  # the final getUpdates confirmed everything


async def test_wait_until_times_out(server: FakeBotAPI) -> None:
    with pytest.raises(TimeoutError):
        await server.wait_until(lambda: False, timeout=0.05)


async def test_a_group_chat_has_its_members_and_its_own_messages(
    server: FakeBotAPI, bot: Bot
) -> None:
    """Two people write in one group; the bot's reply and a press on it stay in the group."""
    group = -100_500
    first = server.send_text(USER, "/help", chat_id=group)
    second = server.send_text(OTHER, "hello", chat_id=group)
    one, two = (u["message"] for u in server.pending_updates[-2:])
    assert (one["message_id"], two["message_id"]) == (1, 2) and first < second
    assert one["chat"] == two["chat"] == {"id": group, "type": "group", "title": "Test group"}
    assert (one["from"]["id"], two["from"]["id"]) == (USER, OTHER)
    markup = keyboard(InlineKeyboardButton("Older", callback_data="jp:1"))
    sent = await bot.send_message(group, "hi all", reply_markup=markup)
    assert [m.message_id for m in server.messages(group)] == [3]
    assert server.messages(USER) == [] and server.messages(OTHER) == []
    server.press(OTHER, sent.message_id, "jp:1", chat_id=group)
    query = server.pending_updates[-1]["callback_query"]
    assert query["from"]["id"] == OTHER and query["message"]["chat"]["id"] == group
    with pytest.raises(LookupError):
        server.press(OTHER, sent.message_id, "jp:1")  # not a message of their private chat
