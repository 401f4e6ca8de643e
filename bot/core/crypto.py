"""Envelope encryption for learners' private text (reflections), with AES-GCM.

Each learner has their own 256-bit data key; it is stored only wrapped (encrypted) by the master
key, so `/forget` can crypto-shred by deleting it, and key rotation re-wraps data keys without
touching the reflections. Every ciphertext carries associated data naming its row, so a
ciphertext copied to another row or another learner fails to decrypt.

Formats (all bytes): wrapped key = version(1) | master key id(8) | nonce(12) | AES-GCM(key);
ciphertext = version(1) | nonce(12) | AES-GCM(plaintext).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_BYTES = 8


class MasterKeyError(Exception):
    """The master key is missing, malformed or does not match the stored data (fail closed)."""


class DecryptionError(Exception):
    """A ciphertext does not decrypt under this key and associated data (tampered or moved)."""


def parse_master_key(text: str) -> bytes:
    """Decode a master key given as urlsafe base64 of 32 bytes."""
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii") + b"==")
    except (ValueError, UnicodeEncodeError) as exc:
        raise MasterKeyError("ENCRYPTION_KEY must be 32 bytes in URL-safe base64") from exc
    if len(key) != KEY_BYTES:
        raise MasterKeyError("ENCRYPTION_KEY must be 32 bytes in URL-safe base64")
    return key


def new_master_key_text() -> str:
    """A fresh master key in the text form ENCRYPTION_KEY takes."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii").rstrip("=")


def load_or_create_key_file(path: Path) -> bytes:
    """Read the key file, creating it (mode 0600) on first run."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_master_key_text() + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise MasterKeyError(f"the key file {path} must be readable by its owner only (chmod 600)")
    return parse_master_key(path.read_text())


def key_id(master_key: bytes) -> bytes:
    """A short fingerprint naming which master key wrapped a data key (not secret)."""
    return hashlib.sha256(b"key-id:" + master_key).digest()[:KEY_ID_BYTES]


class Keyring:
    """The master key (and, during rotation, the previous one) and the AES-GCM operations."""

    def __init__(self, master_key: bytes, *, old_keys: tuple[bytes, ...] = ()) -> None:
        self._master = master_key
        self._by_id = {key_id(k): k for k in (master_key, *old_keys)}

    @property
    def master_key_id(self) -> bytes:
        """The id of the current master key."""
        return key_id(self._master)

    def new_wrapped_key(self, learner_id: int) -> bytes:
        """Create a data key for a learner and return it wrapped."""
        return self.wrap(secrets.token_bytes(KEY_BYTES), learner_id)

    def wrap(self, data_key: bytes, learner_id: int) -> bytes:
        """Encrypt a data key under the current master key, bound to the learner."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self._master).encrypt(nonce, data_key, _learner_ad(learner_id))
        return VERSION + self.master_key_id + nonce + sealed

    def unwrap(self, wrapped: bytes, learner_id: int) -> bytes:
        """Recover a learner's data key; fails closed on a wrong key or a moved value."""
        if wrapped[:1] != VERSION:
            raise MasterKeyError("unknown wrapped-key format")
        kid = wrapped[1 : 1 + KEY_ID_BYTES]
        master = self._by_id.get(kid)
        if master is None:
            raise MasterKeyError(
                "the encryption key does not match the key that protects the stored data "
                "(check ENCRYPTION_KEY or the key file)"
            )
        nonce = wrapped[1 + KEY_ID_BYTES : 1 + KEY_ID_BYTES + NONCE_BYTES]
        try:
            return AESGCM(master).decrypt(
                nonce, wrapped[1 + KEY_ID_BYTES + NONCE_BYTES :], _learner_ad(learner_id)
            )
        except InvalidTag as exc:
            raise DecryptionError("data key does not belong to this learner") from exc

    def knows(self, wrapped: bytes) -> bool:
        """True when this keyring holds the master key that wrapped this data key."""
        return wrapped[:1] == VERSION and wrapped[1 : 1 + KEY_ID_BYTES] in self._by_id

    def needs_rewrap(self, wrapped: bytes) -> bool:
        """True when a data key is wrapped by an older master key."""
        return wrapped[1 : 1 + KEY_ID_BYTES] != self.master_key_id

    def rewrap(self, wrapped: bytes, learner_id: int) -> bytes:
        """Re-wrap a data key under the current master key (key rotation)."""
        return self.wrap(self.unwrap(wrapped, learner_id), learner_id)


def key_version(wrapped: bytes) -> str:
    """Names the master key that wrapped a data key (format and key id, never the key itself)."""
    return f"v{wrapped[0] if wrapped else 0}:{wrapped[1 : 1 + KEY_ID_BYTES].hex()}"


def encrypt(data_key: bytes, plaintext: str, associated_data: bytes) -> bytes:
    """Encrypt text under a learner's data key, bound to its row by associated_data."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return VERSION + nonce + AESGCM(data_key).encrypt(nonce, plaintext.encode(), associated_data)


def decrypt(data_key: bytes, ciphertext: bytes, associated_data: bytes) -> str:
    """Decrypt text; raises DecryptionError if it was tampered with or moved to another row."""
    if ciphertext[:1] != VERSION:
        raise DecryptionError("unknown ciphertext format")
    nonce, sealed = ciphertext[1 : 1 + NONCE_BYTES], ciphertext[1 + NONCE_BYTES :]
    try:
        return AESGCM(data_key).decrypt(nonce, sealed, associated_data).decode()
    except InvalidTag as exc:
        raise DecryptionError("ciphertext does not match its row") from exc


def reflection_ad(learner_id: int, reflection_id: int) -> bytes:
    """Associated data binding a reflection's ciphertext to its row and owner."""
    return b"reflection:%d:%d" % (learner_id, reflection_id)


def _learner_ad(learner_id: int) -> bytes:
    return b"learner:%d" % learner_id


def key_file_for(database_path: Path) -> Path:
    """Where the embedded default keeps its master key: beside the SQLite database."""
    return database_path.with_name(database_path.stem + ".key")


def keyring_for(
    master_key_text: str | None,
    previous_key_text: str | None,
    sqlite_path: Path | None,
) -> Keyring:
    """The keyring from ENCRYPTION_KEY, else (SQLite only) the key file; fails closed otherwise."""
    old = (parse_master_key(previous_key_text),) if previous_key_text else ()
    if master_key_text:
        return Keyring(parse_master_key(master_key_text), old_keys=old)
    if sqlite_path is None:
        raise MasterKeyError("ENCRYPTION_KEY is required with PostgreSQL (python -m bot keys new)")
    return Keyring(load_or_create_key_file(key_file_for(sqlite_path)), old_keys=old)
