"""Command line: `python -m bot [run|sandbox|migrate|health|lessons check|lessons preview ID]`.

Installed, the same command line is also the `trauma-bot` console script (pyproject.toml).

The composition itself lives in bot.app; this module reads settings, sets up logging and
dispatches to a subcommand. Exit codes: 0 success, 1 failed check, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings, SettingsError, load_settings
from bot.core.clock import SystemClock
from bot.logs import configure_logging, log_uncaught_exceptions

if TYPE_CHECKING:
    from bot.app import BotApplication


SCRIPT = "trauma-bot"  # the console script ([project.scripts] in pyproject.toml)


def _parser() -> argparse.ArgumentParser:
    prog = SCRIPT if Path(sys.argv[0]).name == SCRIPT else "python -m bot"
    parser = argparse.ArgumentParser(
        prog=prog, description="Trauma-informed practice micro-learning bot."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the bot (long polling); the default")
    sandbox = sub.add_parser(
        "sandbox", help="chat with the bot locally, no Telegram account needed"
    )
    sandbox.add_argument("--user", type=int, default=1001, help="the simulated user's id")
    sub.add_parser("migrate", help="upgrade the database to the latest schema and exit")
    health = sub.add_parser(
        "health", help="exit 0 when the database answers, else 1 (a healthcheck)"
    )
    health.add_argument(
        "--http",
        action="store_true",
        help="ask the running bot's /healthz instead (needs METRICS_PORT): exit 0 when healthy",
    )
    keys = sub.add_parser("keys", help="encryption keys for learners' private reflections")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    keys_sub.add_parser("new", help="print a new master key for ENCRYPTION_KEY")
    keys_sub.add_parser(
        "rotate",
        help="re-wrap every data key under ENCRYPTION_KEY (old key: ENCRYPTION_PREVIOUS_KEY)",
    )
    lessons = sub.add_parser("lessons", help="validate or preview the course content")
    lessons_sub = lessons.add_subparsers(dest="lessons_command", metavar="ACTION", required=True)
    lessons_sub.add_parser("check", help="validate every lesson, card and the support text")
    preview = lessons_sub.add_parser("preview", help="print a lesson or card as the bot sends it")
    preview.add_argument("item_id", help="a lesson or card id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    command = args.command or "run"
    if command == "run" and not token:
        print("No TELEGRAM_BOT_TOKEN set: starting the local sandbox instead.", file=sys.stderr)
        command = "sandbox"
    level = settings.log_level
    if command == "sandbox" and "log_level" not in settings.model_fields_set:
        level = "WARNING"  # a chat in the terminal: keep routine logs out of it
    configure_logging(level, secrets=[token], fmt=settings.log_format)
    log_uncaught_exceptions()
    if command == "lessons":
        return _lessons(settings, args)
    if command == "keys":
        return _keys(settings, args.keys_command)
    if command == "migrate":
        from bot.db.migrations import upgrade

        upgrade(settings.database_url)
        print("Database is up to date.")
        return 0
    if command == "health" and args.http:
        return _ask_healthz(settings)
    if command == "health":
        from bot.db.engine import database_answers

        if asyncio.run(database_answers(settings.database_url)):
            return 0
        print("Database is not reachable.", file=sys.stderr)
        return 1
    if command == "sandbox":
        from bot.sandbox.terminal import run_sandbox

        return run_sandbox(settings, user_id=getattr(args, "user", 1001))
    return _run(settings)


def _ask_healthz(settings: Settings) -> int:
    """GET the running process's /healthz on this machine: 0 when it says healthy, else 1."""
    import json
    import urllib.error
    import urllib.request

    if settings.metrics_port is None:
        print("METRICS_PORT is not set: there is no /healthz to ask.", file=sys.stderr)
        return 2
    host = settings.metrics_listen
    host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 (a wildcard bind)
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    url = f"http://{host}:{settings.metrics_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        try:
            problems = json.loads(exc.read()).get("problems") or []
        except ValueError:
            problems = []
        print(f"Unhealthy: {'; '.join(problems) or exc.code}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"No answer from {url} ({type(exc).__name__}).", file=sys.stderr)
        return 1


def _lessons(settings: Settings, args: argparse.Namespace) -> int:
    from bot.content_cli import run_check, run_preview

    if args.lessons_command == "check":
        return run_check(settings.lessons_dir, sys.stdout, settings.support_file)
    return run_preview(settings.lessons_dir, args.item_id, sys.stdout)


def _keys(settings: Settings, action: str) -> int:
    from bot.core.crypto import MasterKeyError, new_master_key_text

    if action == "new":
        print(new_master_key_text())
        return 0
    try:
        rotated = asyncio.run(_with_keys(settings, rotate=True))
    except MasterKeyError as exc:
        print(f"Encryption key problem: {exc}", file=sys.stderr)
        return 2
    print(f"Re-wrapped {rotated} data key(s) under the current ENCRYPTION_KEY.")
    return 0


async def _with_keys(settings: Settings, *, rotate: bool) -> int:
    """Verify (and optionally rotate) the master key against the stored data keys."""
    from bot.app import build_keyring
    from bot.db.engine import create_engine, create_sessions
    from bot.db.migrations import upgrade
    from bot.services.keys import KeyService

    await asyncio.to_thread(upgrade, settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        keys = KeyService(create_sessions(engine), build_keyring(settings))
        if rotate:
            return await keys.rotate()
        await keys.verify()
        return 0
    finally:
        await engine.dispose()


def _run(settings: Settings) -> int:
    """Migrate, then poll (or serve the webhook) until SIGINT/SIGTERM; pending updates are kept."""
    from telegram.error import InvalidToken

    from bot.app import build_application
    from bot.content.schema import ContentError
    from bot.core.crypto import MasterKeyError

    try:
        asyncio.run(_with_keys(settings, rotate=False))  # migrates, then fails closed on a bad key
        runtime = build_application(settings, SystemClock())
    except MasterKeyError as exc:
        print(f"Encryption key problem: {exc}", file=sys.stderr)
        return 2
    except ContentError as exc:
        problems = len(exc.problems)
        print(
            f"The course content has {problems} problem(s); see: python -m bot lessons check",
            file=sys.stderr,
        )
        return 1
    try:
        _serve(settings, runtime.application)
    except InvalidToken:
        # PTB's message repeats the token; this one does not.
        print(
            "Telegram refused the bot token: check TELEGRAM_BOT_TOKEN (from @BotFather).",
            file=sys.stderr,
        )
        return 2
    return 0


def _serve(settings: Settings, application: BotApplication) -> None:
    """Serve the webhook when it is configured, else poll; until SIGINT/SIGTERM."""
    from bot.app import ALLOWED_UPDATES

    if settings.telegram_webhook_url and settings.telegram_webhook_secret:
        from bot.webhook import run_webhook

        asyncio.run(
            run_webhook(
                application,
                url=settings.telegram_webhook_url,
                secret=settings.telegram_webhook_secret.get_secret_value(),
                host=settings.webhook_listen,
                port=settings.webhook_port,
                max_connections=settings.telegram_webhook_max_connections,
            )
        )
        return
    application.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)


if __name__ == "__main__":
    sys.exit(main())
