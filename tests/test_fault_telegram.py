"""Telegram faults during a delivery burst: 10% of calls answered 429, 5xx or too late.

Everything is delivered, nothing twice; a call that timed out is recorded as uncertain (it did
arrive: the fake processed it and answered after the client gave up) and is never resent. The
benchmark with 500 learners and the production timeouts is bench/fault_telegram.py.
"""

from __future__ import annotations

import pytest

from bot.sandbox.fake_telegram.faults import Delay, ServerError, TooManyRequests
from tests.support.faults import burst_through_telegram_faults

# PTB warns whenever it builds a RetryAfter (retry_after becomes a timedelta in v23).
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Deprecated since version v22\.2:telegram.warnings.PTBDeprecationWarning"
)

LEARNERS = 60
READ_TIMEOUT = 1.0  # short enough to be quick, long enough for a loaded CI machine


async def test_a_burst_through_ten_percent_faults_loses_and_doubles_nothing(
    database_url: str,
) -> None:
    run = await burst_through_telegram_faults(
        database_url,
        LEARNERS,
        ratio=0.10,
        seed=8,
        read_timeout=READ_TIMEOUT,
        rate=1000.0,
        # One of each kind first, whatever the random ones turn out to be.
        first=(TooManyRequests(1), ServerError(502), Delay(READ_TIMEOUT + 1.0)),
    )
    tally = run.tally
    assert {"429", "502", "timeout"} <= set(run.faults)
    assert tally.lost == 0 and tally.twice == 0, tally.line()
    assert set(tally.statuses) <= {"sent", "uncertain"}, tally.line()
    assert tally.delivered_once + tally.uncertain == LEARNERS
    # Each served timeout is recorded uncertain, and it did arrive (the fake processed the call
    # and answered late). A call slowed past the timeout by a busy machine is uncertain too.
    assert tally.uncertain_arrived >= run.faults["timeout"], tally.line()
    # Every call beyond one per learner was a retry of a call that certainly failed.
    assert run.calls == LEARNERS + sum(run.faults.values()) - run.faults["timeout"]
