"""The learner's data as a whole: export everything (/mydata) and erase everything (/forget).

Which tables hold data about a learner is read from the schema, not listed by hand: every table
with a foreign-key path to `learners` (directly, like `reflections.learner_id`, or through another
table, like `deliveries` -> `subscriptions` -> `learners`). A table added later (cohort
memberships, say) is therefore exported and erased with no change here; tests/test_privacy.py fails
until a test row proves it for every such table.

Erasure is a crypto-shred plus deletion, in one transaction: the learner's wrapped data key is
destroyed first, so their reflections are unreadable even in a backup taken before, then every row
on a path to the learner is deleted explicitly (not left to ON DELETE CASCADE, so the counts are
exact and a missing cascade cannot leave rows behind). On SQLite, deleted rows are overwritten with
zeros (`secure_delete`, on for every connection) and, once the transaction has committed, the WAL
is checkpointed and emptied (`bot.db.engine.scrub_wal`), so no copy is left in the database file or
its WAL while the bot keeps running.

A service: each public method is one transaction and returns plain dataclasses. Nothing a person
wrote is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, MetaData, Table, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.schema import Content
from bot.core.clock import Clock
from bot.core.crypto import DecryptionError, Keyring
from bot.core.dates import WEEKDAYS, clock, moment, named
from bot.core.schedule import DAY_NAMES, EVERY_DAY, is_timezone, weekdays_of
from bot.db.engine import Base, reading, scrub_wal
from bot.db.models import Learner, Reflection, Subscription
from bot.services.learners import learner_by_telegram_id
from bot.services.learning import read_reflection
from bot.services.roles import NEUTRAL_LEAD_NAME

log = logging.getLogger(__name__)

LEARNERS = "learners"
# Friendlier names for the export's sections; any other table appears under its own name.
SECTION_NAMES: dict[str, str] = {
    "learners": "profile",
    "subscriptions": "settings",
    "lesson_progress": "lesson_progress",
    "check_answers": "check_answers",
    "reviews": "reviews",
    "reflections": "reflections",
    "deliveries": "messages_sent_to_you",
    "confidence_answers": "confidence_self_assessment",
}
# Tables that name a person by Telegram id rather than through `learners` (team-lead rights are an
# admin's grant, keyed by Telegram id). ERASE: /forget deletes the row. DETACH: the row belongs to
# a team as well (a cohort the person leads), so it is exported and reported, and kept for the
# team without the person: their id is replaced by a placeholder no Telegram user has (minus the
# smallest row id among their rows, which an admin names to hand the rows over) and the columns in
# DETACHED_VALUES (their name) by neutral values. tests/test_privacy.py fails for any Telegram-id
# column that is neither on a path to `learners` nor listed here.
ERASE, DETACH = "erase", "detach"
PERSON_ID_COLUMNS: dict[tuple[str, str], str] = {
    ("leads", "telegram_user_id"): ERASE,
    ("cohorts", "lead_telegram_id"): DETACH,
}
DETACHED_VALUES: dict[str, dict[str, object]] = {"cohorts": {"lead_name": NEUTRAL_LEAD_NAME}}
SECTION_NAMES_BY_ID: dict[str, str] = {"leads": "team_lead", "cohorts": "cohorts_you_lead"}
# Binary columns exported as a description instead of their bytes (keys, ciphertexts).
_SECRET_COLUMNS = {("learners", "wrapped_data_key"), ("reflections", "ciphertext")}
ABOUT = (
    "Everything this bot stores about you. Reflections are decrypted for you here; in the"
    " database they are encrypted with a key of your own. Team leads never see reflections."
    " Times are in UTC, each with a readable copy in your own time zone. /forget erases all of it."
)
# A short README at the top of the file: how to read it.
READ_ME = (
    "This file is everything this bot stores about you, exported when you sent /mydata.",
    "Each section is one kind of record: 'profile' is you (your Telegram user number, never"
    " your name), 'settings' is your lesson schedule, 'lesson_progress' says when each lesson"
    " reached you and when you opened, finished or skipped it, 'check_answers' and 'reviews'"
    " are your quick checks, 'reflections' are your own words (decrypted here for you), and"
    " 'messages_sent_to_you' lists what the bot sent you and whether it arrived.",
    "Times: a field such as 'next_due_at' is the exact moment in UTC (an international"
    " standard); the field beside it ending in '_local' says the same moment in your own time"
    " zone, for example 'Tuesday 1 December 2026 at 08:00 (Europe/London)'.",
    "Days are written as day names ('Mon, Tue, Wed, Thu, Fri'), times of day as 24-hour"
    " clock times ('08:00'), and dates as 'Tuesday 1 December 2026'.",
    "Lesson ids come with the lesson's title. Empty values (null) mean 'not set' or 'not yet'.",
    "Team leads never see your reflections or check answers. /forget erases all of this for"
    " good; /stop keeps it while lessons are off.",
)
# How /mydata writes values for people, by column type and name, so a table added later is made
# readable by the same rules: instants (exact UTC, plus '<column>_local' in the learner's time
# zone), dates, times of day, day masks (DAY_MASK_COLUMNS) and weekday numbers (columns named
# '*_day' holding 0-6, Monday first).
DAY_MASK_COLUMNS = frozenset({"days"})

Chain = tuple[ForeignKey, ...]


@dataclass(frozen=True, slots=True)
class LearnerTable:
    """A table that holds data about a learner, and the foreign-key paths that lead to them."""

    table: Table
    chains: tuple[Chain, ...]

    @property
    def name(self) -> str:
        """The table's name."""
        return self.table.name


