"""Shared by the fault and fuzz benchmarks (bench/fault_*.py, fuzz_updates.py): their databases.

What a burst received is tallied by tests/support/faults.py (shared with the fast fault test).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.db.migrations import upgrade


def pg_server_url() -> str | None:
    """The PostgreSQL server to create bench databases on, if any."""
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or None


def new_database(kind: str) -> tuple[str, Callable[[], None]]:
    """A fresh migrated database (a SQLite file, or a new PostgreSQL database) and its dropper."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="fault-")
        url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
        upgrade(url)
        return url, lambda: shutil.rmtree(folder, ignore_errors=True)
    from tests.support import databases

    databases.TEST_DATABASE_URL = pg_server_url() or ""
    url = databases.create_pg_database()
    upgrade(url)
    return url, lambda: databases.drop_pg_database(url)


def database_kinds(wanted: list[str]) -> list[str]:
    """The wanted kinds that can run here (PostgreSQL needs a server URL)."""
    kinds = [k for k in wanted if k == "sqlite" or pg_server_url()]
    if len(kinds) < len(wanted):
        print("(PostgreSQL skipped: set TEST_DATABASE_URL or BENCH_DATABASE_URL)")
    return kinds
