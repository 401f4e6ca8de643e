"""A fake Telegram Bot API server on 127.0.0.1 for the tests and the local sandbox.

It speaks real HTTP the way python-telegram-bot calls Telegram (``POST {base_url}{token}/{method}``
with form, multipart or JSON bodies) and answers ``{"ok": true, "result": ...}`` or Telegram's error
shape. It owns three things:

* the bot's side of the API: the methods a bot calls, with Telegram's limits checked so a bot bug
  shows up as the 400 Telegram would send (each one recorded in ``rejected``);
* the users' side: sync helpers that queue updates (``send_text``, ``press``, ``inline_query``...)
  which the bot receives through ``getUpdates`` long polling;
* observation and fault injection: every call, the current state of every bot message, and faults
  (429, 403, 400, 5xx, late answers, dropped connections) per method, per chat or at random.

HTML is parsed by the rules of Telegram's own parser (tdlib ``parse_html``), with one deliberate
strictness: a ``&`` that starts no entity is rejected (Telegram shows it literally), because it
means user-supplied text went out unescaped. Deep links to this bot (``t.me/<bot>?start=...``) in
buttons or links are checked against the 64-character start-parameter rule, which Telegram itself
does not enforce at send time (the app silently drops a bad payload).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeAlias
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

JSON: TypeAlias = dict[str, Any]

_LOG = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER = 200
MAX_INLINE_RESULTS = 50
MAX_INLINE_RESULT_ID_BYTES = 64
MAX_COMMANDS = 100

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
TERMINATED_BY_OTHER = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)


# --- faults -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TooManyRequests:
    """429 with ``parameters.retry_after`` (PTB raises RetryAfter)."""

    retry_after: int = 1


@dataclass(frozen=True, slots=True)
class Forbidden:
    """403, e.g. the user blocked the bot (PTB raises Forbidden)."""

    description: str = "Forbidden: bot was blocked by the user"


@dataclass(frozen=True, slots=True)
class BadRequest:
    """400 with an arbitrary description (PTB raises BadRequest)."""

    description: str = "Bad Request: chat not found"


@dataclass(frozen=True, slots=True)
class ServerError:
    """A 5xx answer (PTB raises NetworkError)."""

    status: int = 502
    description: str = "Bad Gateway"


@dataclass(frozen=True, slots=True)
class Delay:
    """Process the call, then answer only after ``seconds``: the uncertain read-timeout case."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Drop the connection without processing the call (PTB raises NetworkError)."""


Fault: TypeAlias = TooManyRequests | Forbidden | BadRequest | ServerError | Delay | Disconnect


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One call the bot made (uploads appear as UploadedFile values)."""

    method: str
    params: JSON
    chat_id: int | str | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A call the fake refused the way Telegram would (a bot bug, not an injected fault)."""

    method: str
    params: JSON
    chat_id: int | str | None
    error_code: int
    description: str


@dataclass(frozen=True, slots=True)
class ServedFault:
    """An injected fault that was served."""

    method: str
    chat_id: int | str | None
    fault: Fault


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    data: bytes
    content_type: str | None


@dataclass(slots=True)
class FakeFile:
    """A file the fake knows by file_id; ``data`` is None for files sent by URL."""

    file_id: str
    file_unique_id: str
    data: bytes | None
    filename: str | None = None
    mime_type: str | None = None
    url: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes (0 when unknown)."""
        return len(self.data) if self.data is not None else 0


@dataclass(slots=True)
class FakeMessage:
    """The current state of one bot message.

    ``text``/``caption`` are as the bot sent them (HTML markup included); ``plain_text`` is what
    the user sees; ``reply_markup`` is whatever markup the bot sent, parsed (inline or reply).
    """

    chat_id: int
    message_id: int
    date: int
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    plain_text: str = ""
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    document: FakeFile | None = None
    photo: FakeFile | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    edit_count: int = 0

    @property
    def buttons(self) -> list[list[JSON]]:
        """Rows of inline keyboard buttons ([] when there is no inline keyboard)."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [list(row) for row in rows]

    def button(self, text: str) -> JSON:
        """The inline button whose text is exactly ``text``."""
        for row in self.buttons:
            for button in row:
                if button.get("text") == text:
                    return dict(button)
        raise LookupError(f"no button {text!r} on message {self.message_id}")


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """What the bot answered to a button press."""

    callback_query_id: str
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None


@dataclass(frozen=True, slots=True)
class InlineAnswer:
    """What the bot answered to an inline query."""

    inline_query_id: str
    user_id: int
    results: list[JSON]
    cache_time: int | None
    is_personal: bool
    next_offset: str | None
    button: JSON | None


@dataclass(slots=True)
class _Injection:
    method: str | None
    chat_id: int | None
    remaining: int | None
    fault: Fault


class _ApiError(Exception):
    def __init__(self, code: int, description: str, *, record: bool = True) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.record = record


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


# --- HTML parse mode (the rules of tdlib's parse_html) -------------------------------------------


class EntityParseError(ValueError):
    """The markup is not valid Telegram HTML; the message is Telegram's."""


