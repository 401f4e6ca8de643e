"""Where the flood limit counts: in memory (one process) or in Redis (shared by processes), and
what happens when Redis is unreachable or never answers: it fails open, never raises, and
`/support` always gets through."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.config import SettingsError, load_settings
from bot.core import flood
from bot.core.flood import FloodLimit, SharedCounts, Verdict
from tests.support.databases import PATIENT_REDIS_SECONDS, TEST_REDIS_URL, needs_redis

H, T, IG = Verdict.HANDLE, Verdict.TELL, Verdict.IGNORE


def person() -> int:
    """A person of this test's own: Redis keeps windows across tests and runs."""
    return 6_000_000_000 + uuid.uuid4().int % 1_000_000_000


@pytest.fixture
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis's timeout long enough for a busy machine (the sharing is under test, not speed)."""
    monkeypatch.setattr(flood, "REDIS_TIMEOUT_SECONDS", PATIENT_REDIS_SECONDS)


@contextlib.asynccontextmanager
async def limits(rate: str, url: str, n: int = 2) -> AsyncIterator[list[FloodLimit]]:
    """`n` flood limits on one storage, as `n` processes would have."""
    made = [FloodLimit(rate, url) for _ in range(n)]
    try:
        yield made
    finally:
        for flood in made:
            await flood.close()


@needs_redis
async def test_two_processes_count_one_window_and_tell_once(patient: None) -> None:
    user = person()
    async with limits("5/30 seconds", TEST_REDIS_URL) as (a, b):
        verdicts = [await (a, b)[i % 2].arrive(i, user) for i in range(12)]
        assert verdicts == [H] * 5 + [T] + [IG] * 6
        # One /support a window gets through, whichever process takes it; then it is limited.
        assert await b.arrive(100, user, support=True) is H
        assert await a.arrive(101, user, support=True) is IG
        assert await b.arrive(102, user + 1) is H  # someone else


@needs_redis
async def test_a_new_spell_is_told_again_wherever_it_is_refused(patient: None) -> None:
    user = person()
    async with limits("2/1 second", TEST_REDIS_URL) as (a, b):
        assert [await a.arrive(i, user) for i in range(3)] == [H, H, T]
        await asyncio.sleep(1.05)
        # Let through again by A (the spell ends), then refused by B: told again.
        verdicts = [await a.arrive(3, user), await b.arrive(4, user), await b.arrive(5, user)]
        assert verdicts == [H, H, T]
        assert await a.arrive(6, user) is IG


@needs_redis
async def test_a_flood_asks_redis_about_as_often_as_the_limit_lets_through(patient: None) -> None:
    """Once this process alone has seen the limit's worth, the rest are refused here."""
    user = person()
    async with limits("20/30 seconds", TEST_REDIS_URL, n=1) as (flood,):
        shared = flood._shared
        assert isinstance(shared, SharedCounts)
        calls = 0
        hit = shared.hit

        async def counted(*args: object) -> bool | None:
            nonlocal calls
            calls += 1
            return await hit(*args)  # type: ignore[arg-type]

        shared.hit = counted  # type: ignore[method-assign]
        verdicts = [await flood.arrive(i, user) for i in range(1_000)]
        assert verdicts.count(H) == 20 and verdicts.count(T) == 1
        assert calls <= 22  # 20 let through, the first refused, and the "told" mark


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


async def test_unreachable_redis_fails_open_and_counts_in_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.core.flood")
    with closed_port() as port:
        async with limits("3/30 seconds", f"redis://:secret-pw@127.0.0.1:{port}/0", n=1) as (
            flood,
        ):
            verdicts = [await flood.arrive(i, 1) for i in range(6)]
            assert verdicts == [H, H, H, T, IG, IG]  # the limit still holds, in this process
            assert await flood.arrive(10, 1, support=True) is H  # /support gets through
            assert await flood.verdict(11, 2) is H
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0]
    assert "secret-pw" not in warnings[0] and str(port) not in warnings[0]


async def test_a_redis_that_never_answers_costs_one_arrival_a_short_wait() -> None:
    """Accepts connections, never replies (a hung server): the first arrival waits for the
    timeout, then this process counts alone without asking again for a while."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with limits("3/30 seconds", f"redis://127.0.0.1:{port}/0", n=1) as (flood,):
            started = time.monotonic()
            assert await flood.arrive(1, 1) is H
            assert time.monotonic() - started < 1.5
            started = time.monotonic()
            assert [await flood.arrive(i, 1) for i in range(2, 100)][:3] == [H, H, T]
            assert time.monotonic() - started < 0.5
    finally:
        server.close()


async def test_memory_storage_needs_no_redis() -> None:
    async with limits("1/30 seconds", "memory://") as (a, b):
        # Each process counts alone: the limit is per process.
        assert [await a.arrive(1, 1), await b.arrive(2, 1)] == [H, H]
        assert not a.shared


@pytest.mark.parametrize("url", ["memcached://127.0.0.1:11211", "127.0.0.1:6379", "redis"])
def test_flood_storage_url_must_be_memory_or_redis(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("FLOOD_STORAGE_URL", url)
    with pytest.raises(SettingsError) as info:
        load_settings(_env_file=None)
    assert str(info.value).startswith("FLOOD_STORAGE_URL:")


def test_flood_storage_url_defaults_to_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOOD_STORAGE_URL", raising=False)
    assert load_settings(_env_file=None).flood_storage_url == "memory://"
    monkeypatch.setenv("FLOOD_STORAGE_URL", "redis://redis:6379/0")
    assert load_settings(_env_file=None).flood_storage_url == "redis://redis:6379/0"
