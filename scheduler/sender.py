"""The sender: turns one leased outbox item into a Telegram call and classifies what happened.

Telegram allows a bot about 30 messages a second overall and about one a second per chat, and it
has no idempotency key, so every outcome is classified by what it proves about the message:

=====================================  ==========================================================
what happened                          outcome
=====================================  ==========================================================
accepted                               SENT with the message id
429 RetryAfter                         the whole sender pauses for ``retry_after``; RELEASE
                                       (back to pending, the attempt is not counted)
connect / pool timeout, connect error  RETRY: certainly not sent; capped exponential backoff with
or a 5xx answer                        jitter, FAILED (lesson given back) after the last attempt
read / write timeout, a connection     UNCERTAIN: the request may have reached Telegram; never
dropped after the request was sent     resent automatically (``/today`` serves it)
403 Forbidden, 400 "chat not found"    DEACTIVATE: the subscription stops, never retried
any other 400                          one plain-text fallback; FAILED if that is refused too
=====================================  ==========================================================

PTB's ``BadRequest`` and ``TimedOut`` are subclasses of ``NetworkError``, so the specific
exceptions are checked first. This module never imports sqlalchemy.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.content.html import MAX_MESSAGE_CHARS, html_to_text
from bot.core.clock import Clock
from bot.core.textclean import utf16_cut
from bot.render import unreachable
from bot.services.outbox.types import OutboxItem, Outcome, Result
from bot.telegram_http import NOT_SENT_CAUSES
from scheduler.render import Rendered, Renderer

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def plain_text(text: str) -> str:
    """Telegram HTML as plain text (tags dropped, entities decoded), cut to Telegram's limit."""
    return utf16_cut(html_to_text(text).strip(), MAX_MESSAGE_CHARS)