@dataclass(frozen=True, slots=True)
class DataExport:
    """The /mydata document: a file name, UTF-8 JSON bytes, and rows per table."""

    filename: str
    data: bytes
    rows: dict[str, int]
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What /forget erased (rows per table, the learner row included) and what it kept."""

    erased: dict[str, int]
    kept: dict[str, int]


@dataclass(frozen=True, slots=True)
class PersonTable:
    """A table that names a person by Telegram id in `column`, and what /forget does with it."""

    table: Table
    column: str
    policy: str

    @property
    def name(self) -> str:
        """The table's name."""
        return self.table.name


def person_tables(metadata: MetaData = Base.metadata) -> list[PersonTable]:
    """The PERSON_ID_COLUMNS that exist in this schema."""
    return [
        PersonTable(metadata.tables[table], column, policy)
        for (table, column), policy in PERSON_ID_COLUMNS.items()
        if table in metadata.tables and column in metadata.tables[table].c
    ]


def _chains(table: Table, seen: frozenset[str]) -> list[Chain]:
    """Every acyclic foreign-key path from `table` to `learners`."""
    if table.name == LEARNERS:
        return [()]
    found: list[Chain] = []
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        target = fk.column.table
        if target.name in seen:
            continue
        found += [(fk, *rest) for rest in _chains(target, seen | {target.name})]
    return found


def learner_tables(metadata: MetaData = Base.metadata) -> list[LearnerTable]:
    """Every table with a foreign-key path to `learners` (and `learners` itself), parents first."""
    result = []
    for table in metadata.sorted_tables:
        chains = _chains(table, frozenset({table.name}))
        if chains:
            result.append(LearnerTable(table, tuple(chains)))
    return result


def _owned_by(table: Table, chain: Chain, learner_id: int) -> ColumnElement[bool]:
    """Rows of `table` that lead to the learner along one foreign-key path."""
    if not chain:
        return table.c.id == learner_id
    fk, rest = chain[0], chain[1:]
    target = fk.column.table
    return fk.parent.in_(select(fk.column).where(_owned_by(target, rest, learner_id)))


def owned_rows(item: LearnerTable, learner_id: int) -> ColumnElement[bool]:
    """The condition selecting every row of this table that is about the learner."""
    return or_(*(_owned_by(item.table, chain, learner_id) for chain in item.chains))


