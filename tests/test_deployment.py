"""docker-compose.yml, .env.example and the Dockerfile: every setting reaches the container, and
the container's own command works with the environment Compose would give it.

There is no Docker engine here. Compose's variable substitution is done by
tests/support/compose_env.py (and cross-checked against `docker-compose config` when the Debian
package is installed, as .ci/run does); then `python -m bot migrate` and the healthcheck run in
a subprocess with exactly the environment the bot container would get, the database host `db`
swapped for a fresh local database (PostgreSQL from TEST_DATABASE_URL, else a SQLite file).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.monitoring import Monitor, Probe
from bot.services.outbox.types import Backlog
from tests.support.compose_env import ComposeError, interpolate, parse_env_file, substitute
from tests.support.databases import TEST_DATABASE_URL, create_pg_database, drop_pg_database
from tests.support.harness import TEST_ENCRYPTION_KEY

ROOT = Path(__file__).resolve().parent.parent
# Variables only docker-compose.yml reads (the bot never sees them by these names).
COMPOSE_ONLY = {"POSTGRES_PASSWORD", "WEBHOOK_PROXY_PORT"}
# The least a `.env` needs for `docker compose up`, as the README says.
MINIMAL_ENV = {
    "TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN-not-real",
    "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
    "POSTGRES_PASSWORD": "s3cretForTestsOnly",
}
SETTINGS = {name.upper() for name in Settings.model_fields}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _documented() -> set[str]:
    return {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }


def _bot_environment(env: dict[str, str]) -> dict[str, str]:
    bot = interpolate(_compose(), env)["services"]["bot"]
    return {name: str(value) for name, value in bot["environment"].items()}


def test_compose_services_and_healthchecks() -> None:
    compose = _compose()
    db, bot = compose["services"]["db"], compose["services"]["bot"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    assert bot["build"] == "."
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "migrate" in " ".join(bot["command"]) and "run" in " ".join(bot["command"])
    assert bot["healthcheck"]["test"] == ["CMD", "python", "-m", "bot", "health", "--http"]
    # The healthcheck asks /healthz, so the container serves it unless told otherwise, and only
    # inside the container (the default listen address).
    env = _bot_environment(MINIMAL_ENV)
    assert env["METRICS_PORT"] == "9100" and env["METRICS_LISTEN"] == ""
    assert Settings(_env_file=None, metrics_listen="").metrics_listen == "127.0.0.1"  # type: ignore[call-arg]


def test_every_setting_reaches_the_container() -> None:
    env = _compose()["services"]["bot"]["environment"]
    assert set(env) == SETTINGS
    assert _documented() == SETTINGS | COMPOSE_ONLY


@pytest.mark.parametrize("name", sorted(SETTINGS - {"DATABASE_URL"}))
def test_a_value_in_env_reaches_the_bot_unchanged(name: str) -> None:
    assert _bot_environment({**MINIMAL_ENV, name: "chosen-value"})[name] == "chosen-value"


def test_required_values_have_no_default() -> None:
    for name in MINIMAL_ENV:
        with pytest.raises(ComposeError, match=name):
            interpolate(_compose(), {k: v for k, v in MINIMAL_ENV.items() if k != name})
    # The password is the one in .env, in both services, never a known word.
    compose = interpolate(_compose(), MINIMAL_ENV)
    password = MINIMAL_ENV["POSTGRES_PASSWORD"]
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"] == password
    url = make_url(compose["services"]["bot"]["environment"]["DATABASE_URL"])
    assert (url.drivername, url.host, url.port) == ("postgresql+asyncpg", "db", 5432)
    assert url.password == password


@pytest.fixture
def local_database(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database standing in for the compose `db` service."""
    if TEST_DATABASE_URL:
        url = create_pg_database()
        try:
            yield url
        finally:
            drop_pg_database(url)
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'bot.sqlite3'}"


def _container_run(
    command: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *command],
        env=env,
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _filled_env_example() -> dict[str, str]:
    """`.env.example` copied to `.env` with the three required values filled in."""
    return {**parse_env_file((ROOT / ".env.example").read_text()), **MINIMAL_ENV}


