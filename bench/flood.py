"""Flood: one person sends 1,000 updates as fast as they can while someone else uses the bot.

Run: .venv/bin/python bench/flood.py [--rounds 3] [--updates 1000] [--actions 5] [--seed N]
                                     [--db sqlite postgres]

One bot (the composition root `bot.app.build_application`, production settings: the flood
limit and the per-chat reply pacing as shipped, the real clock, long polling over real HTTP)
serves the fake Bot API server. Each round has three phases, in an order that rotates between
rounds; in each, the other person uses the bot normally (/help, a lookup, a typed search...: one
at a time, waiting for each reply, thinking `--think` seconds before the next):

- floor: nobody else is there;
- spread: a flooder sends `--updates` updates (commands, typed searches and /support, mixed)
  spread evenly over the other person's phase, so each of their actions meets a live flood;
- burst: the flooder's updates are all queued at once, and the other person's first action
  arrives right behind them (the worst moment to arrive).

Each phase has people of its own, so none inherits another's flood window or reply pacing. The
other person's latency runs from the moment an update is queued at the fake server until the bot
has finished handling it, replies included. Printed per round and as the median over rounds:
p50, p95 and max for each phase, and what each flood added to the floor.

The flooder's updates are counted through the flood limit's own decisions: answered (let through
to the features), limited (refused: told once, then ignored) and not yet decided when the phase
ended (waiting behind their own earlier updates). After the phase the flooder's backlog is
drained with reply pacing switched off, so a round ends in seconds rather than at the flooder's
pace; what the drain let through is counted apart. The fake server and both people share the
bot's process, as in bench/load.py. Prints figures; asserts nothing about timing.
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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faults import database_kinds, new_database
from bot.app import Runtime, build_application
from bot.config import Settings
from bot.core.clock import SystemClock
from bot.incoming import IncomingBot
from bot.logs import configure_logging
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.sandbox.simulator import Simulator, TrackingApplication, running
from tests.support.fuzzing import unexpected
from tests.support.harness import settings_for_test

# What someone at work does between two visits: a command, a lookup, a typed search.
NORMAL = [
    "/help",
    "/stage 2",
    "how do I look after myself after a hard shift",
    "/triangle",
    "what to say when someone tells you",
    "/listen",
]
# What the flooder sends, mixed: commands, typed searches and /support.
FLOOD = [
    "/help",
    "/stage 1",
    "/stage 3",
    "/triangle",
    "/attachment",
    "/cards",
    "/resilience",
    "/support",
    "burnout",
    "how do I ground someone who is panicking",
    "what is the window of tolerance",
    "/search secondary trauma",
]
SHIPPED = ("flood_limit", "reply_chat_rate")  # the harness relaxes both; the bench must not
FLOODER, OTHER = 700_000, 800_000  # first ids; each round and phase takes new ones


@dataclass
class Phase:
    """What one phase measured: the other person's latencies, and the flooder's updates."""

    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0
    flood: FloodCount | None = None


@dataclass
class FloodCount:
    """The flooder's updates, by the flood limit's decision (and those not yet decided)."""

    sent: int = 0
    answered: int = 0
    limited: int = 0
    queued: int = 0
    drain_answered: int = 0
    drain_limited: int = 0
    drain_seconds: float = 0.0
    replies: int = 0


class Decisions:
    """Counts the flood limit's decisions per person, by wrapping the bot's FloodLimit.allow."""

    def __init__(self, runtime: Runtime) -> None:
        self.counts: Counter[tuple[int, bool]] = Counter()
        flood = runtime.services.flood
        allow = flood.allow

        async def counted(user_id: int, *, support: bool = False) -> bool:
            decision = await allow(user_id, support=support)
            self.counts[(user_id, decision)] += 1
            return decision

        flood.allow = counted  # type: ignore[method-assign]

    def of(self, user_id: int) -> tuple[int, int]:
        """(let through, refused) so far for this person."""
        return self.counts[(user_id, True)], self.counts[(user_id, False)]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values, interpolated."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def normal_use(
    sim: Simulator, user: int, actions: int, think: tuple[float, float], rng: random.Random
) -> Phase:
    """The other person: one action at a time, waiting for each reply, thinking in between."""
    phase = Phase()
    loop = asyncio.get_running_loop()
    for n in range(actions):
        if n:
            await asyncio.sleep(rng.uniform(*think))
        started = loop.time()
        update_id = sim.server.send_text(user, NORMAL[n % len(NORMAL)])
        try:
            await sim.application.wait_finished(update_id, 30.0)
        except TimeoutError:
            phase.timeouts += 1
            continue
        phase.latencies.append(loop.time() - started)
    return phase


async def flood(
    sim: Simulator, user: int, updates: int, rate: float, rng: random.Random
) -> list[int]:
    """The flooder: `updates` updates, all at once (rate 0) or `rate` a second."""
    texts = [rng.choice(FLOOD) for _ in range(updates)]
    if rate <= 0:  # all queued before anything else runs: the worst moment to arrive behind
        return [sim.server.send_text(user, text) for text in texts]
    loop = asyncio.get_running_loop()
    begin, ids = loop.time(), []
    for n, text in enumerate(texts):
        ids.append(sim.server.send_text(user, text))
        await asyncio.sleep(max(0.0, begin + (n + 1) / rate - loop.time()))
    return ids


async def drain(
    sim: Simulator, bot: IncomingBot, ids: list[int], within: float
) -> tuple[float, bool]:
    """Wait for the flooder's backlog with reply pacing off; (seconds taken, all handled)."""
    pacer = bot.reply_pacer
    rate, pacer.rate = pacer.rate, 0.0
    started = time.perf_counter()
    try:
        waits = (sim.application.wait_finished(i, within) for i in ids)
        await asyncio.wait_for(asyncio.gather(*waits), within)
        return time.perf_counter() - started, True
    except TimeoutError:
        return time.perf_counter() - started, False
    finally:
        pacer.rate = rate


