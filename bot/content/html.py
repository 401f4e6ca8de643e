"""Telegram's HTML rules, as content needs them: the tags Telegram accepts, checking a text against
them, and the visible text (what Telegram counts, in UTF-16 units, after entities are parsed).

This module never imports telegram or sqlalchemy.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one message


# --- Telegram HTML --------------------------------------------------------------------------------

TELEGRAM_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "s", "a", "code", "pre", "blockquote", "tg-spoiler"}
)
# Telegram understands numeric entities and only these named ones.
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")


class _TelegramHtmlParser(HTMLParser):
    """Collects what Telegram's HTML parse mode would reject."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open_tags: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.errors.append(
                f"tag <{tag}> is not allowed (Telegram allows {', '.join(sorted(TELEGRAM_TAGS))});"
                " write line breaks as new lines"
            )
            return
        names = [name for name, _ in attrs]
        if tag == "a":
            href = dict(attrs).get("href")
            if not href:
                self.errors.append("<a> needs an href")
            names = [name for name in names if name != "href"]
        if names:
            self.errors.append(f"attribute {names[0]!r} is not allowed on <{tag}>")
        self.open_tags.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing <{tag}/> is not allowed")

    def handle_endtag(self, tag: str) -> None:
        if tag not in TELEGRAM_TAGS:
            return  # reported at its start tag
        if not self.open_tags:
            self.errors.append(f"</{tag}> closes nothing")
        elif self.open_tags[-1] != tag:
            self.errors.append(f"</{tag}> found where </{self.open_tags[-1]}> was expected")
            if tag in self.open_tags:
                del self.open_tags[self.open_tags.index(tag) :]
        else:
            self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.errors.append("bare < or > in text: write &lt; or &gt;")

    def handle_comment(self, data: str) -> None:
        self.errors.append("HTML comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        self.errors.append("declarations are not allowed")

    def handle_pi(self, data: str) -> None:
        self.errors.append("processing instructions are not allowed")

    def unknown_decl(self, data: str) -> None:
        self.errors.append("declarations are not allowed")


def html_errors(text: str) -> list[str]:
    """What Telegram's HTML parse mode would reject in text (empty when it is fine)."""
    parser = _TelegramHtmlParser()
    parser.feed(text)
    parser.close()
    errors = list(parser.errors)
    if parser.open_tags:
        errors.append(f"<{parser.open_tags[-1]}> is never closed")
    for match in re.finditer("&", text):
        if not _ENTITY.match(text, match.start()):
            snippet = text[match.start() : match.start() + 8]
            errors.append(
                f"bare & at {snippet!r}: write &amp; (Telegram knows only &lt; &gt; &amp; &quot;"
                " and numeric entities)"
            )
            break
    return errors


def html_to_text(text: str) -> str:
    """Plain text of authored HTML: tags dropped, entities decoded (for search and coverage)."""
    return unescape(re.sub(r"<[^>]*>", "", text))


def visible_length(text: str) -> int:
    """How long authored HTML is as Telegram counts it: UTF-16 code units of the visible text."""
    return len(html_to_text(text).encode("utf-16-le")) // 2


def telegram_html(value: str) -> str:
    errors = html_errors(value)
    if errors:
        raise ValueError("; ".join(errors))
    return value


def plain_line(value: str) -> str:
    if any(ch in value for ch in "<>&"):
        raise ValueError("plain text only (it is shown on buttons): no <, > or &")
    if "\n" in value:
        raise ValueError("must be one line")
    return value
