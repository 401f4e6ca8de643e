"""Settings: defaults, parsing, and one clear line naming the variable on a bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "DATABASE_URL",
        "ADMIN_TELEGRAM_IDS",
        "DELIVERY_TICK_SECONDS",
        "LOG_LEVEL",
        "SUPPORT_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(str(tmp_path))  # no stray .env


def test_defaults() -> None:
    settings = load_settings()
    assert settings.telegram_bot_token is None
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.delivery_tick_seconds == 30
    assert settings.admin_telegram_ids == frozenset()
    assert settings.support_file is None


def test_admin_ids_are_numeric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TELEGRAM_IDS", " 12, 345 ,")
    assert load_settings().admin_telegram_ids == {12, 345}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ADMIN_TELEGRAM_IDS", "@someone"),
        ("DELIVERY_TICK_SECONDS", "soon"),
        ("DELIVERY_TICK_SECONDS", "0"),
        ("DATABASE_URL", "mysql://x"),
        ("LOG_LEVEL", "LOUD"),
        ("TELEGRAM_API_BASE_URL", "ftp://x"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{name}:")
    assert "\n" not in message


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:CANARY-TOKEN")
    settings = load_settings()
    assert "CANARY-TOKEN" not in repr(settings)
    assert "CANARY-TOKEN" not in str(settings.model_dump())


def test_cli_reports_bad_setting_in_one_line_without_secrets(tmp_path: object) -> None:
    env = {"PATH": "", "TELEGRAM_BOT_TOKEN": "123:CANARY-TOKEN", "DELIVERY_TICK_SECONDS": "x"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: DELIVERY_TICK_SECONDS: Input should be a valid number, "
        "unable to parse string as a number"
    ]
    assert "CANARY" not in result.stderr + result.stdout


def _every_setting() -> list[str]:
    from bot.config import Settings

    return sorted(name.upper() for name in Settings.model_fields)


@pytest.mark.parametrize("name", _every_setting())
def test_empty_means_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    """docker-compose passes `NAME: ${NAME:-}` as ""; every setting then takes its default."""
    defaults = load_settings()
    monkeypatch.setenv(name, "")
    assert load_settings() == defaults
    monkeypatch.delenv(name)
    (tmp_path / ".env").write_text(f"{name}=\n")
    assert load_settings() == defaults
    assert load_settings(**{name.lower(): ""}) == defaults