@pytest.mark.parametrize("dotenv", [lambda: MINIMAL_ENV, _filled_env_example])
def test_the_documented_env_migrates_and_is_healthy(
    local_database: str, tmp_path: Path, dotenv: Any
) -> None:
    env = _bot_environment(dotenv())
    assert "@db:5432/" in env["DATABASE_URL"]
    env["DATABASE_URL"] = local_database  # the one change: `db` is not a host here
    app = tmp_path / "app"  # the image's WORKDIR: alembic.ini, lessons/ and no .env
    app.mkdir()
    shutil.copytree(ROOT / "lessons", app / "lessons")

    migrated = _container_run(["migrate"], env, app)
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout
    health = _container_run(["health"], env, app)
    assert health.returncode == 0, health.stderr


def test_healthcheck_fails_when_the_database_does_not_answer(tmp_path: Path) -> None:
    env = _bot_environment(MINIMAL_ENV)
    env["DATABASE_URL"] = "postgresql+asyncpg://bot:x@127.0.0.1:9/bot"  # nothing listens there
    result = _container_run(["health"], env, tmp_path)
    assert result.returncode == 1
    assert "x@" not in result.stderr  # the password in the URL is never printed
    assert result.stderr.strip().splitlines() == ["Database is not reachable."]


async def test_the_compose_healthcheck_asks_healthz(tmp_path: Path) -> None:
    """`python -m bot health --http` with the container's environment: 0 while /healthz says
    healthy; 1, with the reason, when it does not or nothing answers."""
    healthy = Probe(backlog=_no_backlog, last_tick=lambda: None, tick_seconds=30.0)

    async def unreachable() -> Backlog:
        raise ConnectionRefusedError

    sick = Probe(backlog=unreachable, last_tick=lambda: None, tick_seconds=30.0)
    env = _bot_environment(MINIMAL_ENV)
    env["DATABASE_URL"] = "postgresql+asyncpg://bot:x@127.0.0.1:9/bot"  # never asked directly
    command = ["health", *_compose()["services"]["bot"]["healthcheck"]["test"][5:]]
    for probe, expected in ((healthy, 0), (sick, 1)):
        async with Monitor(probe, host="127.0.0.1", port=0) as monitor:
            env["METRICS_PORT"] = str(monitor.port)
            result = await asyncio.to_thread(_container_run, command, env, tmp_path)
        assert result.returncode == expected, result.stderr
    assert "Unhealthy: the database does not answer" in result.stderr
    result = await asyncio.to_thread(_container_run, command, env, tmp_path)  # stopped now
    assert result.returncode == 1 and "No answer from" in result.stderr


async def _no_backlog() -> Backlog:
    return Backlog(0, 0.0)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_agrees_with_our_substitution(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in MINIMAL_ENV.items()))
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    result = subprocess.run(
        ["docker-compose", "config"],
        cwd=str(tmp_path),
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    theirs = yaml.safe_load(result.stdout)["services"]["bot"]["environment"]
    ours = _bot_environment(MINIMAL_ENV)
    assert {k: str(v) for k, v in theirs.items()} == ours


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "1"}, "1"),
        ("$A/$$A", {"A": "1"}, "1/$A"),
        ("${A}", {}, ""),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:?no}", {"A": "x"}, "x"),
        ("${A?no}", {"A": ""}, ""),
        ("x${A:-}y", {}, "xy"),
    ],
)
def test_substitution_rules(text: str, env: dict[str, str], expected: str) -> None:
    assert substitute(text, env) == expected


@pytest.mark.parametrize(("text", "env"), [("${A:?no}", {"A": ""}), ("${A?no}", {}), ("${", {})])
def test_substitution_errors(text: str, env: dict[str, str]) -> None:
    with pytest.raises(ComposeError):
        substitute(text, env)


def test_env_file_parsing() -> None:
    assert parse_env_file("# c\nA=1\nB='two words'\n\nC=\n") == {
        "A": "1",
        "B": "two words",
        "C": "",
    }


def test_dockerfile_copies_what_the_bot_needs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for path in ("bot", "scheduler", "alembic", "lessons", "alembic.ini", "pyproject.toml"):
        assert re.search(rf"^COPY .*\b{re.escape(path)}\b", dockerfile, re.M), path
