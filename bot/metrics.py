"""The Prometheus metrics: every metric object the bot and the delivery worker export.

One module owns them all (prometheus-client's default registry, which also carries the process
and Python collectors); the code that counts calls one small function here. Labels are drawn
from small fixed sets written in this module (a kind of update, an outcome, a Bot API method
name), never from anything a person sent or is: no user or chat ids, names or text.
`bot.monitoring` serves them on /metrics.
"""

from __future__ import annotations

import re
import time

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "trauma_bot"

# What an incoming update was, for the handling-time histogram.
COMMAND, BUTTON, TEXT, OTHER = "command", "button", "text", "other"
UPDATE_KINDS = (COMMAND, BUTTON, TEXT, OTHER)
# How a Bot API call ended (PTB's error classes, most specific first in `bot.incoming`).
API_OUTCOMES = (
    "ok",
    "retry_after",
    "bad_request",
    "forbidden",
    "timed_out",
    "network_error",
    "error",
)
# Final outcomes of a scheduled delivery (a lesson, reminder, reflection prompt or note).
DELIVERY_OUTCOMES = ("sent", "uncertain", "failed", "deactivated")
# A Bot API method name is letters only (sendMessage); anything else is counted as "other".
_METHOD = re.compile(r"[A-Za-z]{1,40}")

UPDATE_SECONDS = Histogram(
    f"{PREFIX}_update_handling_seconds",
    "Time to handle one incoming update, by kind (its _count is the number handled)",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
API_CALLS = Counter(
    f"{PREFIX}_bot_api_calls",
    "Bot API calls made, by method and outcome",
    ["method", "outcome"],
)
DELIVERIES = Counter(
    f"{PREFIX}_deliveries",
    "Scheduled deliveries (lessons, reminders, reflection prompts, notes) by final outcome",
    ["outcome"],
)
OUTBOX_BACKLOG = Gauge(
    f"{PREFIX}_outbox_backlog",
    "Outbox rows pending and due now (read from the database at each scrape)",
)
OUTBOX_OLDEST_SECONDS = Gauge(
    f"{PREFIX}_outbox_oldest_pending_seconds",
    "How long the oldest pending, due outbox row has waited (0 when none)",
)
DATABASE_UP = Gauge(
    f"{PREFIX}_database_up", "1 when the database answered at the last scrape, else 0"
)
LAST_TICK = Gauge(
    f"{PREFIX}_delivery_last_tick_timestamp_seconds",
    "Unix time of the last delivery tick that finished in this process",
)
FLOOD_LIMITED = Counter(
    f"{PREFIX}_flood_limited",
    "Times a person went over the flood limit (each spell once, however many updates)",
)
CRISIS_SCREENS = Counter(
    f"{PREFIX}_crisis_screens",
    "Texts that matched the safety words and brought the support screen first (a count only)",
)

for _kind in UPDATE_KINDS:
    UPDATE_SECONDS.labels(_kind)
for _outcome in DELIVERY_OUTCOMES:
    DELIVERIES.labels(_outcome)


def api_method(url: str) -> str:
    """The Bot API method of a request URL (its last segment), or "other"; never the token."""
    method = url.rstrip("/").rpartition("/")[2]
    return method if _METHOD.fullmatch(method) else "other"


def api_call(method: str, outcome: str) -> None:
    """Count one Bot API call."""
    API_CALLS.labels(method, outcome if outcome in API_OUTCOMES else "error").inc()


def delivered(outcome: str, count: int = 1) -> None:
    """Count recorded delivery outcomes (anything not final, such as a retry, is not counted)."""
    if outcome in DELIVERY_OUTCOMES and count > 0:
        DELIVERIES.labels(outcome).inc(count)


def delivery_ticked() -> None:
    """A delivery tick finished."""
    LAST_TICK.set(time.time())


def flood_limited() -> None:
    """A person went over the flood limit (told once)."""
    FLOOD_LIMITED.inc()


def crisis_screen() -> None:
    """A text matched the safety words."""
    CRISIS_SCREENS.inc()


def backlog(pending: int | None, oldest_seconds: float | None) -> None:
    """Record the outbox backlog read at a scrape (None: the database did not answer)."""
    if pending is None:
        DATABASE_UP.set(0)
        return
    DATABASE_UP.set(1)
    OUTBOX_BACKLOG.set(pending)
    OUTBOX_OLDEST_SECONDS.set(oldest_seconds or 0.0)
