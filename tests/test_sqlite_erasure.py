"""On SQLite, an erasure leaves no copy of what it erased: not in the database file, not in its WAL.

SQLite in WAL mode appends every changed page to the `-wal` file, so a reflection written and then
erased is still in earlier WAL frames until a checkpoint copies the newest pages back and the WAL
is emptied; and a deleted row's bytes stay in the main file (in the page, or in a page on the
freelist) unless `secure_delete` zeroes them. These tests read the raw bytes of the database file
and its `-wal` while the bot is still running, without checkpointing first, and look for the
learner's wrapped data key and every reflection's ciphertext (and its 16-byte authentication tag).
With the key file beside the database, either one would be enough to read an erased reflection.

The database file and its folder are the owner's only (0600, 0700); the WAL and shared-memory
files SQLite creates take the database file's mode.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.db.models import Learner, Reflection
from tests.support.factories import make_learner
from tests.support.harness import USER, BotUnderTest, bot_under_test

LESSONS = ("welcome", "feeling-unsure", "every-contact-counts")


@pytest.fixture
def sqlite_path(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "data" / "bot.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    return path


@pytest.fixture
async def sqlite_bot(sqlite_path: Path, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async with bot_under_test(f"sqlite+aiosqlite:///{sqlite_path}", clock) as bot:
        yield bot


def stored_bytes(path: Path) -> bytes:
    """The raw database file and its WAL, as they are on disk now (nothing is opened)."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def write_reflections(bot: BotUnderTest, user: int = USER) -> list[bytes]:
    """Reflections of about 1.5 kB (two to a 4 kB page); returns the key, ciphertexts and tags."""
    learning = bot.runtime.services.learning
    for lesson_id in LESSONS:
        await learning.start_reflection(user, lesson_id, "reflect:x")
        text = f"A private reflection on {lesson_id}: " + secrets.token_hex(700)
        assert await learning.save_reflection(user, lesson_id, text) is not None
    async with bot.runtime.sessions.begin() as session:
        learner = await session.scalar(select(Learner).where(Learner.telegram_user_id == user))
        assert learner is not None and learner.wrapped_data_key is not None
        ciphertexts = list(
            await session.scalars(
                select(Reflection.ciphertext).where(Reflection.learner_id == learner.id)
            )
        )
    assert len(ciphertexts) == len(LESSONS)
    return [learner.wrapped_data_key, *ciphertexts, *(c[-16:] for c in ciphertexts)]


def checkpoint(path: Path) -> None:
    """Move everything into the main file, as SQLite's own auto-checkpoint would in time."""
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0


def assert_no_copy(path: Path, secrets_: list[bytes]) -> None:
    stored = stored_bytes(path)
    left = [index for index, secret in enumerate(secrets_) if secret in stored]
    assert left == [], f"{len(left)} of {len(secrets_)} erased values are still on disk"


@pytest.mark.parametrize("where", ["in the WAL", "in the main file"])
async def test_forget_leaves_no_copy_on_disk_while_the_bot_runs(
    sqlite_bot: BotUnderTest, sqlite_path: Path, where: str
) -> None:
    bot = sqlite_bot
    await make_learner(bot)
    erased = await write_reflections(bot)
    await make_learner(bot, 2002)
    kept = await write_reflections(bot, 2002)  # someone else's stay readable
    if where == "in the main file":
        checkpoint(sqlite_path)  # the deleted pages then go to the freelist of the main file
    assert all(secret in stored_bytes(sqlite_path) for secret in erased + kept)

    [question] = await bot.send("/forget")
    await bot.press("Yes, erase everything", message=question)

    assert_no_copy(sqlite_path, erased)
    assert all(secret in stored_bytes(sqlite_path) for secret in kept[:1])
    if where == "in the main file":
        with sqlite3.connect(sqlite_path) as conn:  # only now: the check is done
            assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 0


async def test_retention_leaves_no_copy_on_disk_while_the_bot_runs(
    sqlite_bot: BotUnderTest, sqlite_path: Path
) -> None:
    bot = sqlite_bot
    await make_learner(bot)
    old = await write_reflections(bot)
    checkpoint(sqlite_path)
    await bot.advance(days=366)  # the daily job purges reflections older than a year
    assert_no_copy(sqlite_path, old[1:])  # the learner and their key stay; their old text goes
    assert old[0] in stored_bytes(sqlite_path)

    await bot.advance(days=730)  # two years without using the bot: erased entirely
    assert_no_copy(sqlite_path, old[:1])


def test_the_database_and_its_folder_are_the_owners_only(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "bot.sqlite3"
    old_umask = os.umask(0o022)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "migrate"],
            env={"DATABASE_URL": f"sqlite+aiosqlite:///{path}"},
            cwd=str(Path(__file__).resolve().parent.parent),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        with contextlib.closing(sqlite3.connect(path)) as conn:  # WAL mode is kept in the file
            conn.execute("CREATE TABLE t (x)")
            conn.commit()
            modes = {
                p.name: stat.S_IMODE(p.stat().st_mode)
                for p in [path.parent, *path.parent.iterdir()]
            }
    finally:
        os.umask(old_umask)
    assert modes == {
        "fresh": 0o700,
        "bot.sqlite3": 0o600,
        "bot.sqlite3-wal": 0o600,
        "bot.sqlite3-shm": 0o600,
    }
