"""A fake Telegram Bot API server on 127.0.0.1 for the tests and the local sandbox.

It speaks real HTTP the way python-telegram-bot calls Telegram (``POST {base_url}{token}/{method}``
with form, multipart or JSON bodies) and answers ``{"ok": true, "result": ...}`` or Telegram's error
shape. This module owns the HTTP routes, the bot's side of the API (the methods a bot calls, each
bot bug answered with the 400 Telegram would send and recorded in ``rejected``), getUpdates long
polling, observation (every call, the current state of every bot message), and ``FakeBotAPI``,
which composes the rest: Telegram's rules (rules.py), the people side (people.py) and fault
injection (faults.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeAlias

from aiohttp import web

from bot.sandbox.fake_telegram.faults import (
    Delay,
    Disconnect,
    FaultInjection,
    ServedFault,
    fault_error,
)
from bot.sandbox.fake_telegram.people import People
from bot.sandbox.fake_telegram.records import (
    JSON,
    ApiRequest,
    CallbackAnswer,
    FakeFile,
    FakeMessage,
    InlineAnswer,
    Rejection,
    UploadedFile,
)
from bot.sandbox.fake_telegram.rules import (
    MAX_CALLBACK_ANSWER,
    MAX_CAPTION,
    MAX_DESCRIPTION,
    MAX_SHORT_DESCRIPTION,
    MAX_TEXT,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    ApiError,
    bad,
    check_commands,
    check_description,
    check_inline_answer,
    check_markup,
    parse_mode,
    render,
)

_LOG = logging.getLogger(__name__)

TERMINATED_BY_OTHER = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)


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
    getMyCommands deleteMyCommands setMyDescription getMyDescription setMyShortDescription
    getMyShortDescription setWebhook deleteWebhook getWebhookInfo getFile close logOut"""
)

MethodHandler: TypeAlias = Callable[[JSON], Awaitable[Any]]
MessageListener: TypeAlias = Callable[[str, FakeMessage], None]


