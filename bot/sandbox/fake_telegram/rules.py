"""Telegram's rules, as the fake Telegram server enforces them: the limits (text lengths counted
in UTF-16 units), HTML parse mode by the rules of Telegram's own parser (tdlib ``parse_html``),
reply markup and inline button checks, deep links, inline answers and command lists. A broken rule
raises ApiError with the description Telegram would send.

HTML has one deliberate strictness: a ``&`` that starts no entity is rejected (Telegram shows it
literally), because it means user-supplied text went out unescaped. Deep links to the bot
(``t.me/<bot>?start=...``) in buttons or links are checked against the 64-character
start-parameter rule, which Telegram itself does not enforce at send time (the app silently drops
a bad payload).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from bot.sandbox.fake_telegram.records import JSON

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER = 200
MAX_INLINE_RESULTS = 50
MAX_INLINE_RESULT_ID_BYTES = 64
MAX_COMMANDS = 100

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def _words(text: str) -> list[str]:
    return text.split()


_START_PARAM_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_BUTTON_ACTIONS = tuple(
    _words(
        """url callback_data web_app login_url switch_inline_query switch_inline_query_current_chat
        switch_inline_query_chosen_chat copy_text callback_game pay"""
    )
)


class ApiError(Exception):
    """A call answered with Telegram's error shape (``record=False``: not a bot bug)."""

    def __init__(self, code: int, description: str, *, record: bool = True) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.record = record


def bad(description: str) -> ApiError:
    """A 400 with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {description}")


# --- HTML parse mode (the rules of tdlib's parse_html) ------------------------------------------


class EntityParseError(ValueError):
    """The markup is not valid Telegram HTML; the message is Telegram's."""


_SIMPLE_TAG_TYPES = {
    **dict.fromkeys(("b", "strong"), "bold"),
    **dict.fromkeys(("i", "em"), "italic"),
    **dict.fromkeys(("u", "ins"), "underline"),
    **dict.fromkeys(("s", "strike", "del"), "strikethrough"),
    **dict.fromkeys(("tg-spoiler", "span"), "spoiler"),
}
_HTML_TAGS = frozenset({*_SIMPLE_TAG_TYPES, "a", "tg-emoji", "pre", "code", "blockquote"})
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,9}))|([a-zA-Z]+));?")
_SPACE = " \t\r\n\v\f"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts text."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(markup: str, index: int) -> int:
    return len(markup[:index].encode("utf-8"))


def _decode_entity(markup: str, pos: int) -> tuple[str, int] | None:
    """The character an HTML entity at ``pos`` stands for and where it ends, or None."""
    match = _ENTITY_RE.match(markup, pos)
    if match is None:
        return None
    hex_digits, dec_digits, name = match.groups()
    if name is not None:
        char = _NAMED_ENTITIES.get(name)
        return (char, match.end()) if char is not None else None
    code = int(hex_digits, 16) if hex_digits is not None else int(dec_digits)
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


@dataclass(slots=True)
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the visible text
    piece: int  # index into the list of visible pieces, for <a> without href
    expandable: bool = False


