"""CPU per Bot API call: PTB's default HTTPX client against the bot's aiohttp client.

Run: .venv/bin/python bench/bench_http.py [--calls 3000] [--concurrency 16 200] [--rounds 3]

Each round sends `--calls` sendMessage calls (an HTML lesson-sized text) through PTB's `Bot` at
the given concurrency, once with `telegram.request.HTTPXRequest` and once with
`bot.telegram_http.AiohttpRequest`, each in a fresh process against a fresh fake Bot API server
in another process (so the server's CPU is not counted). The order alternates between rounds;
the figures are the medians of the rounds and the median of each round's aiohttp/HTTPX ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Bot
from telegram.constants import ParseMode
from telegram.request import BaseRequest, HTTPXRequest

from bench.bench_delivery import BODY, start_server
from bot.telegram_http import AiohttpRequest

TOKEN = "123456:BENCH-token"
CLIENTS = ("httpx", "aiohttp")


def request_for(client: str, pool: int) -> BaseRequest:
    if client == "httpx":
        return HTTPXRequest(connection_pool_size=pool)
    return AiohttpRequest(connection_pool_size=pool)


async def calls(client: str, base_url: str, count: int, concurrency: int) -> dict[str, float]:
    """Send `count` messages, `concurrency` at a time; CPU (this process) and rate."""
    bot = Bot(TOKEN, base_url=base_url, request=request_for(client, max(256, concurrency)))
    async with bot:
        chats = iter(range(10_000, 10_000 + count))

        async def worker() -> None:
            for chat in chats:
                await bot.send_message(chat, BODY, parse_mode=ParseMode.HTML)

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_ms_per_call": cpu * 1000 / count, "calls_per_s": count / wall}


def one_run(client: str, count: int, concurrency: int) -> dict[str, float]:
    """A fresh process and a fresh fake server for one client's run."""
    server, base_url = start_server(0.0)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", client, base_url, str(count), str(concurrency)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        server.kill()
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 200])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        client, base_url, count, concurrency = args.child
        print(json.dumps(asyncio.run(calls(client, base_url, int(count), int(concurrency)))))
        return
    for concurrency in args.concurrency:
        runs: dict[str, list[dict[str, Any]]] = {client: [] for client in CLIENTS}
        for round_ in range(args.rounds):
            for client in CLIENTS if round_ % 2 == 0 else reversed(CLIENTS):
                runs[client].append(one_run(client, args.calls, concurrency))
                print(
                    f"  {concurrency} in flight, round {round_ + 1}, {client}: {runs[client][-1]}"
                )
        cpu = {c: statistics.median(r["cpu_ms_per_call"] for r in runs[c]) for c in CLIENTS}
        rate = {c: statistics.median(r["calls_per_s"] for r in runs[c]) for c in CLIENTS}
        ratio = statistics.median(
            a["cpu_ms_per_call"] / h["cpu_ms_per_call"]
            for a, h in zip(runs["aiohttp"], runs["httpx"], strict=True)
        )
        print(
            f"{concurrency} in flight, medians of {args.rounds} rounds: "
            f"HTTPX {cpu['httpx']:.2f} ms CPU per call ({rate['httpx']:.0f} calls/s), "
            f"aiohttp {cpu['aiohttp']:.2f} ms ({rate['aiohttp']:.0f} calls/s): "
            f"x{ratio:.2f} the CPU",
            flush=True,
        )


if __name__ == "__main__":
    main()
