"""Telegram faults: a 500-learner burst while 10% of calls are answered 429, 5xx or too late.

Run: .venv/bin/python bench/fault_telegram.py [--learners 500] [--ratio 0.1] [--seed N]
                                             [--rate 25] [--db sqlite postgresql]

The delivery engine runs with the production settings: the default rate cap (25/s), one message a
second per chat, retries of certain failures after 30 s doubling, PTB's 5 s read timeout. The
fake Bot API answers a random 10% of sendMessage calls (retries included) with 429 (retry after
1 s), 500, 502 or 503, or processes the call and answers after the client's timeout. The
injected clock moves on between passes so retries fall due without waiting half a minute.
Prints, per database: delivered once, lost, sent twice, uncertain (the timeouts: they did arrive
and are never resent), the faults served and the time taken. Targets: lost 0, twice 0.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faults import database_kinds, new_database
from bot.logs import configure_logging
from tests.support.faults import burst_through_telegram_faults


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--ratio", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--read-timeout", type=float, default=5.0)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Deprecated since version v22.2")
    configure_logging("ERROR")  # the sender's warnings (each 429) would drown the figures
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    ok = True
    for kind in database_kinds(args.db):
        url, drop = new_database(kind)
        try:
            run = asyncio.run(
                burst_through_telegram_faults(
                    url,
                    args.learners,
                    ratio=args.ratio,
                    seed=seed,
                    read_timeout=args.read_timeout,
                    rate=args.rate,
                )
            )
        finally:
            drop()
        served = sum(run.faults.values())
        print(f"== {kind}: {args.ratio:.0%} of calls faulted, seed {seed}")
        print(f"  {run.tally.line()}")
        print(
            f"  {run.calls} sendMessage calls, {served} faults served"
            f" {dict(sorted(run.faults.items()))}; {run.seconds:.1f} s over {run.passes} passes"
        )
        ok = ok and run.tally.ok
    print("nothing lost, nothing sent twice" if ok else "FAILED: lessons lost or sent twice")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
