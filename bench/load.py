"""Load: 200 simulated people using the bot at once for 60 s, on SQLite and on PostgreSQL.

Run: .venv/bin/python bench/load.py [--users 200] [--seconds 60] [--think 1 3]
                                    [--db sqlite postgresql]

One bot (the composition root `bot.app.build_application`, production settings, the real clock,
long polling over real HTTP) serves the fake Bot API server. Each simulated person first starts
the course (/start, consent, first lesson now), then until the time is up: sends a command or a
search (half the time) or presses one of the buttons on their messages (lookup menus and cards,
lesson buttons, settings menus; never the ones that stop, erase or restart), waits for the bot
to finish handling it, thinks for a random `--think` seconds, and goes again.

Handling time is measured per update from the moment it is queued at the fake server until the
bot has finished handling it (PTB's process_update returned): the wait for long polling, the
queue and every Bot API call it made. Errors: unhandled exceptions (the error handler ran),
replies the fake refused (Telegram's limits; an identical edit is expected), updates not handled
within 30 s, lines logged at ERROR. The fake server and the simulated people share the bot's
process and event loop, so the throughput is a lower bound for the bot alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil

from bench.faults import database_kinds, new_database
from bot.app import build_application
from bot.core.clock import SystemClock
from bot.logs import configure_logging
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.sandbox.simulator import Simulator, TrackingApplication, buttons, running
from tests.support.fuzzing import unexpected
from tests.support.harness import settings_for_test

FIRST_USER = 100_000
COMMANDS = [
    "/help",
    "/today",
    "/progress",
    "/journal",
    "/settings",
    "/listen",
    "/stages",
    "/stage 2",
    "/triangle",
    "/attachment",
    "/resilience",
    "/questions",
    "/wellbeing",
    "/cards",
    "/support",
    "/search what to say when someone tells you",
    "how do I look after myself after a hard shift",
]
# Buttons a person might press during a working day; not the ones that end or erase things.
AVOID = ("erase", "stop", "delete", "restart", "go through", "leave", "pause", "no thanks")


@dataclass
class Figures:
    """What one run measured."""

    handled: int = 0
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0
    exceptions: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


class _ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values."""
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


async def person(
    sim: Simulator,
    user: int,
    deadline: float,
    think: tuple[float, float],
    rng: random.Random,
    figures: Figures,
) -> None:
    """One person: act, wait until it is handled, think, again, until the deadline."""
    server, application = sim.server, sim.application
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(rng.uniform(*think))
        if loop.time() >= deadline:
            return
        pressable = [
            b
            for m in server.messages(user)[-4:]
            for b in buttons(m)
            if not any(word in b.label.lower() for word in AVOID)
        ]
        if pressable and rng.random() < 0.5:
            button = rng.choice(pressable)
            enqueue: Callable[[], int] = lambda b=button: server.press(  # noqa: E731
                user, b.message_id, b.data
            )
            kind = "press"
        else:
            text = rng.choice(COMMANDS)
            enqueue = lambda t=text: server.send_text(user, t)  # noqa: E731
            kind = text.split()[0] if text.startswith("/") else "search"
        started = loop.time()
        update_id = enqueue()
        try:
            await application.wait_finished(update_id, 30.0)
        except TimeoutError:
            figures.timeouts += 1
            continue
        if loop.time() <= deadline:
            figures.latencies.append(loop.time() - started)
            figures.handled += 1
            figures.kinds[kind] = figures.kinds.get(kind, 0) + 1


async def start_course(sim: Simulator, user: int) -> None:
    await sim.send(user, "/start")
    await sim.press(user, "I agree, let's set up")
    await sim.press(user, "Start: first lesson now")


async def load(url: str, users: int, seconds: float, think: tuple[float, float]) -> bool:
    figures = Figures()
    errors = _ErrorCount()
    async with FakeBotAPI() as server:
        settings = settings_for_test(url, telegram_api_base_url=server.base_url)
        runtime = build_application(settings, SystemClock(), application_class=TrackingApplication)

        async def spy(update: object, context: Any) -> None:
            figures.exceptions += 1

        runtime.application.add_error_handler(spy)
        logging.getLogger().addHandler(errors)
        try:
            async with running(runtime, server) as sim:
                people = range(FIRST_USER, FIRST_USER + users)
                started = time.perf_counter()
                for offset in range(0, users, 20):
                    await asyncio.gather(
                        *(start_course(sim, u) for u in list(people)[offset : offset + 20])
                    )
                print(
                    f"  {users} people started the course in {time.perf_counter() - started:.1f} s"
                )
                process = psutil.Process()
                cpu0 = process.cpu_times()
                loop = asyncio.get_running_loop()
                begin = loop.time()
                deadline = begin + seconds
                rng = random.Random(7)
                await asyncio.gather(
                    *(
                        person(sim, u, deadline, think, random.Random(rng.random()), figures)
                        for u in people
                    )
                )
                cpu1 = process.cpu_times()
                cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / seconds * 100
                [reply] = await sim.send(FIRST_USER, "/help")
        finally:
            logging.getLogger().removeHandler(errors)
        rejected = unexpected(server.rejected)
    lat = [x * 1000 for x in figures.latencies]
    error_total = figures.exceptions + len(rejected) + figures.timeouts + len(errors.lines)
    print(
        f"  {figures.handled:,} updates handled in {seconds:.0f} s ="
        f" {figures.handled / seconds:.1f} updates/s (process CPU {cpu:.0f}% of one core)"
    )
    print(
        f"  handling time p50 {percentile(lat, 50):.0f} ms, p95 {percentile(lat, 95):.0f} ms,"
        f" p99 {percentile(lat, 99):.0f} ms, max {max(lat, default=0):.0f} ms"
    )
    print(
        f"  errors {error_total}: unhandled exceptions {figures.exceptions}, refused replies"
        f" {len(rejected)}, not handled within 30 s {figures.timeouts}, ERROR lines"
        f" {len(errors.lines)}; mix {dict(sorted(figures.kinds.items()))}"
    )
    for line in [*errors.lines[:3], *map(str, rejected[:3])]:
        print("   ", line[:500])
    return error_total == 0 and "/support" in reply.plain_text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"))
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    configure_logging("WARNING")
    ok = True
    print(f"{os.cpu_count()} CPUs; think time {args.think[0]:g}-{args.think[1]:g} s")
    for kind in database_kinds(args.db):
        print(f"== {kind}: {args.users} people for {args.seconds:.0f} s")
        url, drop = new_database(kind)
        try:
            ok = asyncio.run(load(url, args.users, args.seconds, tuple(args.think))) and ok
        finally:
            drop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