class RateLimiter:
    """A token bucket shared by every send: `rate` messages a second, small bursts."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate / 10)
        self._tokens = self.capacity
        self._stamp: float | None = None
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, wanted: int, minimum: int = 1) -> int:
        """Wait until at least `minimum` tokens are free; take up to `wanted` of them."""
        if wanted <= 0:
            return 0
        minimum = max(1, min(minimum, wanted, int(self.capacity)))
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                self._refill(loop.time())
                if self._tokens >= minimum:
                    taken = min(wanted, int(self._tokens))
                    self._tokens -= taken
                    return taken
                await asyncio.sleep((minimum - self._tokens) / self.rate)

    def refund(self, count: int) -> None:
        """Give back tokens that were taken but not used."""
        if count > 0:
            self._tokens = min(self.capacity, self._tokens + count)


class Pause:
    """The sender-wide pause Telegram asks for with 429 ``retry_after``."""

    def __init__(self) -> None:
        self._until = 0.0

    def pause(self, seconds: float) -> None:
        """Pause every send for `seconds` (extending, never shortening, a pause in force)."""
        self._until = max(self._until, asyncio.get_running_loop().time() + seconds)

    def remaining(self) -> float:
        """Seconds until sending may resume (0 when not paused)."""
        return max(0.0, self._until - asyncio.get_running_loop().time())


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """Retry and pacing rules."""

    max_attempts: int = 6  # for RETRY outcomes; then FAILED and the lesson is given back
    backoff_base: float = 30.0  # seconds before the second attempt, doubling each time
    backoff_cap: float = 1800.0
    per_chat_interval: float = 1.0  # Telegram: about one message a second per chat


class Sender:
    """Sends one item at a time (many concurrently); every call returns an Outcome, never raises."""

    def __init__(
        self,
        bot: Bot,
        render: Renderer,
        clock: Clock,
        limiter: RateLimiter,
        pause: Pause,
        *,
        policy: SendPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._bot = bot
        self._render = render
        self._clock = clock
        self._limiter = limiter
        self._pause = pause
        self.policy = policy or SendPolicy()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._chat_next: dict[int, float] = {}
        # Delivery ids whose HTTP request has started (so a cancelled one is uncertain).
        self.started: set[int] = set()

    async def send(self, item: OutboxItem) -> Outcome:
        """Send one leased item and classify the result."""
        rendered = self._render(item)
        if rendered is None:
            log.error(
                "delivery %s: nothing to send for kind %r, lesson %r (not in the course?)",
                item.delivery_id,
                item.kind,
                item.lesson_id,
            )
            return Outcome(item, Result.FAILED, error="nothing to send: lesson not in the course")
        if not await self._ready(item.chat_id):
            return Outcome(item, Result.RELEASE, error_code=429, error="sender paused")
        try:
            self.started.add(item.delivery_id)
            message = await self._bot.send_message(
                item.chat_id,
                rendered.text,
                parse_mode=ParseMode.HTML,
                reply_markup=rendered.reply_markup,
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:
            if unreachable(exc):
                return Outcome(item, Result.DEACTIVATE, error_code=400, error=exc.message)
            return await self._fallback(item, rendered, exc)
        except TelegramError as exc:
            return self._classify(item, exc)
        return Outcome(item, Result.SENT, message_id=message.message_id)

    async def _fallback(self, item: OutboxItem, rendered: Rendered, first: BadRequest) -> Outcome:
        """One plain-text attempt after Telegram refused the formatted message."""
        log.warning("delivery %s refused (%s); trying plain text", item.delivery_id, first.message)
        await self._limiter.acquire(1)
        if not await self._ready(item.chat_id):
            return Outcome(item, Result.FAILED, error_code=400, error=first.message)
        try:
            message = await self._bot.send_message(
                item.chat_id, plain_text(rendered.text), link_preview_options=NO_PREVIEW
            )
        except BadRequest as exc:
            if unreachable(exc):
                return Outcome(item, Result.DEACTIVATE, error_code=400, error=exc.message)
            return Outcome(item, Result.FAILED, error_code=400, error=exc.message)
        except TelegramError as exc:
            return self._classify(item, exc)
        return Outcome(
            item,
            Result.SENT,
            message_id=message.message_id,
            error_code=400,
            error=f"sent as plain text: {first.message}",
        )

    async def _ready(self, chat_id: int) -> bool:
        """Wait for this chat's one-a-second slot; False when a 429 pause began meanwhile."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        ready_at = self._chat_next.get(chat_id, 0.0)
        if ready_at > now:
            await asyncio.sleep(ready_at - now)
            now = loop.time()
        if self._pause.remaining() > 0:
            return False
        self._chat_next[chat_id] = now + self.policy.per_chat_interval
        if len(self._chat_next) > 10_000:
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
        return True

    def _classify(self, item: OutboxItem, exc: TelegramError) -> Outcome:
        """Everything but BadRequest (handled by the caller): most specific first."""
        if isinstance(exc, RetryAfter):
            seconds = exc.retry_after
            delay = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
            self._pause.pause(delay)
            log.warning("Telegram asked the sender to wait %.0f s", delay)
            return Outcome(item, Result.RELEASE, error_code=429, error=exc.message)
        if isinstance(exc, Forbidden):
            return Outcome(item, Result.DEACTIVATE, error_code=403, error=exc.message)
        if isinstance(exc, TimedOut):
            if isinstance(exc.__cause__, NOT_SENT_CAUSES):
                return self._retry(item, exc.message)
            return Outcome(item, Result.UNCERTAIN, error=f"timed out: {exc.message}")
        if isinstance(exc, InvalidToken):
            log.error("Telegram rejected the bot token; deliveries will be retried")
            return self._retry(item, exc.message, code=401)
        if isinstance(exc, NetworkError):
            cause = exc.__cause__
            if cause is None:  # Telegram answered with an HTTP error status (5xx)
                return self._retry(item, exc.message, code=_status(exc.message))
            if isinstance(cause, NOT_SENT_CAUSES):
                return self._retry(item, exc.message)
            # The connection broke after the request was written: it may have arrived.
            return Outcome(item, Result.UNCERTAIN, error=exc.message)
        if isinstance(exc, ChatMigrated):
            return Outcome(item, Result.FAILED, error="chat migrated to a supergroup")
        return Outcome(item, Result.FAILED, error=exc.message)

    def _retry(self, item: OutboxItem, error: str, code: int | None = None) -> Outcome:
        """Certainly not sent: try again later, or give up after the last attempt."""
        policy = self.policy
        if item.attempts >= policy.max_attempts:
            return Outcome(item, Result.FAILED, error_code=code, error=error, give_back=True)
        ceiling = min(policy.backoff_cap, policy.backoff_base * 2 ** (item.attempts - 1))
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)  # "equal jitter"
        retry_at = self._clock.now() + timedelta(seconds=delay)
        return Outcome(item, Result.RETRY, error_code=code, error=error, retry_at=retry_at)


def _status(message: str) -> int | None:
    match = re.search(r"\((\d{3})\)\s*$", message)
    return int(match[1]) if match else 502 if "bad gateway" in message.lower() else None
