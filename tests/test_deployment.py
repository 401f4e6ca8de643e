"""docker-compose.yml and the Dockerfile (no Docker engine here, so they are checked as data)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_compose_services_variables_and_healthcheck() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db, bot = compose["services"]["db"], compose["services"]["bot"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    assert bot["build"] == "."
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    env = bot["environment"]
    assert re.fullmatch(r"\$\{TELEGRAM_BOT_TOKEN:\?.+\}", env["TELEGRAM_BOT_TOKEN"])
    # PostgreSQL has no key file: the master key must be given.
    assert re.fullmatch(r"\$\{ENCRYPTION_KEY:\?.+\}", env["ENCRYPTION_KEY"])
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@db:5432/" in env["DATABASE_URL"]
    assert "migrate" in " ".join(bot["command"]) and "run" in " ".join(bot["command"])
    for name in env:
        assert name.lower() in Settings.model_fields or name == "POSTGRES_PASSWORD", name


def test_dockerfile_copies_what_the_bot_needs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for path in ("bot", "scheduler", "alembic", "lessons", "alembic.ini", "pyproject.toml"):
        assert re.search(rf"^COPY .*\b{re.escape(path)}\b", dockerfile, re.M), path


def test_env_example_documents_every_setting() -> None:
    documented = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert documented == {name.upper() for name in Settings.model_fields}
