"""Text cleaning for storage: NFC, controls and bidi overrides removed, NUL refused, truncation."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.textclean import BIDI_CONTROLS, MAX_STORED_CHARS, RejectedText, clean


def test_plain_text_is_unchanged() -> None:
    result = clean("It went better than I expected.")
    assert result.text == "It went better than I expected."
    assert not result.truncated


def test_text_is_nfc_normalised() -> None:
    decomposed = "Cafe\u0301 after the shift"
    assert clean(decomposed).text == "Café after the shift"
    assert unicodedata.is_normalized("NFC", clean(decomposed).text)


def test_controls_are_removed_but_new_lines_and_tabs_kept() -> None:
    assert clean("one\x07two\x1b[31m\x7f\x85\nthree\tfour").text == "onetwo[31m\nthree\tfour"


def test_windows_line_endings_become_new_lines() -> None:
    assert clean("a\r\nb\rc").text == "a\nb\nc"


@pytest.mark.parametrize("control", sorted(BIDI_CONTROLS))
def test_bidi_embeddings_overrides_and_isolates_are_removed(control: str) -> None:
    assert clean(f"safe{control}txt.exe").text == "safetxt.exe"


def test_right_to_left_text_emoji_and_direction_marks_are_kept() -> None:
    text = "שלום עולם \u200f مرحبا 👩🏽‍⚕️ 🙂"
    assert clean(text).text == text


def test_nul_is_refused() -> None:
    with pytest.raises(RejectedText):
        clean("before\x00after")


def test_lone_surrogates_are_removed() -> None:
    assert clean("a\ud800b").text == "ab"


def test_surrounding_whitespace_is_trimmed_and_blank_becomes_empty() -> None:
    assert clean("  \n hello \n ").text == "hello"
    assert clean(" \u202e \x07 ").text == ""


def test_long_text_is_truncated_with_a_flag() -> None:
    result = clean("x" * 5000)
    assert result.truncated
    assert len(result.text) == MAX_STORED_CHARS
    assert result.original_length == 5000


def test_text_at_the_limit_is_kept_whole() -> None:
    result = clean("y" * MAX_STORED_CHARS)
    assert not result.truncated and len(result.text) == MAX_STORED_CHARS


def test_truncation_never_splits_a_character_from_its_marks() -> None:
    # An emoji with a skin tone and a ZWJ sequence right at the cut.
    text = "a" * 9 + "👩🏽‍⚕️" + "b"
    result = clean(text, max_chars=11)
    assert result.text == "a" * 9
    accented = "a" * 9 + "e\u0301\u0301b"  # NFC keeps one combining mark after é
    assert clean(accented, max_chars=10).text == "a" * 9


@given(st.text())
def test_any_text_cleans_to_storable_text_or_is_refused(text: str) -> None:
    try:
        result = clean(text, max_chars=50)
    except RejectedText:
        assert "\x00" in text
        return
    result.text.encode("utf-8")  # storable: no lone surrogates
    assert len(result.text) <= 50
    assert not any(c in BIDI_CONTROLS for c in result.text)
    assert all(c in "\n\t" or unicodedata.category(c) != "Cc" for c in result.text)
    assert clean(result.text, max_chars=50).text == result.text  # idempotent
