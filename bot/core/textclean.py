"""Cleaning text people send before it is stored: one pure function every input path can use.

`clean` normalises to NFC, drops control characters (keeping new lines and tabs), bidi embedding,
override and isolate characters (the "Trojan Source" set, which can make stored text display
differently from what it is) and lone surrogates, trims the ends, and truncates to a length limit
without splitting a character from its combining marks. NUL is not silently removed: text that
contains it is refused (`RejectedText`), because NUL in input is a sign of a bug or an attack, not
of a person writing.

Right-to-left text, emoji (including ZWJ sequences and skin tones) and the left-to-right and
right-to-left marks (U+200E, U+200F) are kept: they are how people write.

Every length here is counted as Telegram counts it, in UTF-16 code units (an emoji outside the
Basic Multilingual Plane is two), so a limit that fits here fits in a message.
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


def utf16_len(text: str) -> int:
    """The text's length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def utf16_cut(text: str, limit: int) -> str:
    """The longest start of `text` within `limit` UTF-16 units, never splitting a character
    from its combining marks, joiners or skin tone (so the cut may be a little shorter)."""
    if utf16_len(text) <= limit:
        return text
    end, used = 0, 0
    for char in text:  # the most characters whose UTF-16 length fits
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            break
        end += 1
    fits = end
    while end > 0 and _attached(text[end]):
        end -= 1
    if end > 0 and text[end - 1] in _JOINERS:
        end -= 1
    return text[: end or fits].rstrip()


def shorten(text: str, limit: int) -> str:
    """The text within `limit` UTF-16 units, ending in "…" when it had to be cut."""
    if utf16_len(text) <= limit:
        return text
    return utf16_cut(text, limit - 1).rstrip() + "…"


def clean(text: str, *, max_chars: int = MAX_STORED_CHARS) -> CleanText:
    """Normalise, strip unsafe characters and truncate (UTF-16 units) for storage; NUL refused."""
    if "\x00" in text:
        raise RejectedText("text contains NUL")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(char for char in text if _keep(char))
    # NFC after removal: a removed control no longer separates characters that compose.
    text = unicodedata.normalize("NFC", text).strip()
    shortened = utf16_cut(text, max_chars)
    return CleanText(
        text=shortened, truncated=len(shortened) < len(text), original_length=utf16_len(text)
    )