class FakeBotAPI(People, FaultInjection):
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
        People.__init__(
            self,
            bot_username=bot_username,
            bot_id=bot_id,
            bot_first_name=bot_first_name,
            now=now or (lambda: datetime.now(UTC)),
        )
        FaultInjection.__init__(self)
        self.host = host
        self.port = port
        self.known_chats_only = known_chats_only
        self.strict_ampersand = strict_ampersand
        self.latency = 0.0
        self.requests: list[ApiRequest] = []
        self.rejected: list[Rejection] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.listeners: list[MessageListener] = []
        self.tokens: set[str] = set()
        self.webhook_url: str | None = None
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        # (which, language code) -> text; "which" is "description" or "short_description".
        self._descriptions: dict[tuple[str, str], str] = {}
        self._file_paths: dict[str, str] = {}
        self._allowed_updates: frozenset[str] = _DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._stopping = asyncio.Event()
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
            error = fault_error(fault)
            if error is not None:
                return _error_response(*error)
            if isinstance(fault, Disconnect):
                if request.transport is not None:
                    request.transport.close()
                raise asyncio.CancelledError  # nothing is written on a closed connection
        handler = self._methods.get(key)
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            result = await handler(params)
        except ApiError as error:
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

    def menu_seen_in(self, chat_id: int) -> list[JSON]:
        """The menu a person sees in their private chat, resolved as Telegram does: the chat's
        own scope, else all private chats, else the default (all languages)."""
        for scope in ({"type": "chat", "chat_id": chat_id}, {"type": "all_private_chats"}, None):
            key = (_scope_key(scope), "")
            if key in self._commands:
                return list(self._commands[key])
        return []

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

    def _deliverable(self, offset: int | None, limit: int) -> list[JSON]:
        with self._lock:
            self._updates = [u for u in self._updates if _update_type(u) in self._allowed_updates]
            if offset is not None and offset < 0:
                return list(self._updates[offset:][:limit])
            return [u for u in self._updates if offset is None or u["update_id"] >= offset][:limit]

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_ACTIVE)
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
                raise ApiError(409, TERMINATED_BY_OTHER, record=False)
            batch = self._deliverable(offset, limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._stopping.is_set():
                return batch
            changed = self._updates_changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    # --- bot methods ----------------------------------------------------------------------------

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
            raise bad("message text is empty")
        plain, entities = self._render(text, params, limit=MAX_TEXT, what="message")
        markup = check_markup(params.get("reply_markup"), self.bot_username)
        message = FakeMessage(
            chat_id,
            0,
            self._timestamp(),
            text=text,
            parse_mode=parse_mode(params),
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
            parse_mode=parse_mode(params),
            plain_text=plain,
            entities=entities,
            reply_markup=check_markup(params.get("reply_markup"), self.bot_username),
            reply_to_message_id=self._reply_to(chat_id, params),
            document=file if kind == "document" else None,
            photo=file if kind == "photo" else None,
        )
        return self._store_message(message)

    async def _edit_message_text(self, params: JSON) -> JSON | bool:
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise bad("message text is empty")
        plain, entities = self._render(text, params, limit=MAX_TEXT, what="message")
        markup = check_markup(params.get("reply_markup"), self.bot_username)
        message = self._message_to_edit(params)
        if message is None:
            return True
        if message.text is None:
            raise bad("there is no text in the message to edit")
        if (plain, entities, markup) == (
            message.plain_text,
            message.entities,
            message.reply_markup,
        ):
            raise bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.text, message.parse_mode = text, parse_mode(params)
        message.plain_text, message.entities, message.reply_markup = plain, entities, markup
        return self._edited(message)

    async def _edit_message_reply_markup(self, params: JSON) -> JSON | bool:
        markup = check_markup(params.get("reply_markup"), self.bot_username)
        message = self._message_to_edit(params)
        if message is None:
            return True
        if markup == message.reply_markup:
            raise bad(NOT_MODIFIED.removeprefix("Bad Request: "))
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
        raise bad("message to delete not found")

    async def _send_chat_action(self, params: JSON) -> bool:
        self._target_chat(params)
        return True

    async def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        user_id, answered = self._callback_queries.get(query_id, (0, True))
        if answered:
            raise bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = params.get("text")
        if isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER:
            raise bad("MESSAGE_TOO_LONG")
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
            raise bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        results = check_inline_answer(
            params, bot_username=self.bot_username, strict_ampersand=self.strict_ampersand
        )
        button = params.get("button")
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
        commands = check_commands(params.get("commands"))
        key = (self._checked_scope(params.get("scope")), str(params.get("language_code") or ""))
        self._commands[key] = commands
        return True

    async def _get_my_commands(self, params: JSON) -> list[JSON]:
        key = (self._checked_scope(params.get("scope")), str(params.get("language_code") or ""))
        return list(self._commands.get(key, []))

    async def _delete_my_commands(self, params: JSON) -> bool:
        key = (self._checked_scope(params.get("scope")), str(params.get("language_code") or ""))
        self._commands.pop(key, None)
        return True

    async def _set_my_description(self, params: JSON) -> bool:
        return self._describe("description", MAX_DESCRIPTION, params)

    async def _get_my_description(self, params: JSON) -> JSON:
        return {"description": self.description(str(params.get("language_code") or ""))}

    async def _set_my_short_description(self, params: JSON) -> bool:
        return self._describe("short_description", MAX_SHORT_DESCRIPTION, params)

    async def _get_my_short_description(self, params: JSON) -> JSON:
        language = str(params.get("language_code") or "")
        return {"short_description": self.description(language, short=True)}

    def _describe(self, which: str, limit: int, params: JSON) -> bool:
        text = check_description(params.get(which), limit, which)
        key = (which, str(params.get("language_code") or ""))
        if text:
            self._descriptions[key] = text
        else:
            self._descriptions.pop(key, None)
        return True

    def description(self, language_code: str = "", *, short: bool = False) -> str:
        """The bot's description (or short description) for this language, as Telegram shows
        it: the language's own, else the default one, else empty."""
        which = "short_description" if short else "description"
        own = self._descriptions.get((which, language_code))
        return own if own is not None else self._descriptions.get((which, ""), "")

    def _checked_scope(self, scope: object) -> str:
        """The stored key of a BotCommandScope; raises the 400s Telegram sends for a bad one."""
        if isinstance(scope, str):  # form and multipart bodies carry it as JSON text
            try:
                scope = json.loads(scope)
            except ValueError:
                raise bad("can't parse BotCommandScope JSON object") from None
        if scope is None or scope == "":
            return _scope_key(None)
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise bad("unsupported scope type")
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            self._target_chat(scope)
        if scope["type"] == "chat_member" and not _optional_int(scope.get("user_id")):
            raise bad("user not found")
        return _scope_key(scope)

    async def _set_webhook(self, params: JSON) -> bool:
        url = params.get("url")
        if not isinstance(url, str) or (url and not url.startswith("https://")):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
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
            raise bad("invalid file_id")
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

    def _target_chat(self, params: JSON) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad("chat_id is empty")
        parsed = _optional_int(chat_id)
        if parsed is None or parsed == 0:
            raise bad("chat not found")
        if self.known_chats_only and parsed not in self._users:
            raise bad("chat not found")
        return parsed

    def _render(self, text: str, params: JSON, *, limit: int, what: str) -> tuple[str, list[JSON]]:
        """Visible text and entities after parse_mode; raises Telegram's 400s."""
        return render(
            text,
            params,
            limit=limit,
            what=what,
            bot_username=self.bot_username,
            strict_ampersand=self.strict_ampersand,
        )

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
            raise bad("message to be replied not found")
        return target if exists else None

    def _input_file(self, params: JSON, kind: str) -> FakeFile:
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedFile):
            if not value.data:
                raise bad("file must be non-empty")
            return self._store_file(value.data, value.filename, value.content_type)
        if isinstance(value, str) and re.match(r"(?i)https?://", value):
            stored = self._store_file(None, value.rsplit("/", 1)[-1] or None, None)
            stored.url = value
            return stored
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if not value:
            raise bad(f"there is no {kind} in the request")
        raise bad("wrong file identifier/HTTP URL specified")

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
            raise bad("message can't be edited")
        if message is None:
            raise bad("message to edit not found")
        return message

    def _edited(self, message: FakeMessage) -> JSON:
        message.edit_date = self._timestamp()
        message.edit_count += 1
        self._emit("edited", message)
        return self._message_json(message)

    def _emit(self, event: str, message: FakeMessage) -> None:
        for listener in list(self.listeners):
            listener(event, message)


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


_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


def _scope_key(scope: object) -> str:
    if not scope or (isinstance(scope, dict) and scope.get("type") == "default"):
        return "default"
    return json.dumps(scope, sort_keys=True)


def _update_type(update: JSON) -> str:
    return next((key for key in update if key != "update_id"), "")


def _error_response(code: int, description: str, parameters: JSON | None = None) -> web.Response:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)
