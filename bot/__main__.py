"""Command line: `python -m bot [run|sandbox|migrate|lessons check|lessons preview ID]`.

The composition itself lives in bot.app; this module reads settings, sets up logging and
dispatches to a subcommand. Exit codes: 0 success, 1 failed check, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bot.clock import SystemClock
from bot.config import Settings, SettingsError, load_settings
from bot.logs import configure_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Trauma-informed practice micro-learning bot."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the bot (long polling); the default")
    sandbox = sub.add_parser(
        "sandbox", help="chat with the bot locally, no Telegram account needed"
    )
    sandbox.add_argument("--user", type=int, default=1001, help="the simulated user's id")
    sub.add_parser("migrate", help="upgrade the database to the latest schema and exit")
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
    configure_logging(settings.log_level, secrets=[token])
    command = args.command or "run"
    if command == "lessons":
        return _lessons(settings, args)
    if command == "migrate":
        from bot.migrations import upgrade

        upgrade(settings.database_url)
        print("Database is up to date.")
        return 0
    if command == "run" and not token:
        print("No TELEGRAM_BOT_TOKEN set: starting the local sandbox instead.", file=sys.stderr)
        command = "sandbox"
    if command == "sandbox":
        from bot.sandbox import run_sandbox

        return run_sandbox(settings, user_id=getattr(args, "user", 1001))
    return _run(settings)


def _lessons(settings: Settings, args: argparse.Namespace) -> int:
    from bot.content_cli import run_check, run_preview

    if args.lessons_command == "check":
        return run_check(settings.lessons_dir, sys.stdout, settings.support_file)
    return run_preview(settings.lessons_dir, args.item_id, sys.stdout)


def _run(settings: Settings) -> int:
    """Migrate, then poll (or serve the webhook) until SIGINT/SIGTERM; pending updates are kept."""
    from bot.app import ALLOWED_UPDATES, build_application
    from bot.content import ContentError
    from bot.migrations import upgrade

    try:
        runtime = build_application(settings, SystemClock())
    except ContentError as exc:
        problems = len(exc.problems)
        print(
            f"The course content has {problems} problem(s); see: python -m bot lessons check",
            file=sys.stderr,
        )
        return 1
    upgrade(settings.database_url)
    if settings.telegram_webhook_url and settings.telegram_webhook_secret:
        from bot.webhook import run_webhook

        asyncio.run(
            run_webhook(
                runtime.application,
                url=settings.telegram_webhook_url,
                secret=settings.telegram_webhook_secret.get_secret_value(),
                host=settings.webhook_listen,
                port=settings.webhook_port,
            )
        )
        return 0
    runtime.application.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
