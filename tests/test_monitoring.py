"""/healthz and /metrics: scraped over HTTP while the real bot (polling, webhook) and the delivery
worker run against the fake Bot API; the counters move with what people do, and no label carries
anything about a person."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.app import build_application, started
from bot.core.clock import FakeClock, SystemClock
from bot.monitoring import BACKLOG_LATE_SECONDS, Monitor, Probe, health
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.sandbox.simulator import TrackingApplication
from bot.services.outbox.types import Backlog
from bot.webhook import SECRET_HEADER, webhook_server
from scheduler.worker import run_worker
from tests.support.factories import make_learner
from tests.support.harness import (
    USER,
    bot_under_test,
    settings_for_test,
    text_of,
)

FLOODER = 3003
NAME = "Kestrel"  # the flooder's Telegram first name: it must never reach a label
SEARCH = "listening to someone"
CRISIS = "I want to kill myself"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
# Every label our metrics may carry, and the values each may take.
ALLOWED_LABELS: dict[str, set[str] | None] = {
    "kind": set(metrics.UPDATE_KINDS),
    "outcome": set(metrics.API_OUTCOMES) | set(metrics.DELIVERY_OUTCOMES),
    "method": None,  # a Bot API method name: letters only, checked below
    "le": None,  # histogram bucket bounds
}


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def scrape(port: int) -> tuple[str, Samples]:
    status, body = await get(port, "/metrics")
    assert status == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return body, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def assert_no_personal_labels(body: str, samples: Samples, secrets: list[str]) -> None:
    """Our metrics carry only the fixed labels; no label or text anywhere names a person."""
    for (name, labels), _ in samples.items():
        for key, label in labels:
            assert all(secret not in label for secret in secrets), (name, key)
            if not name.startswith(metrics.PREFIX):
                continue
            assert key in ALLOWED_LABELS, (name, key)
            allowed = ALLOWED_LABELS[key]
            if allowed is not None:
                assert label in allowed, (name, key, label)
            elif key == "method":
                assert label.isalpha() and not label.isdigit(), label
    for secret in secrets:
        if not secret.isdigit():
            assert secret not in body


async def wait_for(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    for _ in range(int(within / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time allowed")


async def test_metrics_move_with_what_people_do_and_name_no_one(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(
        database_url, clock, metrics_port=0, flood_limit="6/30 seconds"
    ) as bot:
        port = bot.runtime.monitor.port
        assert port is not None
        _, before = await scrape(port)

        await make_learner(bot, next_due_at=clock.now() + timedelta(hours=1))
        [lesson] = await bot.advance(hours=1, minutes=5)  # the 08:00 lesson goes out
        await bot.press("Quick check", message=lesson)
        await bot.send("/help")
        await bot.send(SEARCH)
        crisis = await bot.send(CRISIS)
        assert "support" in text_of(crisis[0]).lower()
        bot.server.add_user(FLOODER, first_name=NAME)
        for _ in range(8):
            await bot.send("/help", user=FLOODER)

        body, after = await scrape(port)

    handled = "trauma_bot_update_handling_seconds_count"
    # /help once, then from the flood the 6 allowed and the one told to slow down (the last is
    # dropped as it arrives, unparsed: it is never handled)
    assert moved(before, after, handled, kind="command") == 8
    assert moved(before, after, handled, kind="button") == 1
    assert moved(before, after, handled, kind="text") == 2
    assert moved(before, after, "trauma_bot_deliveries_total", outcome="sent") == 1
    assert moved(before, after, "trauma_bot_crisis_screens_total") == 1
    assert moved(before, after, "trauma_bot_flood_limited_total") == 1
    calls = "trauma_bot_bot_api_calls_total"
    assert moved(before, after, calls, method="sendMessage", outcome="ok") >= 6
    assert moved(before, after, calls, method="answerCallbackQuery", outcome="ok") == 1
    assert value(after, "trauma_bot_database_up") == 1
    assert value(after, "trauma_bot_delivery_last_tick_timestamp_seconds") > 0
    assert_no_personal_labels(
        body, after, [str(USER), str(FLOODER), NAME, "Alex", SEARCH, CRISIS, "kill"]
    )


async def test_healthz_reports_the_database_tick_and_backlog(
    database_url: str, clock: FakeClock
) -> None:
    async with bot_under_test(database_url, clock, metrics_port=0) as bot:
        port = bot.runtime.monitor.port
        assert port is not None
        await bot.advance(minutes=1)  # a tick
        status, body = await get(port, "/healthz")
    assert status == 200
    assert '"status": "ok"' in body and '"database": "ok"' in body
    assert '"outbox_backlog": 0' in body


async def test_the_backlog_gauges_read_the_outbox(database_url: str, clock: FakeClock) -> None:
    async with bot_under_test(database_url, clock, metrics_port=0) as bot:
        port = bot.runtime.monitor.port
        assert port is not None
        await make_learner(bot, next_due_at=clock.now() + timedelta(hours=1))
        clock.advance(timedelta(hours=1, minutes=5))
        await bot.runtime.delivery.tick()  # claimed, not yet sent: waiting in the outbox
        _, samples = await scrape(port)
    assert value(samples, "trauma_bot_outbox_backlog") == 1
    assert value(samples, "trauma_bot_outbox_oldest_pending_seconds") == pytest.approx(300, abs=1)


NOTHING_WAITING = Backlog(0, 0.0)


def probe(
    backlog: Backlog | Exception = NOTHING_WAITING,
    last_tick: float | None = None,
    tick_seconds: float = 30.0,
) -> Probe:
    async def read() -> Backlog:
        if isinstance(backlog, Exception):
            raise backlog
        return backlog

    return Probe(backlog=read, last_tick=lambda: last_tick, tick_seconds=tick_seconds)


async def test_health_names_each_reason_it_is_unhealthy() -> None:
    now = asyncio.get_running_loop().time()
    healthy, body = await health(probe(last_tick=now - 5), started=now - 100)
    assert healthy and body["status"] == "ok" and body["last_tick_seconds_ago"] == pytest.approx(5)

    healthy, body = await health(probe(ConnectionRefusedError()), started=now)
    assert not healthy and body["database"] == "unreachable"
    assert body["problems"] == ["the database does not answer"]

    healthy, body = await health(probe(last_tick=now - 200), started=now - 300)
    assert not healthy and "no delivery tick has finished for 200 s" in body["problems"]
    healthy, body = await health(probe(), started=now - 200)  # never ticked since start
    assert not healthy and body["last_tick_seconds_ago"] is None
    healthy, _ = await health(probe(), started=now - 10)  # just started: not late yet
    assert healthy

    stuck = Backlog(40, BACKLOG_LATE_SECONDS + 60)
    healthy, body = await health(probe(stuck, last_tick=now), started=now)
    assert not healthy and body["outbox_backlog"] == 40
    assert body["problems"] == [f"a due delivery has waited {BACKLOG_LATE_SECONDS + 60:.0f} s"]


async def test_healthz_is_503_with_the_reason_over_http() -> None:
    async with Monitor(probe(ConnectionRefusedError()), host="127.0.0.1", port=0) as monitor:
        assert monitor.port is not None
        status, body = await get(monitor.port, "/healthz")
        assert status == 503 and "the database does not answer" in body
        _, samples = await scrape(monitor.port)
        assert value(samples, "trauma_bot_database_up") == 0


async def test_off_unless_a_port_is_configured(database_url: str, clock: FakeClock) -> None:
    async with bot_under_test(database_url, clock) as bot:
        assert bot.runtime.monitor.port is None
    assert settings_for_test(database_url).metrics_listen == "127.0.0.1"


async def test_webhook_mode_serves_metrics_too(database_url: str, clock: FakeClock) -> None:
    secret = "s" * 32
    async with FakeBotAPI() as server:
        settings = settings_for_test(
            database_url, telegram_api_base_url=server.base_url, metrics_port=0
        )
        runtime = build_application(settings, clock, application_class=TrackingApplication)
        application = runtime.application
        assert isinstance(application, TrackingApplication)
        async with (
            started(application),
            webhook_server(application, path="/hook", secret=secret, host="127.0.0.1", port=0) as p,
            aiohttp.ClientSession() as http,
        ):
            port = runtime.monitor.port
            assert port is not None
            _, before = await scrape(port)
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": USER, "type": "private"},
                    "from": {"id": USER, "is_bot": False, "first_name": "Alex"},
                    "text": "/help",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                },
            }
            hook = f"http://127.0.0.1:{p}/hook"
            async with http.post(hook, json=update, headers={SECRET_HEADER: secret}) as response:
                assert response.status == 200
            await application.wait_finished(1, 10)
            _, after = await scrape(port)
        assert runtime.monitor.port is None  # stopped with the application
    handled = "trauma_bot_update_handling_seconds_count"
    assert moved(before, after, handled, kind="command") == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_delivery_worker_serves_healthz(database_url: str) -> None:
    port = free_port()
    async with FakeBotAPI() as server:
        settings = settings_for_test(
            database_url,
            telegram_api_base_url=server.base_url,
            metrics_port=port,
            delivery_tick_seconds=0.2,
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(settings, SystemClock(), stop))
        try:

            async def healthy() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    status, body = await get(port, "/healthz")
                    return status == 200 and '"last_tick_seconds_ago": null' not in body
                return False

            await wait_for(healthy)
            _, samples = await scrape(port)
            assert value(samples, "trauma_bot_database_up") == 1
        finally:
            stop.set()
            await asyncio.wait_for(worker, 20)
    with pytest.raises(aiohttp.ClientError):
        await get(port, "/healthz")  # stopped with the worker


def test_every_label_set_is_fixed() -> None:
    assert metrics.api_method("https://api.telegram.org/bot123:ABC/sendMessage") == "sendMessage"
    assert metrics.api_method("http://x/file/bot123:ABC/photos/file_1.jpg") == "other"
    assert metrics.api_method("http://x/bot123:ABC/") == "other"