_SIMPLE_TAG_TYPES = {
    **dict.fromkeys(("b", "strong"), "bold"),
    **dict.fromkeys(("i", "em"), "italic"),
    **dict.fromkeys(("u", "ins"), "underline"),
    **dict.fromkeys(("s", "strike", "del"), "strikethrough"),
    **dict.fromkeys(("tg-spoiler", "span"), "spoiler"),
}
_HTML_TAGS = frozenset({*_SIMPLE_TAG_TYPES, "a", "tg-emoji", "pre", "code", "blockquote"})
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,9}))|([a-zA-Z]+));?")
_SPACE = " \t\r\n\v\f"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(markup: str, index: int) -> int:
    return len(markup[:index].encode("utf-8"))


def _decode_entity(markup: str, pos: int) -> tuple[str, int] | None:
    """The character an HTML entity at ``pos`` stands for and where it ends, or None."""
    match = _ENTITY_RE.match(markup, pos)
    if match is None:
        return None
    hex_digits, dec_digits, name = match.groups()
    if name is not None:
        char = _NAMED_ENTITIES.get(name)
        return (char, match.end()) if char is not None else None
    code = int(hex_digits, 16) if hex_digits is not None else int(dec_digits)
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


@dataclass(slots=True)
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the visible text
    piece: int  # index into the list of visible pieces, for <a> without href
    expandable: bool = False


def parse_html(markup: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSON]]:
    """Visible text and Bot API entities for Telegram HTML; raises EntityParseError."""
    pieces: list[str] = []
    entities: list[JSON] = []
    stack: list[_OpenTag] = []
    utf16 = 0
    i, n = 0, len(markup)
    while i < n:
        char = markup[i]
        if char == "&":
            decoded = _decode_entity(markup, i)
            if decoded is None and strict_ampersand:
                raise EntityParseError(
                    f'Unescaped "&" at byte offset {_byte_offset(markup, i)} (Telegram would show '
                    "it literally: escape user text with html.escape)"
                )
            text, i = decoded if decoded is not None else ("&", i + 1)
            pieces.append(text)
            utf16 += _utf16_len(text)
            continue
        if char != "<":
            pieces.append(char)
            utf16 += _utf16_len(char)
            i += 1
            continue
        begin = i
        at = _byte_offset(markup, begin)
        i += 1
        if i < n and markup[i] == "/":
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {at}")
            j = i + 1
            while j < n and markup[j] not in _SPACE and markup[j] != ">":
                j += 1
            end_name = markup[i + 1 : j].lower()
            while j < n and markup[j] in _SPACE:
                j += 1
            if j >= n or markup[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {at}")
            top = stack[-1]
            if end_name and end_name != top.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {at}, expected "</{top.name}>", '
                    f'found "</{end_name}>"'
                )
            stack.pop()
            if utf16 > top.offset:
                _close_entity(top, utf16 - top.offset, "".join(pieces[top.piece :]), entities)
            i = j + 1
            continue
        j = i
        while j < n and markup[j] not in _SPACE and markup[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {at}")
        name = markup[i:j].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {at}')
        tag = _OpenTag(name, "", utf16, len(pieces))
        i = _parse_attributes(markup, j, tag, at)
        if name == "span" and tag.argument != "spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        stack.append(tag)
    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag {stack[-1].name}")
    for entity in entities:
        entity.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(pieces), entities


def _parse_attributes(markup: str, i: int, tag: _OpenTag, at: int) -> int:
    """Read the attributes of ``tag`` from ``i``; returns the index after the closing '>'."""
    n = len(markup)
    while True:
        while i < n and markup[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {at}")
        if markup[i] == ">":
            return i + 1
        start = i
        while i < n and markup[i] not in _SPACE and markup[i] not in "=>":
            i += 1
        attribute = markup[start:i]
        if not attribute:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag.name}" at byte offset {at}'
            )
        while i < n and markup[i] in _SPACE:
            i += 1
        if i >= n or markup[i] != "=":
            if tag.name == "blockquote" and attribute.lower() == "expandable":
                tag.expandable = True
                continue
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag.name}" at byte offset {at}'
            )
        i += 1
        while i < n and markup[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag.name}" at byte offset {at}')
        if markup[i] in "'\"":
            quote = markup[i]
            i += 1
            value: list[str] = []
            while i < n and markup[i] != quote:
                decoded = _decode_entity(markup, i) if markup[i] == "&" else None
                if decoded is not None:
                    value.append(decoded[0])
                    i = decoded[1]
                else:
                    value.append(markup[i])
                    i += 1
            i += 1
            text = "".join(value)
        else:
            token = i
            while i < n and (markup[i].isalnum() or markup[i] in ".-"):
                i += 1
            if i >= n or (markup[i] not in _SPACE and markup[i] != ">"):
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {_byte_offset(markup, token)}"
                )
            text = markup[token:i].lower()
        attribute = attribute.lower()
        if (tag.name == "a" and attribute == "href") or (
            tag.name == "tg-emoji" and attribute == "emoji-id"
        ):
            tag.argument = text
        elif tag.name == "code" and attribute == "class" and text.startswith("language-"):
            tag.argument = text.removeprefix("language-")
        elif tag.name == "span" and attribute == "class" and text.startswith("tg-"):
            tag.argument = text.removeprefix("tg-")