def readable(column: str, value: object, timezone: str) -> dict[str, object]:
    """One stored value as /mydata writes it: its key and value, and for an instant a readable
    copy in the learner's time zone under '<column>_local'."""
    if value is None or isinstance(value, bool):
        return {column: value}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return {column: value.isoformat()}
        return {
            column: value.isoformat(),
            f"{column}_local": f"{moment(value, timezone)} ({timezone})",
        }
    if isinstance(value, date):
        return {column: named(value)}
    if isinstance(value, time):
        return {column: clock(value)}
    if isinstance(value, int) and column in DAY_MASK_COLUMNS and 0 <= value <= EVERY_DAY:
        return {column: ", ".join(DAY_NAMES[day] for day in weekdays_of(value)) or "no days"}
    if isinstance(value, int) and column.endswith("_day") and 0 <= value <= 6:
        return {column: WEEKDAYS[value]}
    return {column: _json_value(value)}


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"({len(bytes(value))} bytes of binary data)"
    return value


class PrivacyService:
    """Export and erase everything stored about a person."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        content: Content,
        keyring: Keyring,
        metadata: MetaData = Base.metadata,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._content = content
        self._keyring = keyring
        self._tables = learner_tables(metadata)
        self._people = person_tables(metadata)

    @property
    def tables(self) -> Sequence[LearnerTable]:
        """The tables on a path to `learners`: /mydata exports them, /forget erases them."""
        return tuple(self._tables)

    @property
    def person_tables(self) -> Sequence[PersonTable]:
        """The tables that name a person by Telegram id."""
        return tuple(self._people)

    async def holds_anything(self, telegram_user_id: int) -> bool:
        """True when anything at all is stored about this person."""
        async with reading(self._sessions) as session:
            if await learner_by_telegram_id(session, telegram_user_id) is not None:
                return True
            return any(
                [await self._person_count(session, p, telegram_user_id) for p in self._people]
            )

    async def export(self, telegram_user_id: int) -> DataExport | None:
        """Everything stored about the person as a JSON document; None when nothing is."""
        now = self._clock.now()
        async with reading(self._sessions) as session:
            learner = await learner_by_telegram_id(session, telegram_user_id)
            timezone = await self._timezone(session, learner)
            document: dict[str, Any] = {
                "about": ABOUT,
                "read_me": list(READ_ME),
                **readable("exported_at", now, timezone),
                "course": self._content.course.title,
            }
            rows_per_table: dict[str, int] = {}
            if learner is not None:
                data_key = self._data_key(learner)
                for item in self._tables:
                    rows = (
                        await session.execute(
                            select(item.table)
                            .where(owned_rows(item, learner.id))
                            .order_by(*item.table.primary_key.columns)
                        )
                    ).mappings()
                    records = [
                        self._record(item.table, dict(row), learner, data_key, timezone)
                        for row in rows
                    ]
                    rows_per_table[item.name] = len(records)
                    section = SECTION_NAMES.get(item.name, item.name)
                    document[section] = records[0] if item.name == LEARNERS else records
            for person in self._people:
                rows = (
                    await session.execute(
                        select(person.table)
                        .where(person.table.c[person.column] == telegram_user_id)
                        .order_by(*person.table.primary_key.columns)
                    )
                ).mappings()
                records = [
                    self._record(person.table, dict(row), None, None, timezone) for row in rows
                ]
                rows_per_table[person.name] = rows_per_table.get(person.name, 0) + len(records)
                if records:
                    document[SECTION_NAMES_BY_ID.get(person.name, person.name)] = records
        if not any(rows_per_table.values()):
            return None
        data = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        return DataExport(f"my-data-{now:%Y-%m-%d}.json", data, rows_per_table, now)

    async def forget(
        self,
        telegram_user_id: int,
        *,
        only_if: Callable[[AsyncSession], Awaitable[bool]] | None = None,
        log_each: bool = True,
        scrub: bool = True,
    ) -> ForgetReport | None:
        """Crypto-shred the person's data key and delete every row about them, in one go.

        None when nothing was stored about them, or when `only_if` (checked first, inside the
        same transaction; retention uses it) says no. `scrub=False` leaves emptying the SQLite
        WAL to the caller (retention does it once per batch).
        """
        erased: dict[str, int] = {}
        kept: dict[str, int] = {}
        async with self._sessions.begin() as session:
            if only_if is not None and not await only_if(session):
                return None
            for person in self._people:
                column = person.table.c[person.column]
                if person.policy == DETACH:
                    kept[person.name] = await self._detach(session, person, telegram_user_id)
                    continue
                result = await session.execute(
                    delete(person.table).where(column == telegram_user_id)
                )
                erased[person.name] = int(getattr(result, "rowcount", 0) or 0)
            learner = await learner_by_telegram_id(session, telegram_user_id)
            if learner is not None:
                learner_id = learner.id
                learner.wrapped_data_key = None  # the crypto-shred: first, and flushed
                await session.flush()
                session.expunge(learner)
                # Children before parents, so no foreign key is left dangling on the way.
                for item in reversed(self._tables):
                    result = await session.execute(
                        delete(item.table)
                        .where(owned_rows(item, learner_id))
                        .execution_options(synchronize_session=False)
                    )
                    erased[item.name] = int(getattr(result, "rowcount", 0) or 0)
            if not any(erased.values()) and not any(kept.values()):
                return None
        if scrub:
            await scrub_wal(self._sessions)
        if log_each:
            log.info("a person erased their data: %s", _counts(erased))
        return ForgetReport(erased, kept)

    # --- internals --------------------------------------------------------------------------------

    @staticmethod
    async def _detach(session: AsyncSession, person: PersonTable, telegram_user_id: int) -> int:
        """Keep the person's rows for the team, without their id or name; returns how many."""
        column = person.table.c[person.column]
        first = await session.scalar(
            select(func.min(person.table.c.id)).where(column == telegram_user_id)
        )
        if first is None:
            return 0
        result = await session.execute(
            update(person.table)
            .where(column == telegram_user_id)
            .values({person.column: -int(first), **DETACHED_VALUES.get(person.name, {})})
        )
        return int(getattr(result, "rowcount", 0) or 0)

    @staticmethod
    async def _person_count(
        session: AsyncSession, person: PersonTable, telegram_user_id: int
    ) -> int:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(person.table)
                .where(person.table.c[person.column] == telegram_user_id)
            )
            or 0
        )

    def _data_key(self, learner: Learner) -> bytes | None:
        if learner.wrapped_data_key is None:
            return None
        try:
            return self._keyring.unwrap(learner.wrapped_data_key, learner.id)
        except DecryptionError:
            return None

    async def _timezone(self, session: AsyncSession, learner: Learner | None) -> str:
        """The learner's time zone for readable times (UTC without a usable one)."""
        if learner is None:
            return "UTC"
        found = await session.scalar(
            select(Subscription.timezone).where(Subscription.learner_id == learner.id)
        )
        return found if found and is_timezone(found) else "UTC"

    def _record(
        self,
        table: Table,
        row: dict[str, Any],
        learner: Learner | None,
        data_key: bytes | None,
        timezone: str,
    ) -> dict[str, object]:
        record: dict[str, object] = {}
        for column, value in row.items():
            if (table.name, column) in _SECRET_COLUMNS:
                continue
            record.update(readable(column, value, timezone))
            if column == "lesson_id" and isinstance(value, str):
                lesson = self._content.lesson(value)
                record["lesson_title"] = lesson.title if lesson is not None else None
        if learner is not None and table.name == Reflection.__tablename__:
            text_ = read_reflection(data_key, learner.id, row["id"], row["ciphertext"])
            record["text"] = text_
            if text_ is None:
                record["note"] = "this reflection could not be decrypted"
        if learner is not None and table.name == LEARNERS:
            record["has_encryption_key"] = learner.wrapped_data_key is not None
        return record


def _counts(erased: dict[str, int]) -> str:
    """Counts only, never content: 'learners=1 reflections=3 ...'."""
    return " ".join(f"{name}={count}" for name, count in sorted(erased.items()))
