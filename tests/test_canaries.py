"""Canaries: personal text and secrets written through the real bot reach neither the logs nor
a plain dump of the database.

The canaries: a reflection, the Telegram first name, last name and username on every update of a
learner and an admin (and the last name and username of a team lead), a `/start` payload (an
unknown one and a real invite token), free text (a search), a typed setting, and the bot token.
Logging runs at DEBUG through the production filters (`configure_logging`); the dump is the raw
SQLite file after a checkpoint (with anything left in the WAL), or on PostgreSQL every column of
every table cast to text.

Stored by design, and so not canaries: the name a member gives for their cohort (they are asked
for it, and shown what their lead sees), and a team lead's Telegram first name, which becomes the
name on their cohort's join screen (the lead is shown it and can change it). The test checks both
are in the dump, which also proves the dump can see text.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.core.clock import FakeClock
from bot.db.engine import create_engine
from tests.support.factories import ADMIN, LEAD, new_cohort
from tests.support.harness import USER, BotUnderTest, bot_under_test, production_log
from tests.test_privacy import checkpointed_bytes

CANARY_TOKEN = "424242:CanaryTokenSecretPart-never-logged"
FIRST, LAST, USERNAME = "Zebulonia", "Quillfeather", "canary_handle_91"
ADMIN_FIRST, ADMIN_LAST, ADMIN_USERNAME = "Ottoline", "Brackenwise", "canary_admin_42"
LEAD_FIRST, LEAD_LAST, LEAD_USERNAME = "Morwenna", "Thistlecombe", "canary_lead_17"
REFLECTION = "canary-reflection: the night shift when Kestrel told me everything"
PAYLOAD = "canary-start-payload-7f3a"
SEARCH = "canary-search mistletoe"
TYPED_ZONE = "Canarytown Standard"
DISPLAY_NAME = "Sam Display"

CANARIES = [
    CANARY_TOKEN.split(":", 1)[1],
    FIRST,
    LAST,
    USERNAME,
    ADMIN_FIRST,
    ADMIN_LAST,
    ADMIN_USERNAME,
    LEAD_LAST,
    LEAD_USERNAME,
    "Kestrel",  # inside the reflection
    PAYLOAD,
    "mistletoe",
    "Canarytown",
]
STORED_BY_DESIGN = [DISPLAY_NAME, LEAD_FIRST]


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """All logging at DEBUG through the bot's production filters, into a buffer."""
    with production_log([CANARY_TOKEN]) as buffer:
        yield buffer


async def converse(bot: BotUnderTest) -> str:
    """Everything a learner, an admin and a lead do; returns the invite payload used."""
    server = bot.server
    server.add_user(USER, first_name=FIRST, last_name=LAST, username=USERNAME)
    server.add_user(ADMIN, first_name=ADMIN_FIRST, last_name=ADMIN_LAST, username=ADMIN_USERNAME)
    server.add_user(LEAD, first_name=LEAD_FIRST, last_name=LEAD_LAST, username=LEAD_USERNAME)
    await bot.send("/start", user=ADMIN)
    await bot.send(f"/lead add {LEAD}", user=ADMIN)
    invite = await new_cohort(bot, "Night team")
    # The learner: an unknown payload, then the real invite, a name for the cohort, a lesson now,
    # a reflection, a search, a typed setting, their journal and their data.
    await bot.send(f"/start {PAYLOAD}")
    await bot.send(f"/start {invite}")
    await bot.press("Join")
    joined, _confidence_invitation = await bot.send(DISPLAY_NAME)
    assert "You've joined Night team" in joined.plain_text
    lesson = next(m for m in await bot.send("/next") if "Reflect" in str(m.buttons))
    await bot.press("Reflect", message=lesson)
    [saved] = await bot.send(REFLECTION)
    assert "Saved privately" in saved.plain_text
    await bot.send(SEARCH)
    await bot.send("/settings")
    await bot.press("Change timezone")
    await bot.send(TYPED_ZONE)
    [journal] = await bot.send("/journal")
    assert "Kestrel" in journal.plain_text  # the reflection was stored (encrypted)
    await bot.send("/mydata")
    # The lead looks at the cohort; a day passes and the engine delivers.
    await bot.send("/cohort Night team", user=LEAD)
    await bot.advance(days=1)
    assert bot.server.rejected == []
    return invite


async def database_dump(database_url: str) -> str:
    """The database as plain text: the SQLite file's bytes, or every PostgreSQL row as text."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return checkpointed_bytes(Path(str(url.database))).decode("utf-8", errors="replace")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
            rows: list[str] = []
            for table in list(tables):
                result = await conn.execute(text(f'SELECT CAST(t AS text) FROM "{table}" AS t'))
                rows += [str(value) for value in result.scalars()]
            return "\n".join(rows)
    finally:
        await engine.dispose()


async def test_no_canary_in_the_logs_or_the_database(
    database_url: str, clock: FakeClock, debug_log: io.StringIO
) -> None:
    async with bot_under_test(
        database_url,
        clock,
        telegram_bot_token=CANARY_TOKEN,
        admin_telegram_ids=frozenset({ADMIN}),
    ) as bot:
        invite = await converse(bot)
    log = debug_log.getvalue()
    assert " DEBUG " in log and " INFO " in log  # logging was on, at DEBUG
    dump = await database_dump(database_url)
    for design in STORED_BY_DESIGN:
        assert design in dump, f"{design!r} is stored by design; the dump cannot see text?"
    token = invite.split("-", 1)[1]  # the invite token: only its SHA-256 is stored
    for canary in [*CANARIES, token]:
        assert canary.casefold() not in log.casefold(), f"{canary!r} reached the log"
        assert canary.casefold() not in dump.casefold(), f"{canary!r} is in the database"
