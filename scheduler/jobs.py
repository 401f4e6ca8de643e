"""The daily retention job: PTB's JobQueue triggers `RetentionService.run` once a day.

It runs a minute after start-up and then every 24 hours, rather than at a fixed time of day, so
a bot that is restarted often (deployments) still runs it. Every rule is idempotent.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram.ext import JobQueue

from bot.services.retention import RetentionService

log = logging.getLogger(__name__)

RETENTION_JOB_NAME = "retention"
EVERY = timedelta(days=1)
FIRST = timedelta(minutes=1)


def start_job(job_queue: JobQueue[Any] | None, retention: RetentionService) -> None:
    """Register the daily retention run (from post_init); a no-op without a JobQueue."""
    if job_queue is None:
        log.warning("no JobQueue: old data will not be purged")
        return

    async def purge(context: Any) -> None:
        del context
        try:
            await retention.run()
        except Exception:
            log.exception("retention run failed; tomorrow's run will try again")

    job_queue.run_repeating(
        purge,
        interval=EVERY,
        first=FIRST,
        name=RETENTION_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
