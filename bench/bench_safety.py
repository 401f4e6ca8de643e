"""How long the safety check takes on the shipped phrases: short queries and a long reflection.

Run: .venv/bin/python bench/bench_safety.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content.loader import load_content
from bot.content.safety import SafetyCheck

QUERIES = [
    "stage 2",
    "what do I say when someone tells me about their trauma",
    "I want to kill myself",
    "a child told me they are being hurt at home",
]
REFLECTION = ("Today we talked about routines and boundaries in the team meeting. " * 60)[:4000]


def per_call(check: SafetyCheck, texts: list[str], rounds: int) -> float:
    """Seconds per check, averaged over every text and round."""
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            check.check(text)
    return (time.perf_counter() - start) / (rounds * len(texts))


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    check = SafetyCheck(load_content(ROOT / "lessons").safety)
    print(f"short texts: {per_call(check, QUERIES, 2000) * 1e6:.1f} µs per check")
    long = per_call(check, [REFLECTION], 200)
    print(f"4,000-character reflection: {long * 1e3:.2f} ms per check")


if __name__ == "__main__":
    main()
