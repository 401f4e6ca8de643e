"""Pictures for team leads: the cohort's weekly chart and the invite QR code, as PNG bytes.

Pure functions of plain data (no database, no telegram). Charts use matplotlib's object API on
the Agg canvas (no pyplot global state, no display, safe in a worker thread) with the DejaVu Sans
font that ships with matplotlib: nothing is fetched from the internet. Charts carry counts and
percentages only, never a member's name.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import qrcode
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from qrcode.constants import ERROR_CORRECT_M

from bot.core.dates import short_day

_BAR = "#4c78a8"
_INK = "#333333"
_PNG_METADATA = {"Software": None}  # no version stamp: the same data gives the same bytes


def progress_chart(weekly: Sequence[tuple[date, int]]) -> bytes:
    """A PNG: lessons the cohort completed in each of the last whole weeks."""
    figure = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    weeks = figure.subplots()
    labels = [short_day(day) for day, _ in weekly]
    counts = [count for _, count in weekly]
    weeks.bar(range(len(counts)), counts, color=_BAR)
    weeks.set_xticks(range(len(labels)), labels, fontsize=8)
    weeks.set_title("Lessons completed each week (week starting)", fontsize=11, color=_INK)
    weeks.set_ylabel("lessons", color=_INK)
    weeks.yaxis.set_major_locator(MaxNLocator(integer=True))
    weeks.spines[["top", "right"]].set_visible(False)
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata=_PNG_METADATA)
    return out.getvalue()


def qr_png(data: str) -> bytes:
    """A QR code for `data` (an invite link) as a PNG big enough to print on a poster."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(data)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
