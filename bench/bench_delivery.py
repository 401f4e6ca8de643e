"""Delivery at scale: the engine against the bare PTB floor and the naive run_daily design.

Run: .venv/bin/python bench/bench_delivery.py [--n 10000 100000] [--db sqlite postgresql]
     .venv/bin/python bench/bench_delivery.py --quick        (N=2,000; a 20 s cap check)

Every scenario runs in its own process (so peak RSS is that scenario's), against the fake Bot
API server in another process with 30 ms latency per call (so the server's CPU is not counted).
PostgreSQL runs when TEST_DATABASE_URL (or BENCH_DATABASE_URL) names a server; the benchmark
creates and drops its own database there.

* floor: the same N send_message calls (same text, keyboard and options as the engine's sender)
  made directly with PTB at the same concurrency, no DB.
* engine: N subscribers all due in the same minute; the tick claims them into the outbox (timed),
  then the sender drains it with the rate cap lifted to 1,000/s. CPU is this process's user+sys
  time (for SQLite that includes the database; PostgreSQL's server CPU is shown apart).
* naive: one PTB JobQueue run_daily job per subscriber, all at the same time of day.
* cap: 2,000 lessons at the default 25/s must take 80 s (within 5%).
* --processes K...: the paid broadcast (up to 1,000/s): the first N sent by K engine processes
  side by side from one PostgreSQL outbox, sharing one fake server; lessons per second together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Bot
from telegram.constants import ParseMode

from bot.config import Settings
from bot.core.clock import FakeClock
from bot.db.engine import create_engine, create_sessions
from bot.db.migrations import upgrade
from bot.services.outbox.service import DeliveryService
from bot.telegram_http import AiohttpRequest
from scheduler.engine import DeliveryEngine, default_concurrency
from scheduler.render import OutboxRenderer
from scheduler.sender import NO_PREVIEW, SendPolicy
from tests.support.factories import CHAT_BASE, make_content, make_lesson

TOKEN = "123456:BENCH-token"
DUE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
LATENCY = 0.030
LIFTED_RATE = 1000.0
# Sends in flight for both the engine and the floor: 16 x 30 ms latency allows 530 msg/s.
CONCURRENCY = 16
# A lesson of realistic length (the shipped ones are 600-900 characters of body).
BODY = (
    "When someone tells you about something painful, <b>listen first</b>. "
    + "Stay calm, keep your voice steady and let them set the pace. " * 12
)
CONTENT = make_content(lessons=[make_lesson(f"l{n:02d}", body=BODY) for n in range(1, 31)])


def _settings(rate: float) -> Settings:
    return Settings(_env_file=None, delivery_rate_per_second=rate)  # type: ignore[call-arg]


def _bot(base_url: str, concurrency: int) -> Bot:
    # The bot's own Bot API client (bot.telegram_http), engine and floor alike; a pool of 256
    # as in production, at least the sender's concurrency.
    return Bot(
        TOKEN,
        base_url=base_url,
        request=AiohttpRequest(connection_pool_size=max(256, concurrency + 16)),
    )


def _cpu() -> float:
    return time.process_time()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the fake Telegram, in its own process -------------------------------------------------------


def _serve(port_queue: Any, latency: float) -> None:
    from bot.sandbox.fake_telegram.server import FakeBotAPI

    async def run() -> None:
        server = FakeBotAPI()
        server.latency = latency
        await server.start()
        port_queue.put(server.port)
        await asyncio.Event().wait()

    asyncio.run(run())


def start_server(latency: float) -> tuple[multiprocessing.process.BaseProcess, str]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_serve, args=(queue, latency), daemon=True)
    process.start()
    port = queue.get(timeout=30)
    return process, f"http://127.0.0.1:{port}/bot"


# --- databases -----------------------------------------------------------------------------------


def pg_server_url() -> str | None:
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or None


def new_database(kind: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        path = workdir / f"bench-{time.monotonic_ns()}.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        return url, lambda: None
    os.environ.setdefault("TEST_DATABASE_URL", pg_server_url() or "")
    from tests.support import databases

    databases.TEST_DATABASE_URL = pg_server_url() or ""
    url = databases.create_pg_database()
    upgrade(url)
    return url, lambda: databases.drop_pg_database(url)


def postgres_cpu_seconds() -> float:
    """User+sys CPU of every local postgres process (the server's share of the work)."""
    try:
        import psutil
    except ImportError:
        return 0.0
    total = 0.0
    for process in psutil.process_iter(["name"]):
        try:
            if (process.info["name"] or "").startswith("postgres"):
                times = process.cpu_times()
                total += times.user + times.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


# --- scenarios (each runs in a fresh process and prints one JSON line) ---------------------------


async def scenario_seed(url: str, n: int) -> dict[str, Any]:
    from tests.support.factories import seed_subscribers

    engine = create_engine(url)
    started = time.perf_counter()
    await seed_subscribers(engine, n, next_due_at=DUE + timedelta(seconds=30))
    await engine.dispose()
    return {"seed_s": time.perf_counter() - started}


async def scenario_claim(url: str) -> dict[str, Any]:
    """Claim every due subscriber into the outbox (the tick's first half), sending nothing."""
    engine = create_engine(url)
    service = DeliveryService(
        create_sessions(engine), FakeClock(DUE + timedelta(seconds=59)), CONTENT, _settings(1.0)
    )
    claimed = 0
    while batch := await service.claim_due():
        claimed += batch
    await engine.dispose()
    return {"claimed": claimed}


async def scenario_engine(
    url: str, base_url: str, n: int, rate: float, concurrency: int, *, claim: bool = True
) -> dict[str, Any]:
    clock = FakeClock(DUE + timedelta(seconds=59))  # everyone fell due in this minute
    settings = _settings(rate)
    engine = create_engine(url)
    service = DeliveryService(create_sessions(engine), clock, CONTENT, settings)
    bot = _bot(base_url, concurrency)
    async with bot:
        delivery = DeliveryEngine(
            service, bot, CONTENT, settings, clock, concurrency=concurrency, policy=SendPolicy()
        )
        pg_before = postgres_cpu_seconds()
        cpu0, wall0 = _cpu(), time.perf_counter()
        claimed = await delivery.tick() if claim else 0
        cpu1, wall1, drain_started = _cpu(), time.perf_counter(), time.time()
        handled = await delivery.drain()
        cpu2, wall2, drain_ended = _cpu(), time.perf_counter(), time.time()
        pg_after = postgres_cpu_seconds()
    counts = await service.counts()
    await engine.dispose()
    sent = counts["sent"]
    return {
        "claimed": claimed,
        "handled": handled,
        "sent": sent,
        "other": {k: v for k, v in counts.by_status.items() if k != "sent"},
        "claim_s": wall1 - wall0,
        "claim_cpu_s": cpu1 - cpu0,
        "drain_s": wall2 - wall1,
        "drain_started": drain_started,  # wall clock, to add up processes sending side by side
        "drain_ended": drain_ended,
        "msgs_per_s": sent / (wall2 - wall1) if wall2 > wall1 else 0.0,
        "cpu_ms_per_lesson": (cpu2 - cpu0) * 1000 / max(1, sent),
        "send_cpu_ms_per_lesson": (cpu2 - cpu1) * 1000 / max(1, sent),
        "pg_server_cpu_ms_per_lesson": (pg_after - pg_before) * 1000 / max(1, sent),
        "peak_rss_mb": _peak_rss_mb(),
    }


async def scenario_floor(base_url: str, n: int, concurrency: int) -> dict[str, Any]:
    renderer = OutboxRenderer(CONTENT)
    from bot.services.outbox.types import OutboxItem

    sample = OutboxItem(0, 0, 0, CHAT_BASE, "lesson", DUE.date(), "l01", 1, 1, DUE)
    rendered = renderer(sample)
    assert rendered is not None
    bot = _bot(base_url, concurrency)
    sent = failed = 0
    async with bot:
        chats = iter(range(CHAT_BASE, CHAT_BASE + n))

        async def worker() -> None:
            nonlocal sent, failed
            for chat in chats:
                try:
                    await bot.send_message(
                        chat,
                        rendered.text,
                        parse_mode=ParseMode.HTML,
                        reply_markup=rendered.reply_markup,
                        link_preview_options=NO_PREVIEW,
                    )
                    sent += 1
                except Exception:
                    failed += 1

        cpu0, wall0 = _cpu(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu1, wall1 = _cpu(), time.perf_counter()
    return {
        "sent": sent,
        "failed": failed,
        "send_s": wall1 - wall0,
        "msgs_per_s": sent / (wall1 - wall0),
        "cpu_ms_per_lesson": (cpu1 - cpu0) * 1000 / max(1, sent),
        "peak_rss_mb": _peak_rss_mb(),
    }


async def scenario_naive(base_url: str, n: int, patient: bool) -> dict[str, Any]:
    """One run_daily job per subscriber, as a first version of a bot would do it.

    APScheduler skips a job that starts more than `misfire_grace_time` (1 s) late; `patient`
    runs them however late (misfire_grace_time=None), to see what sending them all costs.
    """
    from telegram.ext import ApplicationBuilder, ContextTypes

    renderer = OutboxRenderer(CONTENT)
    from bot.services.outbox.types import OutboxItem

    sample = OutboxItem(0, 0, 0, CHAT_BASE, "lesson", DUE.date(), "l01", 1, 1, DUE)
    rendered = renderer(sample)
    assert rendered is not None
    application = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
    done = failed = missed = 0
    last_progress = 0.0

    class CountMissed(logging.Handler):
        """APScheduler logs each job it skips because it started too late."""

        def emit(self, record: logging.LogRecord) -> None:
            nonlocal missed, last_progress
            if "missed" in record.getMessage():
                missed += 1
                last_progress = time.perf_counter()

    scheduler_log = logging.getLogger("apscheduler")
    scheduler_log.addHandler(CountMissed())
    scheduler_log.setLevel(logging.WARNING)
    scheduler_log.propagate = False

    async def lesson_job(context: ContextTypes.DEFAULT_TYPE) -> None:
        nonlocal done, failed, last_progress
        assert context.job is not None and context.job.chat_id is not None
        try:
            await context.bot.send_message(
                context.job.chat_id,
                rendered.text,
                parse_mode=ParseMode.HTML,
                reply_markup=rendered.reply_markup,
            )
            done += 1
        except Exception:
            failed += 1
        last_progress = time.perf_counter()

    stall = 0.0

    async def heartbeat() -> None:
        nonlocal stall
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            stall = max(stall, loop.time() - before - 0.01)

    async with application:
        job_queue = application.job_queue
        assert job_queue is not None
        await job_queue.start()
        margin = 3.0 + n * 0.00015
        # Whole seconds: run_daily keeps hour, minute and second only.
        fire_at = (datetime.now(UTC) + timedelta(seconds=margin)).replace(microsecond=0)
        cpu0, wall0 = _cpu(), time.perf_counter()
        for index in range(n):
            job_queue.run_daily(
                lesson_job,
                time=fire_at.timetz(),
                chat_id=CHAT_BASE + index,
                job_kwargs={"misfire_grace_time": None} if patient else None,
            )
        startup_s = time.perf_counter() - wall0
        startup_cpu = _cpu() - cpu0
        rss_scheduled = _peak_rss_mb()
        beat = asyncio.create_task(heartbeat())
        wait = max(0.0, (fire_at - datetime.now(UTC)).total_seconds())
        await asyncio.sleep(max(0.0, wait - 0.2))
        stall = 0.0  # measure from just before the jobs fire
        fire_wall, fire_cpu = time.perf_counter(), _cpu()
        # Until every job has sent, failed or been skipped, nothing has moved for 10 s, or the
        # deadline passes (thousands of concurrent requests can keep httpcore's pool busy).
        deadline = fire_wall + 60 + n / 200
        while done + failed + missed < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.5)
            if time.perf_counter() - max(last_progress, fire_wall + 1.0) > 10:
                break
        gave_up = done + failed + missed < n
        beat.cancel()
        await job_queue.stop(wait=False)
        send_s = max(0.0, last_progress - fire_wall)
        send_cpu = _cpu() - fire_cpu
    return {
        "startup_s": startup_s,
        "startup_cpu_s": startup_cpu,
        "late_start": startup_s > margin,
        "max_stall_s": stall,
        "sent": done,
        "failed": failed,
        "missed": missed,
        "unfinished": n - done - failed - missed if gave_up else 0,
        "send_s": send_s,
        "msgs_per_s": done / send_s if send_s else 0.0,
        "cpu_ms_per_lesson": (startup_cpu + send_cpu) * 1000 / max(1, done),
        "rss_after_scheduling_mb": rss_scheduled,
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_scenario(args: argparse.Namespace) -> None:
    args.n = args.n[0]
    if args.scenario == "seed":
        result = asyncio.run(scenario_seed(args.url, args.n))
    elif args.scenario == "claim":
        result = asyncio.run(scenario_claim(args.url))
    elif args.scenario in ("engine", "send"):
        result = asyncio.run(
            scenario_engine(
                args.url,
                args.base_url,
                args.n,
                args.rate,
                args.concurrency,
                claim=args.scenario == "engine",
            )
        )
    elif args.scenario == "floor":
        result = asyncio.run(scenario_floor(args.base_url, args.n, args.concurrency))
    else:
        result = asyncio.run(scenario_naive(args.base_url, args.n, args.scenario == "patient"))
    print(json.dumps(result), flush=True)
    os._exit(0)  # skip tearing down thousands of abandoned naive jobs


def cpu_text(result: dict[str, Any]) -> str:
    return f"{result['cpu_ms_per_lesson']:.2f} ms" if result["sent"] else "n/a"


SERVER = "@server"  # in a child's arguments: a fresh fake server's base URL
LATENCY_IN_USE = [LATENCY]


def child(*argv: str, timeout: float | None = None) -> dict[str, Any]:
    """Run one scenario in a fresh process; return its JSON result ({"timed_out": True} if so).

    A scenario that talks to Telegram gets a fresh fake server too, so none pays for the
    messages an earlier one left in the server's memory.
    """
    return children([argv], timeout=timeout)[0]


def children(argvs: list[tuple[str, ...]], timeout: float | None = None) -> list[dict[str, Any]]:
    """Run scenarios side by side, each in its own process, sharing one fresh fake server (as
    several bot processes share Telegram); return their JSON results in order."""
    server = None
    if any(SERVER in argv for argv in argvs):
        server, base_url = start_server(LATENCY_IN_USE[0])
        argvs = [tuple(base_url if arg == SERVER else arg for arg in argv) for argv in argvs]
    try:
        processes = [
            subprocess.Popen(
                [sys.executable, __file__, *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for argv in argvs
        ]
        outputs: list[tuple[str, str] | None] = []
        for process in processes:
            try:
                outputs.append(process.communicate(timeout=timeout))
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                outputs.append(None)
    finally:
        if server is not None:
            server.terminate()
            server.join(10)
    results: list[dict[str, Any]] = []
    for argv, process, output in zip(argvs, processes, outputs, strict=True):
        if output is None:
            results.append({"timed_out": True})
            continue
        stdout, stderr = output
        if process.returncode != 0:
            raise RuntimeError(f"scenario {argv[:2]} failed:\n{stderr[-3000:]}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


# --- the driver ----------------------------------------------------------------------------------


def run_engine(
    kind: str,
    workdir: Path,
    base_url: str,
    n: int,
    rate: float,
    conc: int,
    before: Callable[[], dict[str, Any]] | None = None,
) -> Any:
    """Seed a fresh database, run `before` (its paired floor, as `floor`), then the engine."""
    url, drop = new_database(kind, workdir)
    try:
        seeded = child("--scenario", "seed", "--url", url, "--n", str(n))
        floor = before() if before is not None else None
        result = child(
            "--scenario", "engine", "--url", url, "--base-url", base_url, "--n", str(n),
            "--rate", str(rate), "--concurrency", str(conc),
        )  # fmt: skip
    finally:
        drop()
    result["seed_s"] = seeded["seed_s"]
    result["floor"] = floor
    return result


def run_floor(base_url: str, n: int, conc: int) -> dict[str, Any]:
    floor = child(
        "--scenario", "floor", "--base-url", base_url, "--n", str(n), "--concurrency", str(conc)
    )  # fmt: skip
    print(
        f"  bare PTB floor   : {floor['msgs_per_s']:7.0f} msg/s,"
        f" {floor['cpu_ms_per_lesson']:.2f} ms CPU/lesson,"
        f" peak RSS {floor['peak_rss_mb']:.0f} MB"
        f" ({floor['sent']:,} sent, {floor['failed']} failed)"
    )
    return floor


def run_broadcast(workdir: Path, n: int, processes: int, conc: int) -> dict[str, Any]:
    """N lessons due at once, sent by `processes` engine processes side by side from one
    PostgreSQL outbox (each leases with SKIP LOCKED), cap lifted: lessons per second together."""
    url, drop = new_database("postgresql", workdir)
    try:
        child("--scenario", "seed", "--url", url, "--n", str(n))
        child("--scenario", "claim", "--url", url)  # then every process only sends
        argv = (
            "--scenario", "send", "--url", url, "--base-url", SERVER, "--n", str(n),
            "--rate", str(LIFTED_RATE), "--concurrency", str(conc),
        )  # fmt: skip
        results = children([argv] * processes)
    finally:
        drop()
    started = min(r["drain_started"] for r in results)
    ended = max(r["drain_ended"] for r in results)
    sent = max(r["sent"] for r in results)  # each reads the outbox's count when it finishes
    return {
        "sent": sent,
        "handled": [r["handled"] for r in results],
        "seconds": ended - started,
        "msgs_per_s": sent / (ended - started) if ended > started else 0.0,
        # Each process divided its CPU by the outbox's count when it finished: undo, add up.
        "cpu_ms_per_lesson": sum(r["cpu_ms_per_lesson"] * max(1, r["sent"]) for r in results)
        / max(1, sent),
        "pg_server_cpu_ms_per_lesson": max(r["pg_server_cpu_ms_per_lesson"] for r in results),
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--latency", type=float, default=LATENCY)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--cap-lessons", type=int, default=2000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="floor/engine rounds for N <= 20,000 (median)"
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["floor", "naive", "cap"])
    parser.add_argument(
        "--processes",
        type=int,
        nargs="*",
        default=[],
        metavar="K",
        help="paid broadcast: also send the first N from one PostgreSQL with K processes",
    )
    parser.add_argument("--quick", action="store_true", help="N=2,000 and a 500-lesson cap check")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=LIFTED_RATE, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        run_scenario(args)
        return 0
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally: stop the server
    if args.quick:
        args.n, args.cap_lessons, args.repeat = [2000], 500, 1
    kinds = [k for k in args.db if k == "sqlite" or pg_server_url()]
    if len(kinds) < len(args.db):
        print("(PostgreSQL skipped: set TEST_DATABASE_URL or BENCH_DATABASE_URL)")
    LATENCY_IN_USE[0] = args.latency
    base_url = SERVER
    workdir = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    conc = args.concurrency
    print(
        f"fake Bot API latency {args.latency * 1000:.0f} ms, concurrency {conc},"
        f" rate cap lifted to {LIFTED_RATE:.0f}/s, {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.1f} at start"
    )
    try:
        for n in args.n:
            rounds = args.repeat if n <= 20_000 else 1
            print(f"\n== N = {n:,} subscribers, all due in the same minute ({rounds} round(s))")
            engines: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}

            # Interleaved, each engine run straight after a floor run of its own, so the load
            # from elsewhere (which drifts by tens of per cent here) hits both of a pair alike.
            for _ in range(rounds):
                for kind in kinds:
                    paired = None if "floor" in args.skip else partial(run_floor, base_url, n, conc)
                    result = run_engine(kind, workdir, base_url, n, LIFTED_RATE, conc, paired)
                    engines[kind].append(result)
                    line = (
                        f"  engine {kind:<10}: claim+enqueue {result['claim_s']:.2f} s,"
                        f" {result['msgs_per_s']:7.0f} msg/s,"
                        f" {result['cpu_ms_per_lesson']:.2f} ms CPU/lesson"
                        f" (send phase {result['send_cpu_ms_per_lesson']:.2f}),"
                        f" peak RSS {result['peak_rss_mb']:.0f} MB,"
                        f" {result['sent']:,} sent {result['other'] or ''}"
                    )
                    if kind == "postgresql":
                        line += f"; PG server {result['pg_server_cpu_ms_per_lesson']:.2f} ms/lesson"
                    print(line + f" [seeding {result['seed_s']:.1f} s]")
            if "floor" not in args.skip:
                for kind, results in engines.items():
                    pairs = [(r, r["floor"]) for r in results]
                    cpu = [r["cpu_ms_per_lesson"] / f["cpu_ms_per_lesson"] for r, f in pairs]
                    rate = [r["msgs_per_s"] / f["msgs_per_s"] for r, f in pairs]
                    print(
                        f"  => {kind}: CPU per lesson x{median(cpu):.2f} the floor"
                        f" (rounds {min(cpu):.2f}-{max(cpu):.2f}), throughput x{median(rate):.2f}"
                        f" (rounds {min(rate):.2f}-{max(rate):.2f});"
                        f" claim+enqueue {median([r['claim_s'] for r in results]):.2f} s,"
                        f" peak RSS {max(r['peak_rss_mb'] for r in results):.0f} MB"
                    )
            if "naive" not in args.skip:
                limit = 60 + n / 200
                for scenario, label in (
                    ("naive", "naive run_daily "),
                    ("patient", "  ...grace=None "),
                ):
                    naive = child(
                        "--scenario", scenario, "--base-url", base_url, "--n", str(n),
                        timeout=limit + 120,
                    )  # fmt: skip
                    if naive.get("timed_out"):
                        print(f"  {label}: not finished {limit + 120:.0f} s after start (killed)")
                        continue
                    print(
                        f"  {label}: start-up {naive['startup_s']:.2f} s"
                        f" (RSS {naive['rss_after_scheduling_mb']:.0f} MB after scheduling),"
                        f" event-loop stall {naive['max_stall_s'] * 1000:.0f} ms when they fire,"
                        f" {naive['msgs_per_s']:.0f} msg/s,"
                        f" {cpu_text(naive)} CPU/lesson sent,"
                        f" peak RSS {naive['peak_rss_mb']:.0f} MB;"
                        f" {naive['sent']:,} sent, {naive['failed']:,} failed,"
                        f" {naive['missed']:,} skipped by APScheduler as missed,"
                        f" {naive['unfinished']:,} unfinished after {limit:.0f} s"
                    )
        if args.processes and "postgresql" in kinds:
            n = args.n[0]
            print(f"\n== paid broadcast: {n:,} lessons, cap lifted, from one PostgreSQL")
            for processes in args.processes:
                together = run_broadcast(workdir, n, processes, conc)
                print(
                    f"  {processes} process(es): {together['msgs_per_s']:6.0f} lessons/s together"
                    f" ({together['sent']:,} sent in {together['seconds']:.1f} s; per process"
                    f" {together['handled']}), {together['cpu_ms_per_lesson']:.2f} ms CPU/lesson,"
                    f" PG server {together['pg_server_cpu_ms_per_lesson']:.2f} ms/lesson"
                )
        if "cap" not in args.skip:
            lessons = args.cap_lessons
            expected = lessons / 25.0
            capped = run_engine("sqlite", workdir, base_url, lessons, 25, default_concurrency(25))
            off = (capped["drain_s"] - expected) / expected * 100
            print(
                f"\n== default cap 25/s: {capped['sent']:,} lessons in {capped['drain_s']:.1f} s"
                f" (cap alone: {expected:.0f} s; {off:+.1f}%, target within 5%)"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
