"""Webhook mode: only requests carrying the secret token are processed."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app import build_application, started
from bot.clock import FakeClock
from bot.config import SettingsError, load_settings
from bot.fake_bot_api import FakeBotAPI
from bot.simulator import TrackingApplication
from bot.webhook import SECRET_HEADER, webhook_server
from tests.harness import settings_for_test

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


async def test_secret_token_is_required(database_url: str, clock: FakeClock) -> None:
    async with FakeBotAPI() as server:
        settings = settings_for_test(database_url, telegram_api_base_url=server.base_url)
        runtime = build_application(settings, clock, application_class=TrackingApplication)
        application = runtime.application
        assert isinstance(application, TrackingApplication)
        async with (
            started(application),
            webhook_server(
                application, path="/hook", secret=SECRET, host="127.0.0.1", port=0
            ) as port,
            aiohttp.ClientSession() as http,
        ):
            url = f"http://127.0.0.1:{port}/hook"
            for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET[:-1]}):
                async with http.post(url, json=help_update(1), headers=headers) as response:
                    assert response.status == 403
            async with http.post(url, json=help_update(2), headers={SECRET_HEADER: SECRET}) as ok:
                assert ok.status == 200
            await application.wait_finished(2, 10)
            async with http.post(url, data=b"not json", headers={SECRET_HEADER: SECRET}) as bad:
                assert bad.status == 400
        assert len(server.messages(1001)) == 1  # only the authenticated update was handled


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
