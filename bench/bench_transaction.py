"""SQLite called directly in the event loop's thread against aiosqlite's worker thread.

Run: .venv/bin/python bench/bench_sqlite.py [--transactions 2000] [--rounds 3]

One small transaction, the shape a handler makes (BEGIN IMMEDIATE, read one row, update one row,
COMMIT, through an AsyncSession), repeated `--transactions` times on each engine:

- direct: the bot's engine (`bot.db.engine.create_engine`, `bot/db/sqlite_inloop.py`);
- aiosqlite: SQLAlchemy's aiosqlite driver as it comes (every call a trip to the connection's
  thread), with the same pool of one, pragmas and BEGIN IMMEDIATE: the floor this replaced.

Rounds alternate between the two on fresh database files; the figures are medians of the rounds:
CPU per transaction (user+sys of this process, every thread) and the time each took.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Column, Integer, MetaData, String, Table, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from bot.db.engine import create_engine

METADATA = MetaData()
ROWS = Table(
    "rows",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("value", String, nullable=False),
)


def aiosqlite_engine(path: Path) -> AsyncEngine:
    """The floor: aiosqlite's worker thread, otherwise set up as the bot's engine is."""
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}",
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": 30},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def measure(engine: AsyncEngine, transactions: int) -> tuple[float, float, float]:
    """CPU ms per transaction, and p50 and p99 ms per transaction."""
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
        await connection.execute(ROWS.insert(), [{"id": 1, "value": "a"}, {"id": 2, "value": "b"}])
    sessions = async_sessionmaker(engine)
    took: list[float] = []
    cpu = time.process_time()
    for number in range(transactions):
        started = time.perf_counter()
        async with sessions.begin() as session:
            await session.scalar(select(ROWS.c.value).where(ROWS.c.id == 1))
            await session.execute(update(ROWS).where(ROWS.c.id == 2).values(value=str(number)))
        took.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu
    await engine.dispose()
    took.sort()
    return (
        cpu / transactions * 1000,
        took[len(took) // 2] * 1000,
        took[len(took) * 99 // 100] * 1000,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    makers = {
        "direct": lambda path: create_engine(f"sqlite+aiosqlite:///{path}"),
        "aiosqlite": aiosqlite_engine,
    }
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in makers}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(1, args.rounds + 1):
            for name, make in makers.items():
                path = Path(folder) / f"{name}-{round_}.sqlite3"
                figures = await measure(make(path), args.transactions)
                results[name].append(figures)
                cpu, p50, p99 = figures
                print(
                    f"round {round_} {name:9}: CPU {cpu:.3f} ms, p50 {p50:.3f} ms, p99 {p99:.3f} ms"
                )
    medians = {
        name: [statistics.median(f[i] for f in rows) for i in range(3)]
        for name, rows in results.items()
    }
    print(f"\nmedians of {args.rounds} rounds, {args.transactions} transactions each:")
    for name, (cpu, p50, p99) in medians.items():
        print(f"  {name:9}: CPU {cpu:.3f} ms per transaction, p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    ratio = medians["aiosqlite"][0] / medians["direct"][0]
    print(f"  direct calls use {ratio:.1f}x less CPU per transaction than aiosqlite's thread")


if __name__ == "__main__":
    asyncio.run(main())
