"""SQLite called directly in the event loop's thread, shaped like the aiosqlite SQLAlchemy drives.

Why not aiosqlite's own worker thread: it runs every call (open a cursor, execute, fetch, close:
four per statement, then the commit) in its thread and wakes the event loop with each result. On
a local SQLite file a statement's own work takes microseconds, so the trips cost far more than
the work: a small transaction took 1.7x to 4x the CPU it takes called directly, depending on
the machine (`bench/bench_transaction.py`). Worse, on a busy loop each trip waits for its turn
(and for the GIL), while the transaction holds the process's one SQLite connection
(`bot.db.engine`): most of SQLite's tail latency under load was that wait. Called directly, a
transaction that does no other I/O runs from `BEGIN` to `COMMIT` in one step of the loop, so
the connection is free again before anyone else needs it.

Direct calls can block the loop only where SQLite waits, so nothing here waits:

- Every transaction starts with `BEGIN IMMEDIATE` (`bot.db.engine`), and in WAL mode that is the
  only statement that waits for another connection (readers never block, the writer never waits
  for readers, and the snapshot is taken at `BEGIN`). The busy timeout is 0, so a database locked
  by another process answers "locked" at once, and `begin_immediate` waits for it with
  `asyncio.sleep` between tries: the bot keeps answering everyone else meanwhile.
- The rest is work on a local file: this bot's statements touch a few pages each; commits append
  to the WAL without an fsync (`synchronous=NORMAL`).

The price: SQLite's own work now runs on the loop's thread, not beside it on another core. A
broadcast's batch statements cost it about 5% of its speed (README, delivery table).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

# Between tries of BEGIN IMMEDIATE while another connection writes: short at first (most writes
# take a millisecond), never long (the lock is taken as soon as a try finds it free).
_FIRST_WAIT = 0.001
_LONGEST_WAIT = 0.05


def _is_locked(error: BaseException) -> bool:
    """True for SQLite's "database is locked" (another connection holds the lock it needs)."""
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


class Cursor:
    """An aiosqlite-shaped cursor whose methods finish at once."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class Connection:
    """An aiosqlite-shaped connection (what SQLAlchemy's aiosqlite dialect drives) that calls
    SQLite directly; made by `connect`, for `create_async_engine(async_creator=...)`."""

    def __init__(self, connection: sqlite3.Connection, patience: float) -> None:
        self._conn = connection
        self._patience = patience  # seconds to wait for another connection's lock

    async def cursor(self) -> Cursor:
        return Cursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        return Cursor(self._conn.execute(sql, parameters))

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        """What SQLAlchemy calls to terminate a connection it gave up on."""
        self._conn.close()

    async def create_function(
        self, name: str, arity: int, func: Callable[..., Any], **kw: Any
    ) -> None:
        self._conn.create_function(name, arity, func, **kw)

    async def begin_immediate(self) -> None:
        """BEGIN IMMEDIATE, waiting (without blocking the loop) while another connection writes;
        "database is locked" once the connection's patience has run out."""

        def begin() -> bool:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if _is_locked(error):
                    return False
                raise
            return True

        if not await self._retry_while_busy(begin):
            raise sqlite3.OperationalError("database is locked")

    async def checkpoint(self, mode: str) -> bool:
        """`PRAGMA wal_checkpoint(mode)`, tried again (without blocking the loop) while another
        connection's reader or writer stands in its way; False if it never could finish."""

        def checkpoint() -> bool:
            busy, _, _ = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            return not busy

        return await self._retry_while_busy(checkpoint)

    async def _retry_while_busy(self, attempt: Callable[[], bool]) -> bool:
        """Call `attempt` until it succeeds (True), sleeping between tries; False when the
        patience runs out first."""
        deadline = time.monotonic() + self._patience
        wait = _FIRST_WAIT
        while not attempt():
            if time.monotonic() + wait > deadline:
                return False
            await asyncio.sleep(wait)
            wait = min(wait * 2, _LONGEST_WAIT)
        return True


def connector(database: str, pragmas: Sequence[str], patience: float) -> Callable[[], Any]:
    """The `async_creator` for an engine on this SQLite file (or ":memory:"): a connection in
    autocommit mode (the engine's `begin` hook starts transactions), busy timeout 0, with the
    given pragmas run once, that waits up to `patience` seconds for another connection's lock."""

    async def connect() -> Connection:
        connection = sqlite3.connect(
            database,
            timeout=0,
            isolation_level=None,
            check_same_thread=False,  # the loop's thread uses it; the pool may close it elsewhere
        )
        for pragma in pragmas:
            connection.execute(f"PRAGMA {pragma}").close()
        return Connection(connection, patience)

    return connect
