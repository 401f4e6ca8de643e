"""Cleaning text people send before it is stored: one pure function every input path can use.

`clean` normalises to NFC, drops control characters (keeping new lines and tabs), bidi embedding,
override and isolate characters (the "Trojan Source" set, which can make stored text display
differently from what it is) and lone surrogates, trims the ends, and truncates to a length limit
without splitting a character from its combining marks. NUL is not silently removed: text that
contains it is refused (`RejectedText`), because NUL in input is a sign of a bug or an attack, not
of a person writing.

Right-to-left text, emoji (including ZWJ sequences and skin tones) and the left-to-right and
right-to-left marks (U+200E, U+200F) are kept: they are how people write.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_STORED_CHARS = 4000

# Bidi embeddings and overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI, FSI, PDI).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEPT_CONTROLS = frozenset("\n\t")
# Characters that belong to the one before them: a cut must not fall just before one.
_JOINERS = frozenset("\u200d\u200c")


class RejectedText(ValueError):
    """The text cannot be stored as it is (it contains NUL)."""


@dataclass(frozen=True, slots=True)
class CleanText:
    """Text ready to store, and whether it had to be shortened to fit."""

    text: str
    truncated: bool
    original_length: int


def _keep(char: str) -> bool:
    if char in _KEPT_CONTROLS:
        return True
    if char in BIDI_CONTROLS:
        return False
    category = unicodedata.category(char)
    # Cc: C0/C1 controls and DEL; Cs: lone surrogates (not encodable as UTF-8).
    return category not in ("Cc", "Cs")


def _attached(char: str) -> bool:
    """True for a character that modifies the one before it (a cut must not precede it)."""
    if char in _JOINERS or unicodedata.combining(char):
        return True
    code = ord(char)
    # Variation selectors and emoji skin-tone modifiers.
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or 0x1F3FB <= code <= 0x1F3FF


def _cut(text: str, limit: int) -> str:
    """The first `limit` characters at most, backing off so no combining sequence is split."""
    if len(text) <= limit:
        return text
    end = limit
    while end > 0 and _attached(text[end]):
        end -= 1
    if end > 0 and text[end - 1] in _JOINERS:
        end -= 1
    return text[: end or limit].rstrip()


def clean(text: str, *, max_chars: int = MAX_STORED_CHARS) -> CleanText:
    """Normalise, strip unsafe characters and truncate text for storage; NUL is refused."""
    if "\x00" in text:
        raise RejectedText("text contains NUL")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(char for char in text if _keep(char))
    # NFC after removal: a removed control no longer separates characters that compose.
    text = unicodedata.normalize("NFC", text).strip()
    shortened = _cut(text, max_chars)
    return CleanText(
        text=shortened, truncated=len(shortened) < len(text), original_length=len(text)
    )
