"""The bot's side of the conversation: updates parsed one at a time, each person's handled in
order but alongside everyone else's, and replies paced per chat.

Arrival (`IncomingBot.admit`, for long polling and the webhook alike). Each raw update is first
counted against the flood limit, read straight from the JSON; one the limit ignores is dropped
there, unparsed, so a flood of 1,000 costs others a dictionary look-up each (with the counts in
Redis, `FLOOD_STORAGE_URL`, a round trip each until this process alone has seen the limit's worth:
bot/core/flood.py). The rest are parsed, once, and one at a time: PTB parses a whole
`getUpdates` batch at once, and a single update it cannot parse (a field shape from a newer Bot
API) fails the batch, the offset never advances, and the whole batch, names and message text
included, is logged at CRITICAL on every retry. Here an
update that fails is skipped (the next `getUpdates` confirms it) and logged by id and type only,
never by content, and everyone else is answered.

Concurrency. `PerPerson` handles different people's updates concurrently and one person's in
the order they were sent, so someone flooding the bot (or waiting for their replies to be paced)
delays only themselves.

Pacing. Telegram allows about one message a second in a chat (short bursts pass); `ChatPacer`
lets a few replies through at once, then spaces a chat's replies at `rate` a second, so a burst
of replies never provokes a 429.

Metrics. `PerPerson` times each update's handling by kind (`update_kind`), and
`CountedRequest` counts every Bot API call by method and outcome (bot.metrics), whoever makes it:
replies, scheduled lessons, the delivery worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import Bot, Update
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseUpdateProcessor, ExtBot

from bot import metrics
from bot.core.flood import FloodLimit, Verdict
from bot.telegram_http import AiohttpRequest, ClosesClientsIfStartFails

log = logging.getLogger(__name__)

KNOWN_TYPES = frozenset(Update.ALL_TYPES)


def update_type(raw: dict[str, Any]) -> str:
    """The update's kind (`message`, `callback_query`...), or "unknown": never any content."""
    return next((key for key in raw if key in KNOWN_TYPES), "unknown")


def sender(raw: dict[str, Any]) -> int | None:
    """The id of the person who sent a raw update (as PTB's `effective_user` would give it), or
    None when it names nobody, read without parsing it."""
    payload = raw.get(update_type(raw))
    if not isinstance(payload, dict):
        return None
    person = payload.get("from", payload.get("user"))
    user_id = person.get("id") if isinstance(person, dict) else None
    return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None


def parse_update(raw: object, bot: Bot) -> Update | None:
    """The parsed update, or None (logged by id and type) when the library cannot parse it."""
    if not isinstance(raw, dict):
        log.warning("skipped an update that is not an object")
        return None
    try:
        return Update.de_json(raw, bot)
    except Exception as exc:  # any parse failure: the update's shape is not what PTB expects
        update_id = raw.get("update_id")
        log.warning(
            "skipped update %s (%s): it could not be parsed (%s)",
            update_id if isinstance(update_id, int) else "?",
            update_type(raw),
            type(exc).__name__,
        )
        return None


def update_kind(update: object) -> str:
    """What the update is, for the metrics: a command, a button press, text (a typed message or
    an inline search) or anything else; never what it says."""
    if not isinstance(update, Update):
        return metrics.OTHER
    if update.callback_query is not None:
        return metrics.BUTTON
    if update.inline_query is not None:
        return metrics.TEXT
    message = update.message
    text = message.text if message is not None else None
    if not text:
        return metrics.OTHER
    return metrics.COMMAND if text.startswith("/") else metrics.TEXT


async def _timed(update: object, coroutine: Awaitable[Any]) -> None:
    """Handle the update, timing it by kind."""
    with metrics.UPDATE_SECONDS.labels(update_kind(update)).time():
        await coroutine


def api_outcome(error: TelegramError | None) -> str:
    """How a Bot API call ended, as a metrics label (subclasses before their parents)."""
    if error is None:
        return "ok"
    for kind, label in (
        (RetryAfter, "retry_after"),
        (BadRequest, "bad_request"),
        (Forbidden, "forbidden"),
        (TimedOut, "timed_out"),
        (NetworkError, "network_error"),
    ):
        if isinstance(error, kind):
            return label
    return "error"


def status_outcome(status: int) -> str:
    """How a Bot API call that Telegram answered ended, by HTTP status, as a metrics label."""
    if 200 <= status < 300:
        return "ok"
    if status >= 500:
        return "network_error"  # PTB raises NetworkError for these
    return {400: "bad_request", 403: "forbidden", 429: "retry_after"}.get(status, "error")


class CountedRequest(AiohttpRequest):
    """The Bot API client (bot.telegram_http), counting each call by method and outcome (no
    other label).

    Counted per HTTP request, so a reply retried after a 429 counts twice: once as
    `retry_after`, once as `ok`.
    """

    async def do_request(self, url: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        method = metrics.api_method(url)
        try:
            status, payload = await super().do_request(url, *args, **kwargs)
        except TelegramError as exc:  # no answer: a timeout or a network error
            metrics.api_call(method, api_outcome(exc))
            raise
        metrics.api_call(method, status_outcome(status))
        return status, payload


class ChatPacer:
    """A token bucket per chat: `burst` messages at once, then `rate` a second (0: unpaced)."""

    def __init__(self, rate: float, burst: int = 3) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, when counted)

    async def wait(self, chat_id: int) -> None:
        """Return when the chat may be sent one more message (at once, unless it had a burst)."""
        if self.rate <= 0:
            return
        now = asyncio.get_running_loop().time()
        tokens, then = self._buckets.get(chat_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate) - 1
        self._buckets[chat_id] = (tokens, now)
        if len(self._buckets) > 10_000:  # forget chats whose bucket has long refilled
            idle = now - self.burst / self.rate
            self._buckets = {c: b for c, b in self._buckets.items() if b[1] > idle}
        if tokens < 0:
            await asyncio.sleep(-tokens / self.rate)


