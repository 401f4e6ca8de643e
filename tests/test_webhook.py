"""Webhook mode: only requests carrying the secret token are processed, and an update the
library cannot parse is acknowledged and skipped."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app import build_application, started
from bot.config import SettingsError, load_settings
from bot.core.clock import FakeClock
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.sandbox.simulator import TrackingApplication
from bot.webhook import SECRET_HEADER, webhook_server
from tests.support.harness import TEST_TOKEN, production_log, settings_for_test

SECRET = "s" * 40


def help_update(update_id: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": 1001, "type": "private"},
            "from": {"id": 1001, "is_bot": False, "first_name": "Alex"},
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }


@contextlib.asynccontextmanager
async def webhook_bot(
    database_url: str, clock: FakeClock, **settings: Any
) -> AsyncIterator[tuple[FakeBotAPI, TrackingApplication, aiohttp.ClientSession, str]]:
    """The bot in webhook mode against the fake server: (server, application, http, url)."""
    async with FakeBotAPI() as server:
        config = settings_for_test(database_url, telegram_api_base_url=server.base_url, **settings)
        runtime = build_application(config, clock, application_class=TrackingApplication)
        application = runtime.application
        assert isinstance(application, TrackingApplication)
        async with (
            started(application),
            webhook_server(
                application, path="/hook", secret=SECRET, host="127.0.0.1", port=0
            ) as port,
            aiohttp.ClientSession() as http,
        ):
            yield server, application, http, f"http://127.0.0.1:{port}/hook"


async def test_secret_token_is_required(database_url: str, clock: FakeClock) -> None:
    async with webhook_bot(database_url, clock) as (server, application, http, url):
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET[:-1]}):
            async with http.post(url, json=help_update(1), headers=headers) as response:
                assert response.status == 403
        async with http.post(url, json=help_update(2), headers={SECRET_HEADER: SECRET}) as ok:
            assert ok.status == 200
        await application.wait_finished(2, 10)
        async with http.post(url, data=b"not json", headers={SECRET_HEADER: SECRET}) as bad:
            assert bad.status == 400
        assert len(server.messages(1001)) == 1  # only the authenticated update was handled


def unparsable_update(update_id: int) -> dict[str, object]:
    """A message in a field shape this PTB cannot read (a photo as an object, not a list)."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": 3003, "type": "private", "first_name": "Kestrel"},
            "from": {"id": 3003, "is_bot": False, "first_name": "Kestrel"},
            "text": "canary words: the night shift",
            "photo": {"new": "shape"},
        },
    }