PHASES = ("floor", "spread", "burst")


async def run_phase(
    sim: Simulator,
    bot: IncomingBot,
    decisions: Decisions,
    name: str,
    user: int,
    args: argparse.Namespace,
    rng: random.Random,
) -> Phase:
    """The other person's actions alone (floor) or while a flooder sends (spread, burst)."""
    think = (args.think[0], args.think[1])
    if name == "floor":
        return await normal_use(sim, user, args.actions, think, rng)
    flooder = user + 1
    # spread: the updates fill the other person's phase, so each action meets a live flood.
    rate = 0.0 if name == "burst" else args.updates / (args.actions * sum(think) / 2)
    flooding = asyncio.create_task(flood(sim, flooder, args.updates, rate, rng))
    await asyncio.sleep(0)  # the flood starts first
    phase = await normal_use(sim, user, args.actions, think, rng)
    ids = await flooding
    count = phase.flood = FloodCount(sent=len(ids))
    count.answered, count.limited = decisions.of(flooder)
    count.queued = count.sent - count.answered - count.limited
    count.drain_seconds, done = await drain(sim, bot, ids, args.drain)
    answered, limited = decisions.of(flooder)
    count.drain_answered = answered - count.answered
    count.drain_limited = limited - count.limited
    count.replies = len(sim.server.messages(flooder))
    if not done:
        print(f"    (the flooder's backlog was not drained within {args.drain:.0f} s)")
    return phase


def _figures(phase: Phase) -> tuple[float, float, float]:
    ms = [x * 1000 for x in phase.latencies]
    return percentile(ms, 50), percentile(ms, 95), max(ms, default=float("nan"))


async def run(url: str, args: argparse.Namespace, seed: int) -> None:
    rng = random.Random(seed)
    errors = _ErrorCount()
    async with FakeBotAPI() as server:
        shipped = {name: Settings.model_fields[name].default for name in SHIPPED}
        settings = settings_for_test(url, telegram_api_base_url=server.base_url, **shipped)
        runtime = build_application(settings, SystemClock(), application_class=TrackingApplication)
        bot = runtime.application.bot
        assert isinstance(bot, IncomingBot)
        decisions = Decisions(runtime)
        exceptions: list[str] = []

        async def spy(update: object, context: object) -> None:
            exceptions.append(type(getattr(context, "error", None)).__name__)

        runtime.application.add_error_handler(spy)
        spread = args.updates / (args.actions * sum(args.think) / 2)
        print(
            f"  flood limit {settings.flood_limit}, replies paced at {settings.reply_chat_rate:g}"
            f"/s per chat after a burst of 3; the other person: {args.actions} actions a phase,"
            f" thinking {args.think[0]:g}-{args.think[1]:g} s; spread flood {spread:.0f}"
            f" updates/s, burst flood all {args.updates} queued at once"
        )
        logging.getLogger().addHandler(errors)
        results: dict[str, list[Phase]] = {name: [] for name in PHASES}
        try:
            async with running(runtime, server) as sim:
                await sim.send(OTHER - 1, "/help")  # warm up: first connections, first queries
                for number in range(args.rounds):
                    order = PHASES[number % 3 :] + PHASES[: number % 3]  # interleaved
                    for name in order:
                        user = OTHER + 10 * number + 2 * PHASES.index(name)
                        phase = await run_phase(sim, bot, decisions, name, user, args, rng)
                        results[name].append(phase)
                    _print_round(number, {name: runs[-1] for name, runs in results.items()})
        finally:
            logging.getLogger().removeHandler(errors)
        rejected = unexpected(server.rejected)
    _print_summary(results)
    timeouts = sum(p.timeouts for runs in results.values() for p in runs)
    print(
        f"  unhandled exceptions {len(exceptions)}, refused replies {len(rejected)},"
        f" ERROR lines {len(errors.lines)}, other person's updates not handled within 30 s"
        f" {timeouts}"
    )
    for line in [*errors.lines[:3], *map(str, rejected[:3]), *exceptions[:3]]:
        print("   ", line[:500])


