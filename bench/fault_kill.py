"""Kill: 20 runs of SIGKILL at a random point of a 500-learner delivery burst, then a restart.

Run: .venv/bin/python bench/fault_kill.py [--runs 20] [--learners 500] [--rate 100]
                                          [--seed N] [--db sqlite postgresql]

Each run, as tests/test_delivery_kill.py does once at fixed points: a fresh database with N
learners due now; a delivery worker process (tests/support/delivery_worker.py: one tick, then
the drain) sending to the fake Bot API (30 ms a call) at `--rate` lessons a second; SIGKILL at
a random moment between the start of its tick and the burst's expected end (timed by one run
without a kill); then what a restart does: once the dead worker's leases expire (60 s; the
reaper runs with the clock moved past them rather than waiting), rows it held become uncertain,
and a new worker claims and sends everything else. Then every chat is compared with the outbox
(tests/support/faults.py): lost (target 0), sent twice (target 0), uncertain counted apart:
those that arrived (killed after Telegram got them) and those that did not (leased, or on the
wire when the process died); neither is resent automatically, /today serves them.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faults import database_kinds, new_database
from bot.config import Settings
from bot.core.clock import FakeClock
from bot.db.engine import create_engine, create_sessions
from bot.logs import configure_logging
from bot.sandbox.fake_telegram.server import FakeBotAPI
from bot.services.outbox.service import DeliveryService
from tests.support.factories import make_content, seed_subscribers
from tests.support.faults import Tally, tally

LATENCY = 0.030


async def start_worker(url: str, server: FakeBotAPI, rate: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.delivery_worker",
        url,
        server.base_url,
        "--rate",
        str(rate),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def until_draining(process: asyncio.subprocess.Process) -> None:
    """Wait for the worker's "draining" line: it is about to tick (claim) and send."""
    assert process.stdout is not None
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the worker exited before draining")
        if line.startswith(b"draining"):
            return


async def one_run(
    url: str, learners: int, rate: float, kill_after: float | None
) -> tuple[Tally, dict[str, int], bool, float]:
    """Seed, start, (kill,) restart, tally.

    Returns the tally, the outbox at the kill, whether it was killed, and how long the first
    worker ran after it started its tick.
    """
    engine = create_engine(url)
    await seed_subscribers(engine, learners, next_due_at=datetime.now(UTC) - timedelta(minutes=1))
    service = DeliveryService(
        create_sessions(engine), FakeClock(datetime.now(UTC)), make_content(3), _settings()
    )
    at_kill: dict[str, int] = {}
    killed = False
    try:
        async with FakeBotAPI() as server:
            server.latency = LATENCY
            worker = await start_worker(url, server, rate)
            await until_draining(worker)
            draining = time.perf_counter()
            if kill_after is not None:
                try:
                    await asyncio.wait_for(worker.wait(), kill_after)
                except TimeoutError:
                    worker.send_signal(signal.SIGKILL)
                    killed = True
            await worker.communicate()
            ran = time.perf_counter() - draining
            if killed:
                at_kill = dict((await service.counts()).by_status)
                at_kill["sent to Telegram"] = len(server.calls("sendMessage"))
                # The restart: leases held by the dead worker expire, the reaper marks them
                # uncertain, and a new worker claims and sends the rest.
                later = FakeClock(datetime.now(UTC) + timedelta(minutes=5))
                reaper = DeliveryService(
                    create_sessions(engine), later, make_content(3), _settings()
                )
                await reaper.reap_expired_leases()
                restarted = await start_worker(url, server, rate)
                _, err = await restarted.communicate()
                if restarted.returncode != 0:
                    raise RuntimeError(f"the restarted worker failed:\n{err.decode()[-2000:]}")
            result = await tally(engine, server, learners)
    finally:
        await engine.dispose()
    return result, at_kill, killed, ran


def _settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


def run_kind(kind: str, runs: int, learners: int, rate: float, rng: random.Random) -> Tally:
    url, drop = new_database(kind)
    try:
        baseline, _, _, burst = asyncio.run(one_run(url, learners, rate, None))
    finally:
        drop()
    print(f"== {kind}: {runs} runs, {learners} learners at {rate:.0f}/s")
    print(f"  without a kill: {baseline.line()}; tick+drain took {burst:.1f} s")
    total = Tally(0)
    for number in range(1, runs + 1):
        kill_after = rng.uniform(0.0, burst)
        url, drop = new_database(kind)
        try:
            result, at_kill, killed, _ = asyncio.run(one_run(url, learners, rate, kill_after))
        finally:
            drop()
        total.add(result)
        when = f"killed {kill_after:4.2f} s into the tick+drain" if killed else "finished first"
        print(
            f"  run {number:2}: {when}; at the kill {at_kill or '-'}\n"
            f"          after the restart: lost {result.lost}, twice {result.twice},"
            f" uncertain {result.uncertain} ({result.uncertain_arrived} arrived,"
            f" {result.uncertain_missing} did not), delivered once {result.delivered_once}"
        )
    print(f"  total: {total.line()}")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {seed}; fake Bot API latency {LATENCY * 1000:.0f} ms")
    rng = random.Random(seed)
    configure_logging("ERROR")
    ok = True
    for kind in database_kinds(args.db):
        ok = run_kind(kind, args.runs, args.learners, args.rate, rng).ok and ok
    print("nothing lost, nothing sent twice" if ok else "FAILED: lessons lost or sent twice")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