def _close_entity(tag: _OpenTag, length: int, inner: str, entities: list[JSON]) -> None:
    entity: JSON = {"offset": tag.offset, "length": length}
    last = entities[-1] if entities else None
    same_range = last is not None and (last["offset"], last["length"]) == (tag.offset, length)
    if tag.name in _SIMPLE_TAG_TYPES:
        entity["type"] = _SIMPLE_TAG_TYPES[tag.name]
    elif tag.name == "blockquote":
        entity["type"] = "expandable_blockquote" if tag.expandable else "blockquote"
    elif tag.name == "tg-emoji":
        if not tag.argument.isdigit() or int(tag.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
    elif tag.name == "a":
        url = tag.argument or inner
        user = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if user:
            entity.update(
                type="text_mention", user={"id": int(user[1]), "is_bot": False, "first_name": ""}
            )
        elif url.strip():
            entity.update(type="text_link", url=url if "://" in url else f"http://{url}")
        else:
            return
    elif tag.name == "pre":
        if last is not None and same_range and last["type"] == "code" and last.get("_language"):
            last.update(type="pre", language=last.pop("_language"))
            return
        entity["type"] = "pre"
    else:  # code
        if last is not None and same_range and last["type"] == "pre" and tag.argument:
            last["language"] = tag.argument
            return
        entity.update(type="code", _language=tag.argument)
    entities.append(entity)


# --- the server ---------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


# Form values are JSON-encoded unless they are strings; these parameters are always strings.
_STRING_PARAMS = frozenset(
    _words(
        """text caption parse_mode callback_query_id inline_query_id url secret_token ip_address
        next_offset language_code inline_message_id business_connection_id message_effect_id
        description short_description emoji action document photo sticker voice audio video
        animation thumbnail file_id name title query custom_emoji_id switch_pm_text
        switch_pm_parameter"""
    )
)
_BUTTON_ACTIONS = tuple(
    _words(
        """url callback_data web_app login_url switch_inline_query switch_inline_query_current_chat
        switch_inline_query_chosen_chat copy_text callback_game pay"""
    )
)
# What getUpdates delivers when allowed_updates is empty (all but the opt-in types).
_DEFAULT_UPDATE_TYPES = frozenset(
    _words(
        """message edited_message channel_post edited_channel_post business_connection
        business_message edited_business_message deleted_business_messages inline_query
        chosen_inline_result callback_query shipping_query pre_checkout_query purchased_paid_media
        poll poll_answer my_chat_member chat_join_request chat_boost removed_chat_boost"""
    )
)
_API_METHODS = _words(
    """getMe getUpdates sendMessage editMessageText editMessageReplyMarkup deleteMessage
    sendDocument sendPhoto sendChatAction answerCallbackQuery answerInlineQuery setMyCommands
    getMyCommands deleteMyCommands setWebhook deleteWebhook getWebhookInfo getFile close
    logOut"""
)
_START_PARAM_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")

MethodHandler: TypeAlias = Callable[[JSON], Awaitable[Any]]
MessageListener: TypeAlias = Callable[[str, FakeMessage], None]


class FakeBotAPI:
    """An in-process Telegram Bot API server on 127.0.0.1 (any token is accepted)."""

    def __init__(
        self,
        *,
        bot_username: str = "trauma_informed_bot",
        bot_id: int = 7_000_000_001,
        bot_first_name: str = "Trauma-informed practice",
        host: str = "127.0.0.1",
        port: int = 0,
        known_chats_only: bool = False,
        strict_ampersand: bool = True,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.bot_first_name = bot_first_name
        self.host = host
        self.port = port
        self.known_chats_only = known_chats_only
        self.strict_ampersand = strict_ampersand
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.latency = 0.0
        self.requests: list[ApiRequest] = []
        self.rejected: list[Rejection] = []
        self.faults_served: list[ServedFault] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.listeners: list[MessageListener] = []
        self.tokens: set[str] = set()
        self.webhook_url: str | None = None
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._users: dict[int, JSON] = {}
        self._messages: dict[int, dict[int, FakeMessage]] = {}
        self._user_messages: dict[tuple[int, int], JSON] = {}
        self._next_message_id: dict[int, int] = {}
        self._files: dict[str, FakeFile] = {}
        self._file_paths: dict[str, str] = {}
        self._callback_queries: dict[str, tuple[int, bool]] = {}
        self._inline_queries: dict[str, tuple[int, bool]] = {}
        self._injections: list[_Injection] = []
        self._random: tuple[float, random.Random, tuple[Fault, ...], frozenset[str] | None] | None
        self._random = None
        self._updates: list[JSON] = []
        self._allowed_updates: frozenset[str] = _DEFAULT_UPDATE_TYPES
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._next_update_id = 1
        self._poll_generation = 0
        self._updates_changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        # "sendMessage" is served by self._send_message, and so on.
        self._methods: dict[str, MethodHandler] = {
            name.lower(): getattr(self, "_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())
            for name in _API_METHODS
        }

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # access_log=None: aiohttp's access log would print the token in every URL.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Answer pending long polls and close the server."""
        self._stopping.set()
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` to telegram.Bot / ApplicationBuilder."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """What to pass as ``base_file_url``."""
        return f"http://{self.host}:{self.port}/file/bot"

    # --- fault injection ------------------------------------------------------------------------

    def inject(
        self,
        method: str | None = None,
        *,
        chat_id: int | None = None,
        times: int | None = 1,
        fault: Fault,
    ) -> None:
        """Serve ``fault`` to the next ``times`` matching calls (None: until cleared).

        ``method=None`` matches every method except getUpdates (name it to fault polling).
        """
        self._injections.append(_Injection(method, chat_id, times, fault))

    def fail_ratio(
        self,
        ratio: float,
        seed: int,
        *,
        faults: Sequence[Fault] | None = None,
        methods: Sequence[str] | None = None,
    ) -> None:
        """Fail about ``ratio`` of calls at random (reproducibly from ``seed``).

        By default only calls addressed to a chat are eligible, and the faults are 429, 502 and
        a dropped connection. ``ratio=0`` switches it off.
        """
        if ratio <= 0:
            self._random = None
            return
        chosen = tuple(faults or (TooManyRequests(1), ServerError(502), Disconnect()))
        names = frozenset(m.lower() for m in methods) if methods is not None else None
        self._random = (ratio, random.Random(seed), chosen, names)  # noqa: S311 - not crypto

    def clear_faults(self) -> None:
        """Forget every injected and random fault."""
        self._injections.clear()
        self._random = None

    def _take_fault(self, method: str, chat_id: int | str | None) -> Fault | None:
        for injection in self._injections:
            if injection.method is None and method == "getupdates":
                continue
            if injection.method is not None and injection.method.lower() != method:
                continue
            if injection.chat_id is not None and injection.chat_id != chat_id:
                continue
            if injection.remaining is not None:
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
            return injection.fault
        if self._random is not None:
            ratio, rng, faults, names = self._random
            eligible = method in names if names is not None else chat_id is not None
            if eligible and rng.random() < ratio:
                return rng.choice(faults)
        return None

    # --- HTTP -----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.tokens.add(request.match_info["token"])
        method = request.match_info["method"]
        key = method.lower()
        params = await _read_params(request)
        chat_id = _chat_id_of(params)
        self.requests.append(ApiRequest(method, params, chat_id))
        _LOG.debug("fake Bot API call %s", method)
        if self.latency > 0:
            await self._sleep(self.latency)
        fault = self._take_fault(key, chat_id) if key in self._methods else None
        if fault is not None:
            self.faults_served.append(ServedFault(method, chat_id, fault))
            early = _fault_response(fault)
            if early is not None:
                return early
            if isinstance(fault, Disconnect):
                if request.transport is not None:
                    request.transport.close()
                raise asyncio.CancelledError  # nothing is written on a closed connection
        handler = self._methods.get(key)
        try:
            if handler is None:
                raise _ApiError(404, "Not Found")
            result = await handler(params)
        except _ApiError as error:
            if error.record:
                self.rejected.append(
                    Rejection(method, params, chat_id, error.code, error.description)
                )
            return _error_response(error.code, error.description)
        if isinstance(fault, Delay):
            await self._sleep(fault.seconds)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        file_id = self._file_paths.get(request.match_info["path"])
        stored = self._files.get(file_id) if file_id else None
        if stored is None or stored.data is None:
            return _error_response(404, "Not Found")
        return web.Response(body=stored.data, content_type=stored.mime_type or None)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # --- users' side ----------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "Alex",
        language_code: str = "en",
        last_name: str | None = None,
        username: str | None = None,
    ) -> None:
        """Make a private chat known (as if the user had opened the bot)."""
        self._users[user_id] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if last_name is not None:
            self._users[user_id]["last_name"] = last_name
        if username is not None:
            self._users[user_id]["username"] = username

    def number_updates_after(self, update_id: int) -> None:
        """Give the next updates ids above `update_id` (e.g. the highest a database recorded)."""
        with self._lock:
            self._next_update_id = max(self._next_update_id, update_id + 1)

    def send_update(self, update: JSON) -> int:
        """Queue a raw update (update_id is assigned when missing); returns the update_id."""
        with self._lock:
            update = dict(update)
            update_id = int(update.setdefault("update_id", self._next_update_id))
            self._next_update_id = max(self._next_update_id, update_id + 1)
            self._updates.append(update)
        self._notify()
        return update_id

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        """The user sends ``text`` in their private chat (or in the group ``chat_id``, a negative
        id); returns the update_id.

        The user's names are those given here, else as known (``add_user``), else "Alex".
        """
        message = self._user_message(
            user_id, first_name=first_name, language_code=language_code, chat_id=chat_id
        )
        message["text"] = text
        command = _BOT_COMMAND_RE.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command[0])}
            ]
        return self._queue_message(message)

    def send_sticker(self, user_id: int, *, emoji: str = "🙂") -> int:
        """The user sends a sticker."""
        message = self._user_message(user_id)
        file = self._store_file(b"", "sticker.webp", "image/webp")
        message["sticker"] = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._queue_message(message)

    def send_photo_message(
        self, user_id: int, *, caption: str | None = None, data: bytes = b"\xff\xd8\xff"
    ) -> int:
        """The user sends a photo (optionally captioned)."""
        message = self._user_message(user_id)
        file = self._store_file(data, "photo.jpg", "image/jpeg")
        message["photo"] = [_photo_size(file)]
        if caption is not None:
            message["caption"] = caption
        return self._queue_message(message)

    def send_voice(self, user_id: int, *, duration: int = 3, data: bytes = b"OggS") -> int:
        """The user sends a voice note."""
        message = self._user_message(user_id)
        file = self._store_file(data, "voice.ogg", "audio/ogg")
        message["voice"] = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": file.size,
        }
        return self._queue_message(message)

    def edit_text(self, user_id: int, message_id: int, text: str) -> int:
        """The user edits one of their text messages (an edited_message update)."""
        original = self._user_messages.get((user_id, message_id))
        if original is None or "text" not in original:
            raise LookupError(f"user {user_id} sent no text message {message_id}")
        original.update(text=text, edit_date=self._timestamp())
        original.pop("entities", None)
        return self.send_update({"edited_message": dict(original)})

    def press(
        self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> int:
        """The user presses a button on a bot message (a callback_query with it as it is now) in
        their private chat, or in the chat ``chat_id`` (a group's message).

        The data need not be on the message, so tests can send stale or forged callback data.
        """
        chat = user_id if chat_id is None else chat_id
        message = self._messages.get(chat, {}).get(message_id)
        if message is None:
            raise LookupError(f"no bot message {message_id} in chat {chat}")
        query_id = str(4_000_000_000_000_000 + next(self._ids))
        self._callback_queries[query_id] = (user_id, False)
        return self.send_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._user(user_id),
                    "message": self._message_json(message),
                    "chat_instance": str(-chat),
                    "data": callback_data,
                }
            }
        )

    def inline_query(self, user_id: int, query: str, *, offset: str = "") -> int:
        """The user types ``@bot query`` in some chat."""
        query_id = str(5_000_000_000_000_000 + next(self._ids))
        self._inline_queries[query_id] = (user_id, False)
        return self.send_update(
            {
                "inline_query": {
                    "id": query_id,
                    "from": self._user(user_id),
                    "query": query,
                    "offset": offset,
                    "chat_type": "sender",
                }
            }
        )

    def _user(self, user_id: int) -> JSON:
        if user_id not in self._users:
            self.add_user(user_id)
        return dict(self._users[user_id])

    def _user_message(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        chat_id: int | None = None,
    ) -> JSON:
        if first_name is not None or language_code is not None:
            known = self._users.get(user_id, {})
            self.add_user(
                user_id,
                first_name=first_name or known.get("first_name", "Alex"),
                language_code=language_code or known.get("language_code", "en"),
                last_name=known.get("last_name"),
                username=known.get("username"),
            )
        chat = user_id if chat_id is None else chat_id
        return {
            "message_id": self._allocate_message_id(chat),
            "from": self._user(user_id),
            "chat": self._chat_json(chat),
            "date": self._timestamp(),
        }

    def _queue_message(self, message: JSON) -> int:
        self._user_messages[(message["chat"]["id"], message["message_id"])] = message
        return self.send_update({"message": dict(message)})

    # --- observation ----------------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[FakeMessage]:
        """Bot messages in the chat as they are now (edited in place, deleted ones gone)."""
        return list(self._messages.get(chat_id, {}).values())

    def last_message(self, chat_id: int) -> FakeMessage:
        """The newest bot message in the chat."""
        messages = self.messages(chat_id)
        if not messages:
            raise LookupError(f"the bot sent nothing to chat {chat_id}")
        return messages[-1]

    def calls(self, method: str) -> list[ApiRequest]:
        """Every call of one method, oldest first."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    @property
    def commands(self) -> list[JSON]:
        """The default-scope, all-languages command list."""
        return self.commands_for()

    def commands_for(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The command list set for one scope and language."""
        return list(self._commands.get((_scope_key(scope), language_code), []))

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by the bot."""
        with self._lock:
            return list(self._updates)

    async def wait_until(
        self,
        predicate: Callable[[], object],
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline is this helper's point
        *,
        interval: float = 0.005,
    ) -> None:
        """Poll ``predicate`` until it is truthy; raises TimeoutError after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(interval)

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        after: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> FakeMessage:
        """The first bot message in the chat newer than message ``after`` (default: the user's
        latest message there), waiting for it to arrive."""
        if after is None:
            after = max((mid for chat, mid in self._user_messages if chat == chat_id), default=0)
        found: list[FakeMessage] = []

        def arrived() -> bool:
            found[:] = [m for m in self.messages(chat_id) if m.message_id > after]
            return bool(found)

        await self.wait_until(arrived, timeout)
        return found[0]

    # --- update queue and long polling ----------------------------------------------------------

    def _notify(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake_pollers()
        else:
            loop.call_soon_threadsafe(self._wake_pollers)

    def _wake_pollers(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    def _deliverable(self, offset: int | None, limit: int) -> list[JSON]:
        with self._lock:
            self._updates = [u for u in self._updates if _update_type(u) in self._allowed_updates]
            if offset is not None and offset < 0:
                return list(self._updates[offset:][:limit])
            return [u for u in self._updates if offset is None or u["update_id"] >= offset][:limit]

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook_url:
            raise _ApiError(409, WEBHOOK_ACTIVE)
        offset = _optional_int(params.get("offset"))
        limit = max(1, min(100, _optional_int(params.get("limit")) or 100))
        timeout = max(0.0, float(params.get("timeout") or 0))
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or _DEFAULT_UPDATE_TYPES
        if offset is not None and offset > 0:
            with self._lock:  # a later offset confirms every update before it
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        # Like Telegram, a new getUpdates terminates one still waiting (its client is gone).
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise _ApiError(409, TERMINATED_BY_OTHER, record=False)
            batch = self._deliverable(offset, limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._stopping.is_set():
                return batch
            changed = self._updates_changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    # --- bot methods ----------------------------------------------------------------------------

    def _bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def _get_me(self, params: JSON) -> JSON:
        return {
            **self._bot_user(),
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _send_message(self, params: JSON) -> JSON:
        chat_id = self._target_chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _bad("message text is empty")
        plain, entities = self._render(text, params, limit=MAX_TEXT, what="message")
        markup = self._check_markup(params.get("reply_markup"))
        message = FakeMessage(
            chat_id,
            0,
            self._timestamp(),
            text=text,
            parse_mode=_parse_mode(params),
            plain_text=plain,
            entities=entities,
            reply_markup=markup,
            reply_to_message_id=self._reply_to(chat_id, params),
        )
        return self._store_message(message)

    async def _send_document(self, params: JSON) -> JSON:
        return await self._send_media(params, "document")

    async def _send_photo(self, params: JSON) -> JSON:
        return await self._send_media(params, "photo")

    async def _send_media(self, params: JSON, kind: str) -> JSON:
        chat_id = self._target_chat(params)
        file = self._input_file(params, kind)
        caption = params.get("caption")
        plain, entities = "", list[JSON]()
        if isinstance(caption, str) and caption:
            plain, entities = self._render(caption, params, limit=MAX_CAPTION, what="caption")
        message = FakeMessage(
            chat_id,
            0,
            self._timestamp(),
            caption=caption if plain else None,
            parse_mode=_parse_mode(params),
            plain_text=plain,
            entities=entities,
            reply_markup=self._check_markup(params.get("reply_markup")),
            reply_to_message_id=self._reply_to(chat_id, params),
            document=file if kind == "document" else None,
            photo=file if kind == "photo" else None,
        )
        return self._store_message(message)

    async def _edit_message_text(self, params: JSON) -> JSON | bool:
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _bad("message text is empty")
        plain, entities = self._render(text, params, limit=MAX_TEXT, what="message")
        markup = self._check_markup(params.get("reply_markup"))
        message = self._message_to_edit(params)
        if message is None:
            return True
        if message.text is None:
            raise _bad("there is no text in the message to edit")
        if (plain, entities, markup) == (
            message.plain_text,
            message.entities,
            message.reply_markup,
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.text, message.parse_mode = text, _parse_mode(params)
        message.plain_text, message.entities, message.reply_markup = plain, entities, markup
        return self._edited(message)

    async def _edit_message_reply_markup(self, params: JSON) -> JSON | bool:
        markup = self._check_markup(params.get("reply_markup"))
        message = self._message_to_edit(params)
        if message is None:
            return True
        if markup == message.reply_markup:
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.reply_markup = markup
        return self._edited(message)

    async def _delete_message(self, params: JSON) -> bool:
        chat_id = self._target_chat(params)
        message_id = _optional_int(params.get("message_id"))
        if message_id is not None and message_id in self._messages.get(chat_id, {}):
            message = self._messages[chat_id].pop(message_id)
            self._emit("deleted", message)
            return True
        if (chat_id, message_id) in self._user_messages:
            del self._user_messages[(chat_id, message_id or 0)]
            return True
        raise _bad("message to delete not found")

    async def _send_chat_action(self, params: JSON) -> bool:
        self._target_chat(params)
        return True

    async def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        user_id, answered = self._callback_queries.get(query_id, (0, True))
        if answered:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = params.get("text")
        if isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER:
            raise _bad("MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = (user_id, True)
        self.callback_answers.append(
            CallbackAnswer(
                query_id,
                user_id,
                text if isinstance(text, str) else None,
                bool(params.get("show_alert")),
                params.get("url"),
            )
        )
        return True

    async def _answer_inline_query(self, params: JSON) -> bool:
        query_id = str(params.get("inline_query_id") or "")
        user_id, answered = self._inline_queries.get(query_id, (0, True))
        if answered:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad("results must be an array")
        if len(results) > MAX_INLINE_RESULTS:
            raise _bad("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            result_id = str(result.get("id", "")) if isinstance(result, dict) else ""
            if not 1 <= len(result_id.encode("utf-8")) <= MAX_INLINE_RESULT_ID_BYTES:
                raise _bad("RESULT_ID_INVALID")
            if result_id in seen:
                raise _bad("RESULT_ID_DUPLICATE")
            seen.add(result_id)
            content = result.get("input_message_content") or {}
            if isinstance(content.get("message_text"), str):
                self._render(content["message_text"], content, limit=MAX_TEXT, what="message")
            self._check_markup(result.get("reply_markup"))
        button = params.get("button")
        start = button.get("start_parameter") if isinstance(button, dict) else None
        if start is not None and not _START_PARAM_RE.fullmatch(str(start)):
            raise _bad("START_PARAM_INVALID")
        self._inline_queries[query_id] = (user_id, True)
        self.inline_answers.append(
            InlineAnswer(
                query_id,
                user_id,
                results,
                _optional_int(params.get("cache_time")),
                bool(params.get("is_personal")),
                params.get("next_offset"),
                button if isinstance(button, dict) else None,
            )
        )
        return True

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands[key] = [dict(c) for c in commands]
        return True

    async def _get_my_commands(self, params: JSON) -> list[JSON]:
        return self.commands_for(params.get("scope"), str(params.get("language_code") or ""))

    async def _delete_my_commands(self, params: JSON) -> bool:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands.pop(key, None)
        return True

    async def _set_webhook(self, params: JSON) -> bool:
        url = params.get("url")
        if not isinstance(url, str) or (url and not url.startswith("https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url or None
        if params.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    async def _delete_webhook(self, params: JSON) -> bool:
        self.webhook_url = None
        if params.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending_updates),
        }

    async def _get_file(self, params: JSON) -> JSON:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        path = next((p for p, f in self._file_paths.items() if f == stored.file_id), None)
        if path is None:
            path = f"documents/file_{len(self._file_paths)}"
            if stored.filename and "." in stored.filename:
                path += "." + stored.filename.rsplit(".", 1)[1]
            self._file_paths[path] = stored.file_id
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": path,
        }

    async def _close(self, params: JSON) -> bool:
        return True

    _log_out = _close

    # --- helpers for the bot methods ------------------------------------------------------------

    def _timestamp(self) -> int:
        return int(self.now().timestamp())

    def _target_chat(self, params: JSON) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        parsed = _optional_int(chat_id)
        if parsed is None or parsed == 0:
            raise _bad("chat not found")
        if self.known_chats_only and parsed not in self._users:
            raise _bad("chat not found")
        return parsed

    def _render(self, text: str, params: JSON, *, limit: int, what: str) -> tuple[str, list[JSON]]:
        """Visible text and entities after parse_mode; raises Telegram's 400s."""
        mode = (_parse_mode(params) or "").lower()
        entities_param = params.get("entities") or params.get("caption_entities") or []
        if mode == "html":
            try:
                plain, entities = parse_html(text, strict_ampersand=self.strict_ampersand)
            except EntityParseError as error:
                raise _bad(f"can't parse entities: {error}") from None
        elif mode in ("", "markdown", "markdownv2"):  # Markdown is accepted but not checked
            plain, entities = text, [dict(e) for e in entities_param]
        else:
            raise _bad(f"unsupported parse_mode {_parse_mode(params)}")
        plain, entities = _strip(plain, entities)
        if not plain and what == "message":
            raise _bad("message must be non-empty")
        if _utf16_len(plain) > limit:  # counted in UTF-16 units, the stricter reading
            raise _bad(
                "message is too long" if what == "message" else "message caption is too long"
            )
        for entity in entities:
            if entity.get("type") == "text_link":
                self._check_deep_link(str(entity.get("url", "")))
        return plain, entities

    def _check_deep_link(self, url: str) -> None:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        if parts.hostname not in ("t.me", "telegram.me"):
            return
        if parts.path.strip("/").lower() != self.bot_username.lower():
            return
        for key in ("start", "startgroup"):
            for value in parse_qs(parts.query, keep_blank_values=True).get(key, []):
                if not _START_PARAM_RE.fullmatch(value):
                    raise _bad("START_PARAM_INVALID")

    def _check_markup(self, markup: object) -> JSON | None:
        """Raise the 400 Telegram sends for a bad reply_markup; returns it parsed."""
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
            for button in (b for row in rows for b in row):
                self._check_inline_button(button)
            if sum(len(row) for row in rows) > 100:
                raise _bad("REPLY_MARKUP_TOO_LONG")
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
            for button in (b for row in rows for b in row):
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
        elif not ({"remove_keyboard", "force_reply"} & markup.keys()):
            raise _bad("can't parse reply keyboard markup JSON object")
        return markup

    def _check_inline_button(self, button: object) -> None:
        prefix = "can't parse inline keyboard button: "
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise _bad(prefix + 'Field "text" must be of type String')
        actions = [name for name in _BUTTON_ACTIONS if name in button]
        if not actions:
            raise _bad(prefix + "Text buttons are unallowed in the inline keyboard")
        if len(actions) > 1:  # Telegram documents "exactly one"; it would silently pick one
            raise _bad(prefix + f"exactly one of the optional fields must be used, got {actions}")
        data = button.get("callback_data")
        if "callback_data" in button and (
            not isinstance(data, str)
            or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
        ):
            raise _bad("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not re.match(r"(?i)(https?|tg)://\S", url):
                raise _bad("BUTTON_URL_INVALID")
            self._check_deep_link(url)

    def _reply_to(self, chat_id: int, params: JSON) -> int | None:
        reply = params.get("reply_parameters")
        target = _optional_int(reply.get("message_id")) if isinstance(reply, dict) else None
        target = target or _optional_int(params.get("reply_to_message_id"))
        if target is None:
            return None
        exists = target in self._messages.get(chat_id, {}) or (chat_id, target) in (
            self._user_messages
        )
        allow = isinstance(reply, dict) and reply.get("allow_sending_without_reply")
        if not exists and not allow:
            raise _bad("message to be replied not found")
        return target if exists else None

    def _input_file(self, params: JSON, kind: str) -> FakeFile:
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedFile):
            if not value.data:
                raise _bad("file must be non-empty")
            return self._store_file(value.data, value.filename, value.content_type)
        if isinstance(value, str) and re.match(r"(?i)https?://", value):
            stored = self._store_file(None, value.rsplit("/", 1)[-1] or None, None)
            stored.url = value
            return stored
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if not value:
            raise _bad(f"there is no {kind} in the request")
        raise _bad("wrong file identifier/HTTP URL specified")

    def _store_file(self, data: bytes | None, filename: str | None, mime: str | None) -> FakeFile:
        number = next(self._ids)
        stored = FakeFile(f"FAKEFILE{number:010d}", f"U{number}", data, filename, mime)
        self._files[stored.file_id] = stored
        return stored

    def _allocate_message_id(self, chat_id: int) -> int:
        # In a private chat both sides share one message_id sequence.
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _store_message(self, message: FakeMessage) -> JSON:
        message.message_id = self._allocate_message_id(message.chat_id)
        self._messages.setdefault(message.chat_id, {})[message.message_id] = message
        self._emit("sent", message)
        return self._message_json(message)

    def _message_to_edit(self, params: JSON) -> FakeMessage | None:
        """The message an edit targets (None for inline messages); 400 when it does not exist."""
        if params.get("inline_message_id"):
            return None
        chat_id = self._target_chat(params)
        message_id = _optional_int(params.get("message_id"))
        message = self._messages.get(chat_id, {}).get(message_id or 0)
        if message is None and (chat_id, message_id) in self._user_messages:
            raise _bad("message can't be edited")
        if message is None:
            raise _bad("message to edit not found")
        return message

    def _edited(self, message: FakeMessage) -> JSON:
        message.edit_date = self._timestamp()
        message.edit_count += 1
        self._emit("edited", message)
        return self._message_json(message)

    def _emit(self, event: str, message: FakeMessage) -> None:
        for listener in list(self.listeners):
            listener(event, message)

    def _chat_json(self, chat_id: int) -> JSON:
        if chat_id < 0:
            return {"id": chat_id, "type": "group", "title": "Test group"}
        chat: JSON = {"id": chat_id, "type": "private"}
        if chat_id in self._users:
            chat["first_name"] = self._users[chat_id]["first_name"]
        return chat

    def _message_json(self, message: FakeMessage) -> JSON:
        data: JSON = {
            "message_id": message.message_id,
            "from": self._bot_user(),
            "chat": self._chat_json(message.chat_id),
            "date": message.date,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.text is not None:
            data["text"] = message.plain_text
            if message.entities:
                data["entities"] = message.entities
        elif message.caption is not None:
            data["caption"] = message.plain_text
            if message.entities:
                data["caption_entities"] = message.entities
        if message.document is not None:
            doc = message.document
            data["document"] = {
                "file_id": doc.file_id,
                "file_unique_id": doc.file_unique_id,
                "file_size": doc.size,
                **({"file_name": doc.filename} if doc.filename else {}),
                **({"mime_type": doc.mime_type} if doc.mime_type else {}),
            }
        if message.photo is not None:
            data["photo"] = [_photo_size(message.photo)]
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.reply_to_message_id is not None:
            replied = self._messages.get(message.chat_id, {}).get(message.reply_to_message_id)
            data["reply_to_message"] = (
                self._message_json(replied)
                if replied is not None
                else self._user_messages.get((message.chat_id, message.reply_to_message_id))
            )
        return data


# --- module helpers -----------------------------------------------------------------------------


async def _read_params(request: web.Request) -> JSON:
    """Request parameters typed as Telegram reads them (form values are JSON when not strings)."""
    params: JSON = {}
    raw: dict[str, object] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    elif request.method == "POST":
        for name, part in (await request.post()).items():
            if isinstance(part, web.FileField):
                params[name] = UploadedFile(part.filename, part.file.read(), part.content_type)
            else:
                raw[name] = part
    for name, value in raw.items():
        params[name] = _decode_value(name, value)
    return params


def _decode_value(name: str, value: object) -> object:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _chat_id_of(params: JSON) -> int | str | None:
    chat_id = params.get("chat_id")
    if chat_id is None:
        return None
    parsed = _optional_int(chat_id)
    return parsed if parsed is not None else str(chat_id)


def _optional_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def _parse_mode(params: JSON) -> str | None:
    mode = params.get("parse_mode")
    return str(mode) if mode else None


def _scope_key(scope: object) -> str:
    if not scope or (isinstance(scope, dict) and scope.get("type") == "default"):
        return "default"
    return json.dumps(scope, sort_keys=True)


def _update_type(update: JSON) -> str:
    return next((key for key in update if key != "update_id"), "")


def _photo_size(file: FakeFile) -> JSON:
    return {
        "file_id": file.file_id,
        "file_unique_id": file.file_unique_id,
        "width": 90,
        "height": 90,
        "file_size": file.size,
    }


def _strip(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Trim surrounding whitespace like Telegram, moving and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = _utf16_len(text[: len(text) - len(text.lstrip())])
    size = _utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(size, entity["offset"] + entity["length"] - shift)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def _error_response(code: int, description: str, parameters: JSON | None = None) -> web.Response:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


def _fault_response(fault: Fault) -> web.Response | None:
    """The answer for a fault that replaces the call; None for Delay and Disconnect."""
    if isinstance(fault, TooManyRequests):
        return _error_response(
            429,
            f"Too Many Requests: retry after {fault.retry_after}",
            {"retry_after": fault.retry_after},
        )
    if isinstance(fault, Forbidden):
        return _error_response(403, fault.description)
    if isinstance(fault, BadRequest):
        return _error_response(400, fault.description)
    if isinstance(fault, ServerError):
        return _error_response(fault.status, fault.description)
    return None