async def test_an_unparsable_update_is_acknowledged_and_the_next_one_answered(
    database_url: str, clock: FakeClock
) -> None:
    """Refusing it (or failing with a 500) would make Telegram send it again and again, and
    hold back every update behind it; logging it would put a person's words in the log."""
    with production_log([TEST_TOKEN]) as log:
        async with webhook_bot(database_url, clock) as (server, application, http, url):
            headers = {SECRET_HEADER: SECRET}
            async with http.post(url, json=unparsable_update(7), headers=headers) as skipped:
                assert skipped.status == 200  # acknowledged: Telegram will not resend it
            async with http.post(url, json=help_update(8), headers=headers) as ok:
                assert ok.status == 200
            await application.wait_finished(8, 10)
            [answer] = server.messages(1001)
            assert "/support" in (answer.text or "")
            assert server.messages(3003) == []
    text = log.getvalue()
    assert "skipped update 7 (message)" in text
    assert text.count("skipped update") == 1
    assert "Kestrel" not in text and "canary words" not in text and "night shift" not in text
    assert "ERROR" not in text and "CRITICAL" not in text and "Traceback" not in text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"TELEGRAM_WEBHOOK_URL": "https://example.org/hook"},
            "TELEGRAM_WEBHOOK_SECRET is required",
        ),
        (
            {
                "TELEGRAM_WEBHOOK_URL": "https://example.org/hook",
                "TELEGRAM_WEBHOOK_SECRET": "short",
            },
            "TELEGRAM_WEBHOOK_SECRET: Value error, must be 32-256 characters",
        ),
        ({"TELEGRAM_WEBHOOK_URL": "http://example.org/hook"}, "TELEGRAM_WEBHOOK_URL: Value error"),
    ],
)
def test_webhook_mode_refuses_to_start_without_a_strong_secret(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings(_env_file=None)
    assert str(info.value).startswith(message)
    assert "short" not in str(info.value)


async def test_refused_requests_are_summarised_at_most_once_a_minute(
    database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone can POST to the webhook: one WARNING per refused request would let them flood
    the log. The first refusal is logged at once, later ones as a count at most once a minute,
    and what is left when the server stops."""
    seconds = [1000.0]
    async with FakeBotAPI() as server:
        settings = settings_for_test(database_url, telegram_api_base_url=server.base_url)
        runtime = build_application(settings, clock, application_class=TrackingApplication)
        caplog.set_level(logging.INFO, logger="bot.webhook")
        async with (
            started(runtime.application),
            webhook_server(
                runtime.application,
                path="/hook",
                secret=SECRET,
                host="127.0.0.1",
                port=0,
                now=lambda: seconds[0],
            ) as port,
            aiohttp.ClientSession() as http,
        ):
            url = f"http://127.0.0.1:{port}/hook"

            async def refused(times: int) -> None:
                for _ in range(times):
                    async with http.post(url, json=help_update(1)) as response:
                        assert response.status == 403

            await refused(300)
            assert _warnings(caplog) == ["webhook requests refused (wrong secret token): 1"]
            seconds[0] += 59
            await refused(200)
            assert len(_warnings(caplog)) == 1  # still within the minute
            seconds[0] += 1
            await refused(1)
            seconds[0] += 30
            await refused(3)
        assert _warnings(caplog) == [
            "webhook requests refused (wrong secret token): 1",
            "webhook requests refused (wrong secret token): 500 in the last 60 s",
            "webhook requests refused (wrong secret token): 3 in the last 30 s",
        ]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.webhook" and r.levelno == logging.WARNING
    ]


async def test_a_flood_through_the_webhook_is_limited_as_it_arrives(
    database_url: str, clock: FakeClock
) -> None:
    """The webhook admits updates through the same door as long polling: counted against the
    flood limit as each arrives, the ignored ones acknowledged and dropped unparsed."""
    async with webhook_bot(database_url, clock, flood_limit="5/10 seconds") as bot:
        server, application, http, url = bot
        for update_id in range(1, 31):
            async with http.post(
                url, json=help_update(update_id), headers={SECRET_HEADER: SECRET}
            ) as response:
                assert response.status == 200
        for update_id in range(1, 31):
            await application.wait_finished(update_id, 10)
        replies = [m.text or "" for m in server.messages(1001)]
    assert len(replies) == 6  # the five the limit allows, then told once to slow down
    assert sum("faster than I can keep up" in text for text in replies) == 1


async def test_telegram_is_answered_once_the_update_is_handled(
    database_url: str, clock: FakeClock
) -> None:
    """Telegram sends a chat's next update only after a 2xx for the one before (its Bot API
    server's per-chat queue): answering once the update is handled keeps a chat's updates in
    order across processes, and an update a killed process never finished is sent again."""
    async with webhook_bot(database_url, clock) as (server, _application, http, url):
        server.latency = 0.3  # each Bot API call takes a while
        async with http.post(url, json=help_update(1), headers={SECRET_HEADER: SECRET}) as ok:
            assert ok.status == 200
            assert len(server.messages(1001)) == 1  # the reply went out before the answer


async def test_a_slow_update_is_answered_after_a_bound_and_still_handled(
    database_url: str, clock: FakeClock
) -> None:
    """Past the bound Telegram would give up and send the update again: answer, carry on."""
    async with FakeBotAPI() as server:
        config = settings_for_test(database_url, telegram_api_base_url=server.base_url)
        runtime = build_application(config, clock, application_class=TrackingApplication)
        application = runtime.application
        assert isinstance(application, TrackingApplication)
        async with (
            started(application),
            webhook_server(
                application,
                path="/hook",
                secret=SECRET,
                host="127.0.0.1",
                port=0,
                answer_within=0.2,
            ) as port,
            aiohttp.ClientSession() as http,
        ):
            server.latency = 1.0
            started_at = time.monotonic()
            async with http.post(
                f"http://127.0.0.1:{port}/hook",
                json=help_update(1),
                headers={SECRET_HEADER: SECRET},
            ) as ok:
                assert ok.status == 200
            assert time.monotonic() - started_at < 0.9
            assert server.messages(1001) == []
            await application.wait_finished(1, 10)
            assert len(server.messages(1001)) == 1
