"""Callback-data vocabulary: every button's payload is built and parsed here.

Telegram allows at most 64 bytes of callback data, so payloads are short prefixes plus stable ids
(lesson and card ids are limited to 40 characters by the content schema).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CALLBACK_BYTES = 64
SEP = ":"

# Lesson actions (payload: lesson id, plus an answer index for ANSWER).
LESSON_DONE = "ld"
LESSON_REFLECT = "lr"
LESSON_CHECK = "lc"
LESSON_ANSWER = "la"
LESSON_SKIP = "ls"
LESSON_MOMENT = "lm"
LESSON_SHOW = "lv"
# Show the lesson behind its content note (payload: lesson id).
LESSON_OPEN = "lo"
# The support screen (no payload) and the "responding to a disclosure" screen (SUPPORT_DISCLOSURE):
# content only, so they work when the database does not.
SUPPORT = "sp"
SUPPORT_DISCLOSURE = "d"
# Lookup cards (payload: card id) and menus (payload: menu name).
CARD_SHOW = "cs"
MENU_SHOW = "mn"
# /help's two pages (payload: "short" or "all", see bot.views.common).
HELP_PAGE = "hp"
# The fuller version of a lookup card (payload: card id).
CARD_MORE = "cm"
# Show a card (or a menu's overview card) behind its content note (payload: card id).
CARD_OPEN = "cb"
# The learner's own data (issue 5): cancel a started reflection; reviews (REVIEW_ANSWER: lesson
# id and answer index; NEXT and LATER: no payload); a journal page (payload: page number); /forget
# (FORGET_CONFIRM: the minute the question was asked, so an old confirmation expires).
REFLECT_CANCEL = "rc"
REVIEW_NEXT = "rn"
REVIEW_LATER = "rl"
REVIEW_ANSWER = "ra"
JOURNAL_PAGE = "jp"
FORGET_CONFIRM = "fy"
FORGET_KEEP = "fk"
# Onboarding and the subscription (issue 5): ONBOARD (payload: yes | no | now | later | welcome);
# SETTINGS (payload: a screen name, plus the chosen value: a time as HHMM, an IANA timezone, a
# days bitmask, on | off); COURSE (payload: today | next | status | review | pause [days] |
# resume | stop [keep | delete [yes]] | restart [yes]).
ONBOARD = "ob"
SETTINGS = "st"
COURSE = "co"
# Team leads and cohorts (issue 7). A member's side: JOIN and LEAD_ACCEPT (payload: the invite
# token, checked again on press), DECLINE and NAME_CANCEL (none), SHOW_ACTIVITY (membership id,
# 1 | 0), LEAVE_ASK and LEAVE (cohort id). A lead's side, every press re-checked for role and
# ownership: OPEN and ARCHIVE (cohort id), REMOVE_ASK and REMOVE (cohort id, membership id),
# LEAD_REMOVE (the lead's Telegram id), TEAM_CANCEL (none).
TEAM_JOIN = "tj"
TEAM_DECLINE = "tn"
TEAM_NAME_CANCEL = "tc"
TEAM_SHOW_ACTIVITY = "ty"
TEAM_LEAVE_ASK = "tq"
TEAM_LEAVE = "tx"
LEAD_ACCEPT = "ta"
TEAM_OPEN = "to"
TEAM_ARCHIVE = "tz"
TEAM_REMOVE_ASK = "tm"
TEAM_REMOVE = "tr"
LEAD_REMOVE = "tl"
TEAM_CANCEL = "tk"
# Shift patterns (issue 15). A team lead's default pattern, accepted by a member in one tap
# (payload: cohort id, checked again on press). "Ask me each week": WEEK_TOGGLE switches one day
# of the coming week (payload: its Monday as YYYYMMDD, the days shown as a mask, the day 0-6);
# WEEK_DONE closes the question (payload: the Monday and the days chosen).
TEAM_PATTERN = "tp"
# Confidence before and after (issue 16): CONFIDENCE (payload: the phase, then go | no, or a
# statement id and a rating 1-5, 0 for "prefer not to say").
CONFIDENCE = "cf"
WEEK_TOGGLE = "wt"
WEEK_DONE = "wd"
# /certificate (issue 16): OPTIONS redraws the choices (payload: two flags, "10" = titles of
# reflected lessons yes, mastery no); MAKE makes it (flags, and where the name comes from: t
# Telegram first name, c the name given to the team); NAME asks for a typed name (flags).
CERT_OPTIONS = "ce"
CERT_MAKE = "ck"
CERT_NAME = "cg"


@dataclass(frozen=True, slots=True)
class Callback:
    """A parsed callback: an action prefix and its arguments."""

    action: str
    args: tuple[str, ...] = ()


def encode(action: str, *args: str | int) -> str:
    """Build callback data; raises ValueError when it would exceed Telegram's 64 bytes."""
    data = SEP.join([action, *(str(a) for a in args)])
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data longer than {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Callback | None:
    """Parse callback data; None when it is missing or malformed (a forged button)."""
    if not data or len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        return None
    action, *args = data.split(SEP)
    if not action:
        return None
    return Callback(action, tuple(args))
