"""Fuzz at volume: 10,000+ hypothesis-generated updates through the real bot, with the figures.

Run: .venv/bin/python bench/fuzz_updates.py [--updates 10000] [--seed N] [--db sqlite postgresql]

The same generator and driver as tests/test_fuzz.py (tests/support/fuzzing.py): random commands and
arguments, forged and real button presses, Unicode, long texts, media, edits, inline queries,
group messages, blocking, time passing; three learners, a team lead and an admin. Every update
goes through the fake Bot API server's queue and the bot's long polling over real HTTP. Prints
per database: updates, unhandled exceptions, replies the fake server refused (Telegram's limits),
lines logged at ERROR, unclean stored strings, seconds, and whether /help still answers.
PostgreSQL runs when TEST_DATABASE_URL (or BENCH_DATABASE_URL) names a server.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faults import database_kinds, new_database
from bot.core.clock import FakeClock
from tests.support.fuzzing import (
    ADMIN,
    FLOOD_OFF,
    Fuzzer,
    content_ids,
    generate,
    set_up_people,
    stored_rows,
    unclean_strings,
)
from tests.support.harness import bot_under_test


async def fuzz(url: str, updates: int, seed: int) -> bool:
    clock = FakeClock(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    async with bot_under_test(
        url, clock, admin_telegram_ids=frozenset({ADMIN}), flood_limit=FLOOD_OFF
    ) as bot:
        await set_up_people(bot)
        started = time.perf_counter()
        batches = generate(updates, *content_ids(bot), seed_value=seed)
        generated = time.perf_counter() - started
        kinds = collections.Counter(action.kind for batch in batches for action in batch)
        async with Fuzzer(bot, timeout=60) as fuzzer:
            await fuzzer.run(batches)
        result = fuzzer.result
        [reply] = await bot.send("/help")
        unclean = unclean_strings(await stored_rows(bot))
        messages = len(bot.server.requests)
    help_ok = "/support" in reply.plain_text
    print(f"  generated {sum(kinds.values()):,} actions in {generated:.1f} s: {dict(kinds)}")
    print(
        f"  updates {result.updates:,} (+{result.clock_moves} clock moves running the daily"
        f" jobs) in {result.seconds:.1f} s = {result.updates / result.seconds:.0f} updates/s;"
        f" {messages:,} Bot API calls"
    )
    print(
        f"  unhandled exceptions {len(result.exceptions)}, rejected replies"
        f" {len(result.rejected)}, ERROR log lines {len(result.error_logs)}, unclean stored"
        f" strings {len(unclean)}, /help afterwards {'answered' if help_ok else 'NOT ANSWERED'}"
    )
    for line in [*result.exceptions[:3], *map(str, result.rejected[:3]), *result.error_logs[:3]]:
        print("   ", line[:2000])
    for line in unclean[:3]:
        print("   ", line[:300])
    return result.clean and not unclean and help_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    kinds = database_kinds(args.db)
    ok = True
    for kind in kinds:
        print(f"== {kind}: {args.updates:,} generated updates, seed {seed}")
        url, drop = new_database(kind)
        try:
            ok = asyncio.run(fuzz(url, args.updates, seed)) and ok
        finally:
            drop()
    print("clean" if ok else "FAILURES (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