def parse_html(markup: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSON]]:
    """Visible text and Bot API entities for Telegram HTML; raises EntityParseError."""
    pieces: list[str] = []
    entities: list[JSON] = []
    stack: list[_OpenTag] = []
    utf16 = 0
    i, n = 0, len(markup)
    while i < n:
        char = markup[i]
        if char == "&":
            decoded = _decode_entity(markup, i)
            if decoded is None and strict_ampersand:
                raise EntityParseError(
                    f'Unescaped "&" at byte offset {_byte_offset(markup, i)} (Telegram would show '
                    "it literally: escape user text with html.escape)"
                )
            text, i = decoded if decoded is not None else ("&", i + 1)
            pieces.append(text)
            utf16 += utf16_len(text)
            continue
        if char != "<":
            pieces.append(char)
            utf16 += utf16_len(char)
            i += 1
            continue
        begin = i
        at = _byte_offset(markup, begin)
        i += 1
        if i < n and markup[i] == "/":
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {at}")
            j = i + 1
            while j < n and markup[j] not in _SPACE and markup[j] != ">":
                j += 1
            end_name = markup[i + 1 : j].lower()
            while j < n and markup[j] in _SPACE:
                j += 1
            if j >= n or markup[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {at}")
            top = stack[-1]
            if end_name and end_name != top.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {at}, expected "</{top.name}>", '
                    f'found "</{end_name}>"'
                )
            stack.pop()
            if utf16 > top.offset:
                _close_entity(top, utf16 - top.offset, "".join(pieces[top.piece :]), entities)
            i = j + 1
            continue
        j = i
        while j < n and markup[j] not in _SPACE and markup[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {at}")
        name = markup[i:j].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {at}')
        tag = _OpenTag(name, "", utf16, len(pieces))
        i = _parse_attributes(markup, j, tag, at)
        if name == "span" and tag.argument != "spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        stack.append(tag)
    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag {stack[-1].name}")
    for entity in entities:
        entity.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(pieces), entities


def _parse_attributes(markup: str, i: int, tag: _OpenTag, at: int) -> int:
    """Read the attributes of ``tag`` from ``i``; returns the index after the closing '>'."""
    n = len(markup)
    while True:
        while i < n and markup[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {at}")
        if markup[i] == ">":
            return i + 1
        start = i
        while i < n and markup[i] not in _SPACE and markup[i] not in "=>":
            i += 1
        attribute = markup[start:i]
        if not attribute:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag.name}" at byte offset {at}'
            )
        while i < n and markup[i] in _SPACE:
            i += 1
        if i >= n or markup[i] != "=":
            if tag.name == "blockquote" and attribute.lower() == "expandable":
                tag.expandable = True
                continue
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag.name}" at byte offset {at}'
            )
        i += 1
        while i < n and markup[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag.name}" at byte offset {at}')
        if markup[i] in "'\"":
            quote = markup[i]
            i += 1
            value: list[str] = []
            while i < n and markup[i] != quote:
                decoded = _decode_entity(markup, i) if markup[i] == "&" else None
                if decoded is not None:
                    value.append(decoded[0])
                    i = decoded[1]
                else:
                    value.append(markup[i])
                    i += 1
            i += 1
            text = "".join(value)
        else:
            token = i
            while i < n and (markup[i].isalnum() or markup[i] in ".-"):
                i += 1
            if i >= n or (markup[i] not in _SPACE and markup[i] != ">"):
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {_byte_offset(markup, token)}"
                )
            text = markup[token:i].lower()
        attribute = attribute.lower()
        if (tag.name == "a" and attribute == "href") or (
            tag.name == "tg-emoji" and attribute == "emoji-id"
        ):
            tag.argument = text
        elif tag.name == "code" and attribute == "class" and text.startswith("language-"):
            tag.argument = text.removeprefix("language-")
        elif tag.name == "span" and attribute == "class" and text.startswith("tg-"):
            tag.argument = text.removeprefix("tg-")


