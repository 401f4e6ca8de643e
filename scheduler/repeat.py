"""`repeat`: the one way a job goes on PTB's JobQueue, so every clock-driven job behaves alike.

A run never overlaps the previous one, runs missed while the process was busy or asleep collapse
into one (however late), and a failure is logged rather than raised: the next run tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram.ext import Job, JobQueue

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[object]]


def repeat(
    job_queue: JobQueue[Any],
    name: str,
    every: float | timedelta,
    work: Work,
    *,
    first: float | timedelta = 1.0,
) -> Job[Any]:
    """Run `work` every `every` (the first time after `first`) under the job name `name`."""

    async def run(context: Any) -> None:
        del context
        try:
            await work()
        except Exception:
            log.exception("%s failed; the next run will try again", name)

    return job_queue.run_repeating(
        run,
        interval=every,
        first=first,
        name=name,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
