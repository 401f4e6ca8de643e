"""The command line as a new user meets it: sandbox, run without a token, SIGTERM, logging."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.logs import JSON_KEYS, Format, configure_logging
from bot.sandbox.fake_telegram.faults import ServerError
from bot.sandbox.fake_telegram.server import FakeBotAPI
from tests.support.harness import ROOT, bot_under_test, production_log

CANARY_TOKEN = "424242:CANARY-TOKEN-must-never-be-logged"


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "LESSONS_DIR": str(ROOT / "lessons"),
    }
    env.update(extra)
    return env


def run_cli(
    tmp_path: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        env=cli_env(tmp_path, **env),
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_subcommands(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("run", "sandbox", "migrate", "lessons"):
        assert command in result.stdout


def test_the_console_scripts_are_the_same_command_lines(tmp_path: Path) -> None:
    """`trauma-bot` runs bot.__main__.main (every subcommand); `trauma-bot-worker` the worker."""
    from bot.__main__ import main as bot_main
    from scheduler.worker import main as worker_main

    scripts = entry_points(group="console_scripts")
    assert scripts["trauma-bot"].load() is bot_main
    assert scripts["trauma-bot-worker"].load() is worker_main
    installed = Path(sys.executable).parent / "trauma-bot"
    if not installed.exists():
        pytest.skip("the package is not installed in this interpreter's environment")
    result = subprocess.run(
        [str(installed), "--help"],
        env=cli_env(tmp_path),
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: trauma-bot")
    assert result.stdout.split("\n\n")[1:] == run_cli(tmp_path, "--help").stdout.split("\n\n")[1:]


def test_sandbox_is_scriptable(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "sandbox", stdin="/help\n")
    assert result.returncode == 0, result.stderr
    assert "bot> " in result.stdout
    assert "/support" in result.stdout


def test_run_without_a_token_says_so_and_opens_the_sandbox(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "run", stdin="/support\n:now\n")
    assert result.returncode == 0, result.stderr
    assert "No TELEGRAM_BOT_TOKEN set: starting the local sandbox instead." in result.stderr
    assert "116 123" in result.stdout
    assert "clock:" in result.stdout


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.sqlite3").exists()


async def test_run_keeps_pending_updates_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeBotAPI() as server:
        waiting = server.send_text(1001, "/help")  # sent while the bot was down
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=cli_env(
                tmp_path,
                TELEGRAM_BOT_TOKEN=CANARY_TOKEN,
                TELEGRAM_API_BASE_URL=server.base_url,
                LOG_LEVEL="DEBUG",
            ),
            cwd=str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await server.wait_until(lambda: bool(server.messages(1001)), timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert waiting == 1
        assert "/support" in (server.messages(1001)[0].text or "")
        assert process.returncode == 0, stderr.decode()
        assert CANARY_TOKEN.split(":")[1] not in (stdout + stderr).decode()


@pytest.fixture
def captured_debug_log() -> Iterator[io.StringIO]:
    """Route all logging at DEBUG through the bot's own filters into a buffer."""
    with production_log([CANARY_TOKEN]) as buffer:
        yield buffer


async def test_nothing_personal_or_secret_reaches_the_log(
    database_url: str, clock: FakeClock, captured_debug_log: io.StringIO
) -> None:
    canaries = ["CANARY-TOKEN", "canary-reflection-text", "canary-start-payload"]
    async with bot_under_test(database_url, clock, telegram_bot_token=CANARY_TOKEN) as bot:
        await bot.send("/start canary-start-payload")
        await bot.send("canary-reflection-text about my shift")
        await bot.send("/help")
    log = captured_debug_log.getvalue()
    assert "DEBUG" in log or "INFO" in log  # logging was on
    for canary in canaries:
        assert canary not in log


