"""Everything the bot process runs on a clock, started from post_init by one `start`.

- the delivery tick (`scheduler.engine`): claims who is due and sends their lessons;
- ending pauses: lessons come back on when a pause's date arrives (every delivery tick);
- the weekly huddle card for team leads (`Huddles`, every few minutes);
- "ask me each week": Sunday's question queued in the outbox for weekly learners
  (`EnrolmentService.queue_week_prompts`, every few minutes; the delivery tick sends it);
- retention (`RetentionService.run`): a minute after start-up and then every 24 hours, rather
  than at a fixed time of day, so a bot that is restarted often (deployments) still runs it.
  Every rule is idempotent.

Each goes on the JobQueue through `scheduler.repeat.repeat`. This module never imports the
handlers or sqlalchemy.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import JobQueue

from bot.content.schema import Content
from bot.render import keyboard
from bot.services.cohorts.team_messages import TeamMessageService
from bot.services.enrolment import EnrolmentService
from bot.services.retention import RetentionService
from bot.views.cohorts import huddle_screen
from scheduler.engine import DeliveryEngine
from scheduler.repeat import repeat

log = logging.getLogger(__name__)

PAUSE_JOB_NAME = "end-due-pauses"
HUDDLE_JOB_NAME = "huddles"
HUDDLE_TICK_SECONDS = 300.0
HUDDLE_FIRST = 10.0
WEEK_PROMPT_JOB_NAME = "week-prompts"
WEEK_PROMPT_TICK_SECONDS = 300.0
RETENTION_JOB_NAME = "retention"
RETENTION_EVERY = timedelta(days=1)
RETENTION_FIRST = timedelta(minutes=1)


class Huddles:
    """Sends due huddle cards to leads: a JobQueue tick in production, `run_once` in tests."""

    def __init__(self, service: TeamMessageService, content: Content, bot: Bot) -> None:
        self._service = service
        self._content = content
        self._bot = bot

    async def run_once(self) -> int:
        """Claim and send every huddle card due now; returns how many were sent."""
        sent = 0
        for card in await self._service.claim_huddles():
            lesson = self._content.lesson(card.lesson_id)
            if lesson is None:
                continue
            screen = huddle_screen(card, lesson)
            try:
                await self._bot.send_message(
                    card.lead_telegram_id,
                    screen.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard(screen),
                )
                sent += 1
            except TelegramError as exc:
                log.warning("huddle card for cohort %s not sent: %s", card.cohort_id, type(exc))
        return sent


def start(
    job_queue: JobQueue[Any] | None,
    *,
    delivery: DeliveryEngine,
    enrolment: EnrolmentService,
    huddles: Huddles,
    retention: RetentionService,
    pauses_every: float,
) -> None:
    """Put every clock-driven job on the JobQueue (from post_init); a no-op without one."""
    delivery.start(job_queue)
    if job_queue is None:
        log.warning("no JobQueue: pauses will not end, no huddle cards, old data not purged")
        return
    repeat(job_queue, PAUSE_JOB_NAME, pauses_every, enrolment.end_due_pauses)
    repeat(job_queue, WEEK_PROMPT_JOB_NAME, WEEK_PROMPT_TICK_SECONDS, enrolment.queue_week_prompts)
    repeat(job_queue, HUDDLE_JOB_NAME, HUDDLE_TICK_SECONDS, huddles.run_once, first=HUDDLE_FIRST)
    repeat(job_queue, RETENTION_JOB_NAME, RETENTION_EVERY, retention.run, first=RETENTION_FIRST)
