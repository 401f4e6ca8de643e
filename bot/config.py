"""Settings: one pydantic-settings class, read from the environment and an optional `.env`.

Every setting is optional, and an empty value means unset (its default applies).

Built once in `main()` and passed down; nothing reads the environment anywhere else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import limits
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/bot.sqlite3"
# Where the flood limit counts (bot/core/flood.py): this process, or Redis shared by processes.
FLOOD_IN_MEMORY = "memory://"
FLOOD_SHARED_SCHEMES = ("redis://", "rediss://")
# Telegram's allowed characters for a webhook secret token; we also insist on 32+ of them.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")


class Settings(BaseSettings):
    """Every setting the bot reads; see `.env.example` for the documented list."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = DEFAULT_API_BASE_URL
    database_url: str = DEFAULT_DATABASE_URL
    admin_telegram_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    lessons_dir: Path = Path("lessons")
    support_file: Path | None = None
    delivery_tick_seconds: float = Field(default=30.0, gt=0, le=3600)
    delivery_rate_per_second: float = Field(default=25.0, gt=0, le=1000)
    delivery_grace_hours: float = Field(default=12.0, ge=0, le=72)
    reminder_after_hours: float = Field(default=4.0, ge=0, le=24)
    encryption_key: SecretStr | None = None
    encryption_previous_key: SecretStr | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"  # noqa: S104 (inside a container; put a proxy in front)
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    # Connections Telegram opens to the webhook at once, for all processes together (its default).
    telegram_webhook_max_connections: int = Field(default=40, ge=1, le=100)
    flood_limit: str = "20/10 seconds"
    # Where the flood limit counts: memory:// (this process) or redis:// (shared by processes).
    flood_storage_url: str = FLOOD_IN_MEMORY
    # Replies a second per chat after a burst of three (Telegram allows about one); 0: unpaced.
    reply_chat_rate: float = Field(default=1.0, ge=0, le=30)
    # Retention (bot.services.retention): 0 switches a rule off.
    reflection_retention_days: int = Field(default=365, ge=0, le=36500)
    inactive_learner_retention_days: int = Field(default=730, ge=0, le=36500)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # "json": one JSON object a line, for log collectors (bot.logs); the same redaction applies.
    log_format: Literal["text", "json"] = "text"
    # /healthz and /metrics (bot.monitoring): off unless a port is set (0: any free port).
    metrics_listen: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        """Accept comma-separated numeric ids; a username (or anything else) is an error."""
        if isinstance(value, str):
            ids: set[int] = set()
            for part in filter(None, (p.strip() for p in value.split(","))):
                if not part.lstrip("-").isdigit():
                    raise ValueError("must be numeric Telegram ids separated by commas")
                ids.add(int(part))
            return frozenset(ids)
        return value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL (Telegram only calls HTTPS webhooks)")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("must be 32-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.telegram_webhook_url and self.telegram_webhook_secret is None:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required in webhook mode")
        return self

    @field_validator("flood_limit")
    @classmethod
    def _check_flood_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError("must look like '20/10 seconds' or '30 per minute'") from None
        return value

    @field_validator("flood_storage_url")
    @classmethod
    def _check_flood_storage_url(cls, value: str) -> str:
        if value != FLOOD_IN_MEMORY and not value.startswith(FLOOD_SHARED_SCHEMES):
            raise ValueError("must be memory:// or a redis:// (rediss://) URL")
        return value

    @field_validator("telegram_api_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, values: object) -> object:
        """An empty value means "not set" for every setting, from the environment, `.env` or code.

        docker-compose passes `NAME: ${NAME:-}` as an empty string; the default applies then.
        """
        if isinstance(values, dict):
            return {name: value for name, value in values.items() if value != ""}
        return values


class SettingsError(Exception):
    """A setting has a bad value; the message names the variable and never shows the value."""


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn a validation error into one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["loc"]:
            raise SettingsError(f"{str(first['loc'][0]).upper()}: {first['msg']}") from None
        # A whole-model rule: its message names the variable itself.
        raise SettingsError(str(first["msg"]).removeprefix("Value error, ")) from None