@pytest.mark.parametrize(
    ("mode", "log_format"), [("polling", "text"), ("webhook", "text"), ("polling", "json")]
)
async def test_a_rejected_token_is_never_printed(
    tmp_path: Path, mode: str, log_format: str
) -> None:
    """Telegram answers 401 to getMe: PTB raises InvalidToken with the token in its message and
    logs it with a traceback. The bot says the token was refused, exits 2, and prints no token."""
    webhook = (
        {"TELEGRAM_WEBHOOK_URL": "https://example.org/hook", "TELEGRAM_WEBHOOK_SECRET": "s" * 40}
        if mode == "webhook"
        else {}
    )
    async with FakeBotAPI() as server:
        server.inject("getMe", times=None, fault=ServerError(401, "Unauthorized"))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=cli_env(
                tmp_path,
                TELEGRAM_BOT_TOKEN=CANARY_TOKEN,
                TELEGRAM_API_BASE_URL=server.base_url,
                LOG_LEVEL="DEBUG",
                LOG_FORMAT=log_format,
                **webhook,
            ),
            cwd=str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    output = (stdout + stderr).decode()
    assert server.calls("getMe"), "the token was never tried"
    assert process.returncode == 2, output
    assert CANARY_TOKEN.split(":")[1] not in output
    if mode == "polling":  # PTB's retry loop logs the refusal with its traceback: redacted
        assert "[redacted]" in output
    if log_format == "json":  # every log line is one JSON object; the last line is for people
        lines = stderr.decode().strip().splitlines()[:-1]
        assert lines and all(json.loads(line)["level"] for line in lines)
    # A refused token is a configuration error, said in one line, not an uncaught traceback.
    assert stderr.decode().strip().splitlines()[-1] == (
        "Telegram refused the bot token: check TELEGRAM_BOT_TOKEN (from @BotFather)."
    )


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_tracebacks_and_stacks_are_redacted_too(log_format: Format) -> None:
    """The redaction covers the formatted exception and stack text, not only the message."""
    log = logging.getLogger("bot.test")
    with production_log([CANARY_TOKEN], log_format) as buffer:
        try:
            raise RuntimeError(f"The token `{CANARY_TOKEN}` was rejected by the server.")
        except RuntimeError:
            log.exception("start-up failed")
        log.warning("where %s was", CANARY_TOKEN.split(":")[1], stack_info=True)
        secret_in_url = f"https://api.telegram.org/bot{CANARY_TOKEN.replace(':', '%3A')}/getMe"
        log.error("request to %s failed", secret_in_url)
    text = buffer.getvalue()
    if log_format == "json":
        records = [json.loads(line) for line in text.splitlines()]
        assert [r["level"] for r in records] == ["ERROR", "WARNING", "ERROR"]
        assert all(set(r) <= set(JSON_KEYS) and r["logger"] == "bot.test" for r in records)
        assert "exc_info" in records[0] and "stack_info" in records[1]
        text = "\n".join(str(value) for record in records for value in record.values())
    assert "Traceback" in text and "RuntimeError" in text and "Stack (most recent" in text
    assert "RuntimeError: The token `[redacted]` was rejected" in text
    assert "where [redacted] was" in text and "/bot424242%3A[redacted]/getMe" in text
    assert CANARY_TOKEN.split(":")[1] not in text


def test_json_lines_keep_their_fixed_keys_and_leave_extras_out() -> None:
    """An `extra=` attribute never went through the redaction filter: it is not written."""
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging("INFO", secrets=[CANARY_TOKEN], stream=buffer, fmt="json")
    try:
        logging.getLogger("bot.test").info(
            "hello %s", "there", extra={"first_name": "Kestrel", "token": CANARY_TOKEN}
        )
        logging.getLogger("httpx").info("GET https://api.telegram.org/bot%s/getMe", CANARY_TOKEN)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
    [line] = buffer.getvalue().splitlines()  # httpx's request line is held below its floor
    record = json.loads(line)
    assert list(record) == ["time", "level", "logger", "message"]
    assert (record["level"], record["logger"], record["message"]) == (
        "INFO",
        "bot.test",
        "hello there",
    )
    assert "Kestrel" not in line and "CANARY" not in line