def _close_entity(tag: _OpenTag, length: int, inner: str, entities: list[JSON]) -> None:
    entity: JSON = {"offset": tag.offset, "length": length}
    last = entities[-1] if entities else None
    same_range = last is not None and (last["offset"], last["length"]) == (tag.offset, length)
    if tag.name in _SIMPLE_TAG_TYPES:
        entity["type"] = _SIMPLE_TAG_TYPES[tag.name]
    elif tag.name == "blockquote":
        entity["type"] = "expandable_blockquote" if tag.expandable else "blockquote"
    elif tag.name == "tg-emoji":
        if not tag.argument.isdigit() or int(tag.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
    elif tag.name == "a":
        url = tag.argument or inner
        user = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if user:
            entity.update(
                type="text_mention", user={"id": int(user[1]), "is_bot": False, "first_name": ""}
            )
        elif url.strip():
            entity.update(type="text_link", url=url if "://" in url else f"http://{url}")
        else:
            return
    elif tag.name == "pre":
        if last is not None and same_range and last["type"] == "code" and last.get("_language"):
            last.update(type="pre", language=last.pop("_language"))
            return
        entity["type"] = "pre"
    else:  # code
        if last is not None and same_range and last["type"] == "pre" and tag.argument:
            last["language"] = tag.argument
            return
        entity.update(type="code", _language=tag.argument)
    entities.append(entity)


# --- the other rules ----------------------------------------------------------------------------


def parse_mode(params: JSON) -> str | None:
    """The call's parse_mode, as sent (None when there is none)."""
    mode = params.get("parse_mode")
    return str(mode) if mode else None


def render(
    text: str,
    params: JSON,
    *,
    limit: int,
    what: str,
    bot_username: str,
    strict_ampersand: bool = True,
) -> tuple[str, list[JSON]]:
    """Visible text and entities after parse_mode; raises Telegram's 400s."""
    mode = (parse_mode(params) or "").lower()
    entities_param = params.get("entities") or params.get("caption_entities") or []
    if mode == "html":
        try:
            plain, entities = parse_html(text, strict_ampersand=strict_ampersand)
        except EntityParseError as error:
            raise bad(f"can't parse entities: {error}") from None
    elif mode in ("", "markdown", "markdownv2"):  # Markdown is accepted but not checked
        plain, entities = text, [dict(e) for e in entities_param]
    else:
        raise bad(f"unsupported parse_mode {parse_mode(params)}")
    plain, entities = _strip(plain, entities)
    if not plain and what == "message":
        raise bad("message must be non-empty")
    if utf16_len(plain) > limit:  # counted in UTF-16 units, the stricter reading
        raise bad("message is too long" if what == "message" else "message caption is too long")
    for entity in entities:
        if entity.get("type") == "text_link":
            check_deep_link(str(entity.get("url", "")), bot_username)
    return plain, entities


def check_deep_link(url: str, bot_username: str) -> None:
    """A link to this bot must carry a valid start parameter."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.hostname not in ("t.me", "telegram.me"):
        return
    if parts.path.strip("/").lower() != bot_username.lower():
        return
    for key in ("start", "startgroup"):
        for value in parse_qs(parts.query, keep_blank_values=True).get(key, []):
            if not _START_PARAM_RE.fullmatch(value):
                raise bad("START_PARAM_INVALID")


def check_markup(markup: object, bot_username: str) -> JSON | None:
    """Raise the 400 Telegram sends for a bad reply_markup; returns it parsed."""
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
        for button in (b for row in rows for b in row):
            _check_inline_button(button, bot_username)
        if sum(len(row) for row in rows) > 100:
            raise bad("REPLY_MARKUP_TOO_LONG")
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
        for button in (b for row in rows for b in row):
            text = button.get("text") if isinstance(button, dict) else button
            if not isinstance(text, str) or not text:
                raise bad('can\'t parse keyboard button: Field "text" must be of type String')
    elif not ({"remove_keyboard", "force_reply"} & markup.keys()):
        raise bad("can't parse reply keyboard markup JSON object")
    return markup


def _check_inline_button(button: object, bot_username: str) -> None:
    """Raise the 400 Telegram sends for a bad inline keyboard button."""
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad(prefix + 'Field "text" must be of type String')
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if not actions:
        raise bad(prefix + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:  # Telegram documents "exactly one"; it would silently pick one
        raise bad(prefix + f"exactly one of the optional fields must be used, got {actions}")
    data = button.get("callback_data")
    if "callback_data" in button and (
        not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise bad("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(?i)(https?|tg)://\S", url):
            raise bad("BUTTON_URL_INVALID")
        check_deep_link(url, bot_username)


def check_inline_answer(params: JSON, *, bot_username: str, strict_ampersand: bool) -> list[JSON]:
    """The results of answerInlineQuery; raises the 400 Telegram sends for bad results or a bad
    button."""
    results = params.get("results")
    if not isinstance(results, list):
        raise bad("results must be an array")
    if len(results) > MAX_INLINE_RESULTS:
        raise bad("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        result_id = str(result.get("id", "")) if isinstance(result, dict) else ""
        if not 1 <= len(result_id.encode("utf-8")) <= MAX_INLINE_RESULT_ID_BYTES:
            raise bad("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        content = result.get("input_message_content") or {}
        if isinstance(content.get("message_text"), str):
            render(
                content["message_text"],
                content,
                limit=MAX_TEXT,
                what="message",
                bot_username=bot_username,
                strict_ampersand=strict_ampersand,
            )
        check_markup(result.get("reply_markup"), bot_username)
    button = params.get("button")
    start = button.get("start_parameter") if isinstance(button, dict) else None
    if start is not None and not _START_PARAM_RE.fullmatch(str(start)):
        raise bad("START_PARAM_INVALID")
    return results


MAX_DESCRIPTION = 512
MAX_SHORT_DESCRIPTION = 120


def check_description(value: object, limit: int, what: str) -> str:
    """A (short) description for setMyDescription/setMyShortDescription; empty or absent clears
    it. Raises the 400 for one over Telegram's limit."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        raise bad(f"{what} is too long")
    return text


def check_commands(commands: object) -> list[JSON]:
    """The command list of setMyCommands, copied; raises the 400 Telegram sends for a bad one."""
    if not isinstance(commands, list):
        raise bad("can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise bad("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(
            str(command.get("command", ""))
        ):
            raise bad("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
            raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
    return [dict(c) for c in commands]


def _strip(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Trim surrounding whitespace like Telegram, moving and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(size, entity["offset"] + entity["length"] - shift)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept
