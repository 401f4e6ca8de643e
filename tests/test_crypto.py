"""Envelope encryption: per-learner keys, row binding, rotation, failing closed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.core.crypto import (
    DecryptionError,
    Keyring,
    MasterKeyError,
    decrypt,
    encrypt,
    key_file_for,
    keyring_for,
    new_master_key_text,
    parse_master_key,
    reflection_ad,
)


def keyring() -> Keyring:
    return Keyring(parse_master_key(new_master_key_text()))


def test_round_trip_under_a_learners_own_key() -> None:
    ring = keyring()
    wrapped = ring.new_wrapped_key(7)
    data_key = ring.unwrap(wrapped, 7)
    ciphertext = encrypt(data_key, "a private reflection", reflection_ad(7, 1))
    assert b"private" not in ciphertext
    assert decrypt(data_key, ciphertext, reflection_ad(7, 1)) == "a private reflection"


def test_ciphertext_moved_to_another_row_or_learner_fails() -> None:
    ring = keyring()
    data_key = ring.unwrap(ring.new_wrapped_key(7), 7)
    ciphertext = encrypt(data_key, "text", reflection_ad(7, 1))
    with pytest.raises(DecryptionError):
        decrypt(data_key, ciphertext, reflection_ad(7, 2))
    with pytest.raises(DecryptionError):
        decrypt(data_key, ciphertext, reflection_ad(8, 1))


def test_wrapped_key_is_bound_to_its_learner() -> None:
    ring = keyring()
    with pytest.raises(DecryptionError):
        ring.unwrap(ring.new_wrapped_key(7), 8)


def test_wrong_master_key_fails_closed() -> None:
    wrapped = keyring().new_wrapped_key(7)
    with pytest.raises(MasterKeyError, match="does not match"):
        keyring().unwrap(wrapped, 7)


def test_rotation_rewraps_under_the_new_key() -> None:
    old_key, new_key = (parse_master_key(new_master_key_text()) for _ in range(2))
    wrapped = Keyring(old_key).new_wrapped_key(7)
    data_key = Keyring(old_key).unwrap(wrapped, 7)
    during = Keyring(new_key, old_keys=(old_key,))
    assert during.needs_rewrap(wrapped)
    rewrapped = during.rewrap(wrapped, 7)
    assert not during.needs_rewrap(rewrapped)
    assert Keyring(new_key).unwrap(rewrapped, 7) == data_key


@pytest.mark.parametrize("bad", ["", "short", "!!!!", "a" * 80])
def test_malformed_master_key_is_refused(bad: str) -> None:
    with pytest.raises(MasterKeyError, match="ENCRYPTION_KEY"):
        parse_master_key(bad)


def test_key_file_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    first = keyring_for(None, None, database)
    path = key_file_for(database)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = keyring_for(None, None, database)
    assert first.master_key_id == second.master_key_id


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    keyring_for(None, None, database)
    key_file_for(database).chmod(0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        keyring_for(None, None, database)


def test_postgresql_without_a_key_fails_closed() -> None:
    with pytest.raises(MasterKeyError, match="required with PostgreSQL"):
        keyring_for(None, None, None)