def _print_round(number: int, phases: dict[str, Phase]) -> None:
    print(f"  round {number + 1}: the other person's latency p50/p95/max")
    for name, phase in phases.items():
        line = f"    {name:<6} {_ms(_figures(phase))}"
        if (c := phase.flood) is not None:
            line += (
                f"; flooder sent {c.sent}: {c.answered} answered, {c.limited} limited,"
                f" {c.queued} still queued at the phase's end; then the drain (pacing off)"
                f" {c.drain_answered} answered, {c.drain_limited} limited in"
                f" {c.drain_seconds:.1f} s; {c.replies} messages to the flooder"
            )
        print(line)


def _print_summary(results: dict[str, list[Phase]]) -> None:
    rounds = len(results["floor"])
    if not rounds:
        return

    def medians(name: str) -> tuple[float, ...]:
        figures = [_figures(p) for p in results[name]]
        return tuple(statistics.median(f[i] for f in figures) for i in range(3))

    floor = medians("floor")
    print(f"  medians of {rounds} rounds: the other person's latency p50/p95/max")
    print(f"    floor (no flood)  {_ms(floor)}")
    for name in ("spread", "burst"):
        flooded = medians(name)
        added = tuple(f - b for f, b in zip(flooded, floor, strict=True))
        verdict = "met" if added[1] < 500 and added[2] < 500 else "NOT met"
        print(
            f"    {name:<6} flood      {_ms(flooded)}; added {_ms(added)}"
            f" (target under 500 ms added: {verdict})"
        )
        counts = [p.flood for p in results[name] if p.flood is not None]

        def med(get: Callable[[FloodCount], float], counts: list[FloodCount] = counts) -> float:
            return statistics.median(get(c) for c in counts)

        print(
            f"      flooder: {med(lambda c: c.sent):.0f} sent; by the phase's end"
            f" {med(lambda c: c.answered):.0f} answered, {med(lambda c: c.limited):.0f} limited,"
            f" {med(lambda c: c.queued):.0f} still queued (the drain with pacing off then"
            f" answered {med(lambda c: c.drain_answered):.0f} and limited"
            f" {med(lambda c: c.drain_limited):.0f})"
        )


def _ms(values: tuple[float, ...]) -> str:
    return "/".join(f"{v:.0f}" for v in values) + " ms"


class _ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved floor/flood rounds")
    parser.add_argument("--updates", type=int, default=1000, help="the flooder's updates a round")
    parser.add_argument("--actions", type=int, default=5, help="the other person's, per phase")
    parser.add_argument("--think", type=float, nargs=2, default=(0.8, 1.2), metavar=("MIN", "MAX"))
    parser.add_argument("--drain", type=float, default=120.0, help="max seconds for the backlog")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--db",
        nargs="+",
        default=["sqlite", "postgres"],
        choices=["sqlite", "postgres", "postgresql"],
        help="PostgreSQL runs when TEST_DATABASE_URL (or BENCH_DATABASE_URL) names a server",
    )
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    configure_logging("WARNING")
    print(f"{os.cpu_count()} CPUs; seed {seed}")
    for kind in database_kinds(args.db):
        print(f"== {kind}: {args.rounds} rounds, {args.updates:,} flood updates each")
        url, drop = new_database(kind)
        try:
            asyncio.run(run(url, args, seed))
        finally:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
