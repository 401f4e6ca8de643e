"""PTB's Bot API requests over aiohttp: the same calls as PTB's default HTTPX client, for a
quarter of the CPU or less.

Why: every update the bot answers and every lesson it sends is one or more Bot API calls, and
through PTB's `HTTPXRequest` a `sendMessage` cost 2.23 ms of CPU with 16 in flight and 3.66 ms
with 200 (httpcore examines every pooled connection on each request), against 0.63 and 0.66 ms
through aiohttp, which the bot already runs for its webhook and health endpoints
(`bench/bench_http.py`, 4 December 2026). The JSON, the objects PTB builds from it and the
retries above this layer are PTB's own and unchanged.

What a failure proves decides whether a message may be sent again (`scheduler.sender`,
`bot.render`): `NOT_SENT_CAUSES` are the errors raised before any byte of the request left this
process (no connection could be opened, or none came free in the pool in time). Anything else
(a read timeout, a connection that broke after the request was written, the overall deadline)
may have reached Telegram.

Timeouts, as PTB's: `pool` is the wait for one of the pool's `connection_pool_size` slots (a
semaphore here, so that it is told apart from `connect`, opening a connection); `read` is the
wait for each part of the answer (PTB adds the long-poll time for getUpdates); aiohttp has no
write timeout of its own, so the write timeout (the media one for uploads) is part of an overall
deadline: connect + write + read.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from telegram import Bot
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class PoolTimeout(TimeoutError):
    """Every connection of the pool stayed busy for the pool timeout: nothing was sent."""


# Raised before the request could be written: the message certainly did not arrive.
NOT_SENT_CAUSES: tuple[type[BaseException], ...] = (
    PoolTimeout,
    aiohttp.ClientConnectorError,  # refused, unreachable, DNS, TLS handshake
    aiohttp.ConnectionTimeoutError,  # no connection opened in time
)


class AiohttpRequest(BaseRequest):
    """A `telegram.request.BaseRequest` on one aiohttp session with a bounded connection pool."""

    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(connection_pool_size)

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            tls = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(
                # The slots bound the connections; the connector itself never makes anyone wait.
                connector=aiohttp.TCPConnector(limit=0, ssl=tls),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:  # used before `initialize`, as PTB's client allows
            await self.initialize()
        assert self._session is not None
        if self._session.closed:
            raise RuntimeError("This AiohttpRequest is shut down")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=_total(connect, write, read),
            connect=connect,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with asyncio.timeout(pool):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut(
                "Pool timeout: every connection is busy; the request was not sent"
            ) from PoolTimeout()
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's own timeouts are TimeoutErrors too
            raise TimedOut(described(error, url)) from error
        except aiohttp.ClientError as error:
            raise NetworkError(described(error, url)) from error
        finally:
            self._slots.release()


class ClosesClientsIfStartFails(Bot):
    """A Bot that shuts its HTTP clients down when `initialize` fails (the token rejected,
    Telegram unreachable): PTB's `shutdown` does nothing for a bot that never started, which
    would leave the aiohttp sessions open, reported at exit as "Unclosed client session"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients = [
            client
            for client in (kwargs.get("request"), kwargs.get("get_updates_request"))
            if isinstance(client, BaseRequest)
        ]

    async def initialize(self) -> None:
        try:
            await super().initialize()
        except BaseException:
            for client in self._clients:
                await client.shutdown()
            raise


def _given(value: ODVInput[float], default: float | None) -> float | None:
    """A timeout passed to the call, or this request's default when the call left it out."""
    return default if isinstance(value, DefaultValue) else value


def _total(*parts: float | None) -> float | None:
    """The sum of timeouts, or None (no limit) when any of them is unlimited."""
    return None if any(part is None for part in parts) else sum(part or 0.0 for part in parts)


def _body(request_data: RequestData | None) -> Any:
    """The form PTB's HTTPX client sends: fields as form values, files as multipart parts."""
    if request_data is None:
        return None
    if not request_data.contains_files:
        return request_data.json_parameters
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


def described(error: BaseException, url: str) -> str:
    """The error's class and message, the request's URL (which carries the bot's token) replaced
    by its origin in both: the message may be logged or recorded against a delivery."""
    origin = urlsplit(url)._replace(path="", query="", fragment="").geturl()
    error.args = tuple(
        argument.replace(url, origin) if isinstance(argument, str) else argument
        for argument in error.args
    )
    text = str(error)
    return f"aiohttp.{type(error).__name__}: {text}" if text else f"aiohttp.{type(error).__name__}"