class PerPerson(BaseUpdateProcessor):
    """Different people's updates concurrently; one person's (or chat's) strictly in order."""

    def __init__(self, flood: FloodLimit | None = None, max_concurrent_updates: int = 4096) -> None:
        # The cap bounds memory only: a flooder's updates wait on their own lock, not for slots
        # others need (PTB takes the slot first, so the cap is set far above real concurrency).
        super().__init__(max_concurrent_updates)
        self._flood = flood
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the update's handling once this person's earlier updates are done; one that
        arrived over the flood limit is handled at once (it is only told to slow down)."""
        key = _person(update)
        if key is None or (
            self._flood is not None
            and isinstance(update, Update)
            and self._flood.refused(update.update_id)
        ):
            await _timed(update, coroutine)
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await _timed(update, coroutine)
        finally:
            lock, users = self._locks[key]
            if users > 1:
                self._locks[key] = (lock, users - 1)
            else:
                del self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def is_support(update: Update) -> bool:
    """True for a `/support` command (also `/support@BotName`): it passes once per flood window."""
    return _is_support_text(update.effective_message.text if update.effective_message else None)


def _is_support_text(text: object) -> bool:
    words = text.split() if isinstance(text, str) else []  # whitespace-only text has no first word
    return bool(words) and words[0].split("@")[0] == "/support"


def _person(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class IncomingBot(ClosesClientsIfStartFails, ExtBot[None]):
    """ExtBot through which every update arrives (`admit`): counted against the flood limit,
    dropped unparsed when the limit ignores it, otherwise parsed once; its getUpdates confirms
    the updates it dropped. It also carries the per-chat pacer for replies."""

    def __init__(
        self,
        *args: Any,
        reply_rate: float = 1.0,
        flood: FloodLimit | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._flood = flood
        self._confirm_before = 0  # the next getUpdates' offset is at least this
        self._reply_pacer = ChatPacer(reply_rate)  # a public attribute cannot be set on a Bot
        self._arrived: list[Update] = []  # parsed by _post for the get_updates in progress
        self._dropped: Callable[[int], None] = lambda update_id: None

    @property
    def reply_pacer(self) -> ChatPacer:
        """Paces the replies in each chat (bot.handlers.render waits on it before each one)."""
        return self._reply_pacer

    def on_dropped(self, callback: Callable[[int], None]) -> None:
        """Call `callback(update_id)` for each update dropped on arrival (nothing more will be
        done with it): the sandbox counts those as finished."""
        self._dropped = callback

    async def admit(self, raw: object) -> Update | None:
        """The update, parsed, or None when it goes no further: the flood limit ignores it (it
        is not even parsed) or the library cannot parse it (logged by id and type)."""
        if not isinstance(raw, dict):
            log.warning("skipped an update that is not an object")
            return None
        update_id, user_id = raw.get("update_id"), sender(raw)
        if self._flood is not None and isinstance(update_id, int) and user_id is not None:
            payload = raw[update_type(raw)]
            support = _is_support_text(payload.get("text"))
            verdict = await self._flood.arrive(update_id, user_id, support=support)
            if verdict is Verdict.IGNORE:
                self._dropped(update_id)
                return None
        update = parse_update(raw, self)
        if update is None and isinstance(update_id, int):
            self._dropped(update_id)
        return update

    async def answer_callback_query(
        self, callback_query_id: str, *args: Any, **kwargs: Any
    ) -> bool:
        """Answer a button press; False, not an error, when Telegram no longer takes the answer:
        another copy of the update (in another process) answered it, or it is too old. The
        answer only stops the button's spinner, so the press is still handled."""
        try:
            return await super().answer_callback_query(callback_query_id, *args, **kwargs)
        except BadRequest as exc:
            if "query is too old" not in exc.message.lower():
                raise
            log.info("a button press was already answered or is too old; handling it anyway")
            return False

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        """The updates admitted from one `getUpdates`, each parsed once (by `_post`, which
        hands the library's own parsing an empty list)."""
        await super().get_updates(*args, **kwargs)
        arrived, self._arrived = tuple(self._arrived), []
        for update in arrived:
            self.insert_callback_data(update)
        return arrived

    async def _post(self, endpoint: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if endpoint != "getUpdates":
            return await super()._post(endpoint, data, **kwargs)
        data = dict(data or {})
        offset = data.get("offset")
        if self._confirm_before and (offset is None or 0 <= offset < self._confirm_before):
            data["offset"] = self._confirm_before  # a dropped last update is confirmed
        result = await super()._post(endpoint, data, **kwargs)
        if not isinstance(result, list):
            return result
        self._arrived = await self._admit_all(result)
        return []

    async def _admit_all(self, raws: Sequence[object]) -> list[Update]:
        admitted = []
        for raw in raws:  # one at a time: a person's updates keep their order
            update = await self.admit(raw)
            if update is not None:
                admitted.append(update)
            elif isinstance(raw, dict) and isinstance(raw.get("update_id"), int):
                self._confirm_before = max(self._confirm_before, raw["update_id"] + 1)
        return admitted
