"""Master key: rotation re-wraps every data key; a wrong key fails closed before start-up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.crypto import Keyring, MasterKeyError, key_id, new_master_key_text, parse_master_key
from bot.db.engine import create_engine, create_sessions
from bot.db.models import Learner
from bot.services.keys import KeyService
from tests.test_cli import run_cli


async def add_learners(engine: AsyncEngine, keyring: Keyring, count: int) -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    async with engine.begin() as conn:
        for learner_id in range(1, count + 1):
            await conn.execute(
                insert(Learner).values(
                    id=learner_id,
                    telegram_user_id=5000 + learner_id,
                    chat_id=5000 + learner_id,
                    created_at=now,
                    wrapped_data_key=keyring.new_wrapped_key(learner_id),
                )
            )


async def test_rotation_rewraps_every_data_key(engine: AsyncEngine) -> None:
    old, new = (parse_master_key(new_master_key_text()) for _ in range(2))
    await add_learners(engine, Keyring(old), 1203)  # more than one batch
    sessions = create_sessions(engine)
    with pytest.raises(MasterKeyError):
        await KeyService(sessions, Keyring(new)).verify()
    assert await KeyService(sessions, Keyring(new, old_keys=(old,))).rotate() == 1203
    assert await KeyService(sessions, Keyring(new, old_keys=(old,))).rotate() == 0
    await KeyService(sessions, Keyring(new)).verify()  # the old key is no longer needed


def test_keys_new_prints_a_usable_key(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "keys", "new")
    assert result.returncode == 0
    assert len(parse_master_key(result.stdout.strip())) == 32


def test_wrong_key_fails_closed_with_a_clear_message(tmp_path: Path) -> None:
    first = new_master_key_text()
    assert run_cli(tmp_path, "migrate", ENCRYPTION_KEY=first).returncode == 0

    async def seed() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")
        await add_learners(engine, Keyring(parse_master_key(first)), 1)
        await engine.dispose()

    asyncio.run(seed())
    result = run_cli(
        tmp_path, "run", TELEGRAM_BOT_TOKEN="1:x", ENCRYPTION_KEY=new_master_key_text()
    )
    assert result.returncode == 2
    assert "Encryption key problem" in result.stderr
    assert "does not match" in result.stderr
    rotated = run_cli(
        tmp_path,
        "keys",
        "rotate",
        ENCRYPTION_KEY=new_master_key_text(),
        ENCRYPTION_PREVIOUS_KEY=first,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "Re-wrapped 1 data key(s)" in rotated.stdout


async def test_start_up_check_covers_every_key_version_after_an_interrupted_rotation(
    engine: AsyncEngine,
) -> None:
    """Rotation goes in learner-id order and commits per batch: stopped half-way, the first
    learners are under the new key and the rest still under the old one. Dropping the previous
    key then must stop start-up, naming the version that is missing (not a key)."""
    old, new = (parse_master_key(new_master_key_text()) for _ in range(2))
    await add_learners(engine, Keyring(new), 3)  # learners 1-3: rotated before the interruption
    async with engine.begin() as conn:  # learners 4-6: not rotated yet
        old_ring = Keyring(old)
        for learner_id in range(4, 7):
            await conn.execute(
                insert(Learner).values(
                    id=learner_id,
                    telegram_user_id=5000 + learner_id,
                    chat_id=5000 + learner_id,
                    created_at=datetime(2026, 11, 30, tzinfo=UTC),
                    wrapped_data_key=old_ring.new_wrapped_key(learner_id),
                )
            )
    sessions = create_sessions(engine)
    with pytest.raises(MasterKeyError) as refused:
        await KeyService(sessions, Keyring(new)).verify()
    message = str(refused.value)
    assert key_id(old).hex() in message and "3 learner" in message
    assert key_id(new).hex() not in message
    assert old.hex() not in message and new_master_key_text() not in message
    await KeyService(sessions, Keyring(new, old_keys=(old,))).verify()  # both versions present
    assert await KeyService(sessions, Keyring(new, old_keys=(old,))).rotate() == 3
    await KeyService(sessions, Keyring(new)).verify()


def test_interrupted_rotation_without_the_previous_key_fails_start_up(tmp_path: Path) -> None:
    old, new = new_master_key_text(), new_master_key_text()
    assert run_cli(tmp_path, "migrate", ENCRYPTION_KEY=new).returncode == 0

    async def seed() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")
        await add_learners(engine, Keyring(parse_master_key(new)), 2)
        async with engine.begin() as conn:
            await conn.execute(
                insert(Learner).values(
                    id=3,
                    telegram_user_id=5003,
                    chat_id=5003,
                    created_at=datetime(2026, 11, 30, tzinfo=UTC),
                    wrapped_data_key=Keyring(parse_master_key(old)).new_wrapped_key(3),
                )
            )
        await engine.dispose()

    asyncio.run(seed())
    result = run_cli(tmp_path, "run", TELEGRAM_BOT_TOKEN="1:x", ENCRYPTION_KEY=new)
    assert result.returncode == 2, result.stderr
    assert "Encryption key problem" in result.stderr
    assert key_id(parse_master_key(old)).hex() in result.stderr
    assert old not in result.stderr and new not in result.stderr
