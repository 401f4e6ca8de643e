"""PostgreSQL restarted during a delivery burst: the bot keeps running and nothing is lost.

Run (needs the local cluster and root or the postgres user; never part of the test run):
    TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/fault_pg_restart.py [--learners 500] [--restart-after 5]

The real bot (`python -m bot run`, production settings except a 1 s delivery tick) runs against
a fresh PostgreSQL database and the fake Bot API (30 ms a call), with N learners due at once.
Some seconds into the burst the cluster is restarted with
`pg_ctlcluster --skip-systemctl-redirect <version> main restart`; meanwhile a person sends /help
and /support. Afterwards: is the bot process still running, did delivery resume, did the person
get answers, and per chat lost / sent twice / uncertain (sends whose outcome could not be
recorded while the database was away: their lease expires after 60 s and the reaper marks them
uncertain; they did arrive and are not resent). Finally the bot gets SIGTERM and must exit 0.

The restart drops every connection to the cluster, so the script first waits until no other
database on it has clients (another benchmark or test run), unless --force.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.faults import new_database, pg_server_url
from bot.db.engine import create_engine
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.services.outbox.sql import DELIVERIES
from tests.support.factories import CHAT_BASE, seed_subscribers
from tests.support.faults import tally
from tests.support.harness import TEST_ENCRYPTION_KEY

TOKEN = "123456:PG-restart-bench-token"
PERSON = 999_001
LATENCY = 0.030


def restart_command() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]


async def other_clients(url: str) -> dict[str, int]:
    """Client connections to other databases on the cluster (ours and this query excluded)."""
    dsn = make_url(url).set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        rows = await conn.fetch(
            "SELECT datname, count(*) AS n FROM pg_stat_activity WHERE backend_type ="
            " 'client backend' AND pid <> pg_backend_pid() AND datname IS NOT NULL"
            " AND datname <> $1 GROUP BY datname",
            make_url(url).database,
        )
    finally:
        await conn.close()
    return {row["datname"]: int(row["n"]) for row in rows}


async def wait_for_quiet(url: str, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while True:
        busy = await other_clients(url)
        if not busy:
            return True
        if time.monotonic() > deadline:
            print(f"  other databases have clients {busy}: not restarting (use --force)")
            return False
        print(f"  waiting for other clients to finish: {busy}")
        await asyncio.sleep(5)


def bot_env(url: str, server: FakeBotAPI) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": server.base_url,
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "LESSONS_DIR": str(ROOT / "lessons"),
        "DELIVERY_TICK_SECONDS": "1",
        "LOG_LEVEL": "INFO",
    }


async def ask(server: FakeBotAPI, text: str, within: float) -> tuple[float | None, str]:
    """The person sends text; seconds until the bot answered (None: no answer) and the answer."""
    before = len(server.messages(PERSON))
    started = time.perf_counter()
    server.send_text(PERSON, text)
    try:
        await server.wait_until(lambda: len(server.messages(PERSON)) > before, within)
    except TimeoutError:
        return None, ""
    answer = server.messages(PERSON)[before].plain_text
    return time.perf_counter() - started, answer.splitlines()[0] if answer else ""


async def run(learners: int, restart_after: float, settle: float, wait: float, force: bool) -> int:
    url, drop = await asyncio.to_thread(new_database, "postgresql")
    engine = create_engine(url)
    try:
        await seed_subscribers(
            engine, learners, next_due_at=datetime.now(UTC) - timedelta(minutes=1)
        )
        async with FakeBotAPI() as server:
            server.latency = LATENCY
            bot = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=bot_env(url, server),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            lessons = lambda: sum(  # noqa: E731
                1 for chat in range(CHAT_BASE, CHAT_BASE + learners) if server.messages(chat)
            )
            await server.wait_until(lambda: lessons() > 0, 60)
            await asyncio.sleep(restart_after)
            if not force and not await wait_for_quiet(url, wait):
                bot.send_signal(signal.SIGTERM)
                await bot.communicate()
                return 2
            before = lessons()
            print(f"  {before} of {learners} lessons delivered; restarting PostgreSQL")
            restart = asyncio.create_task(asyncio.to_thread(_restart))
            during = [await ask(server, "/support", 10), await ask(server, "/help", 10)]
            restart_seconds = await restart
            print(
                f"  cluster restarted in {restart_seconds:.1f} s; during it /support answered in"
                f" {_s(during[0][0])} ({during[0][1]!r}), /help in {_s(during[1][0])}"
                f" ({during[1][1]!r})"
            )
            back, at_restart = time.perf_counter(), lessons()
            resumed_at: float | None = None
            deadline = back + settle
            while time.perf_counter() < deadline:
                if resumed_at is None and lessons() > at_restart:
                    resumed_at = time.perf_counter()
                if lessons() == learners:
                    break
                await asyncio.sleep(0.2)
            # Sends whose outcome was lost with the connection are recorded after their lease
            # (60 s) expires: wait for the reaper so the outbox can be compared.
            for _ in range(90):
                if not await unsettled(engine):
                    break
                await asyncio.sleep(1)
            alive = bot.returncode is None
            after, _ = await ask(server, "/help", 10)
            bot.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(bot.communicate(), 60)
            result = await tally(engine, server, learners)
        log = err.decode()
        await asyncio.to_thread(
            Path(tempfile.gettempdir(), "fault_pg_restart_bot.log").write_text, log
        )
        errors = [line for line in log.splitlines() if " ERROR " in line]
        print(
            f"  bot process still running afterwards: {'yes' if alive else 'NO'};"
            f" the first lesson after the cluster was back went out"
            f" {_s(resumed_at - back if resumed_at else None)} later"
            f" ({at_restart} had gone before); /help afterwards answered in {_s(after)}"
        )
        print(f"  {result.line()}")
        print(
            f"  SIGTERM: exit code {bot.returncode}; {len(errors)} ERROR line(s) logged"
            f" during the outage: {sorted({_kind(line) for line in errors})}"
        )
        ok = alive and result.ok and after is not None and bot.returncode == 0
        print("bot kept running, nothing lost, nothing sent twice" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        await engine.dispose()
        await asyncio.to_thread(drop)


async def unsettled(engine: AsyncEngine) -> int:
    """Outbox rows still pending or being sent."""
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                select(func.count())
                .select_from(DELIVERIES)
                .where(DELIVERIES.c.status.in_(("pending", "sending")))
            )
            or 0
        )


def _restart() -> float:
    started = time.perf_counter()
    subprocess.run(restart_command(), check=True, capture_output=True)
    return time.perf_counter() - started


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f} s"


def _kind(line: str) -> str:
    return re.sub(r"^\S+ \S+ ERROR ", "", line)[:90]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--restart-after", type=float, default=5.0, help="seconds into the burst")
    parser.add_argument("--settle", type=float, default=120.0, help="max seconds to finish")
    parser.add_argument("--wait", type=float, default=600.0, help="max seconds to wait for quiet")
    parser.add_argument("--force", action="store_true", help="restart even if others use it")
    args = parser.parse_args()
    if not pg_server_url() or not os.path.isdir("/etc/postgresql"):
        print("needs a local PostgreSQL cluster and TEST_DATABASE_URL (or BENCH_DATABASE_URL)")
        return 2
    print(f"== PostgreSQL restart during a {args.learners}-learner burst (default rate 25/s)")
    return asyncio.run(run(args.learners, args.restart_after, args.settle, args.wait, args.force))


if __name__ == "__main__":
    sys.exit(main())
