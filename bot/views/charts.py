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

_BAR = "#4c78a8"
_INK = "#333333"
_PNG_METADATA = {"Software": None}  # no version stamp: the same data gives the same bytes


def progress_chart(weekly: Sequence[tuple[date, int]]) -> bytes:
    """A PNG: lessons the cohort completed in each of the last whole weeks."""
    figure = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    weeks = figure.subplots()
    labels = [f"{day.day} {day:%b}" for day, _ in weekly]
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


# --- Confidence before and after (issue 16) -------------------------------------------------------
# Made for a Telegram photo bubble about 330 px wide: 540 px drawn, so text of 15-17 pt (21-24 px)
# arrives at about 13-15 px; every value is written on its bar, and both bar colours and the ink
# are at least 4.5:1 against white (WCAG's 3:1 for graphics, with room to spare).
_START = "#6b6b6b"  # grey, 5.3:1 on white
_END = "#1f4e79"  # dark blue, 8.7:1 on white
_CONFIDENCE_INK = "#1a1a1a"


def confidence_chart(changes: Sequence[tuple[str, float, float]]) -> bytes:
    """A PNG: for each statement (its short label), the mean rating 1-5 at the start and at the
    end, as two labelled horizontal bars under the statement's name."""
    rows = len(changes)
    step, height = 1.4, 0.36
    figure = Figure(figsize=(5.4, 0.7 + 1.3 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for index, (label, start, end) in enumerate(changes):
        top = -index * step
        axes.text(
            0, top, label, va="center", ha="left", fontsize=17, weight="bold", color=_CONFIDENCE_INK
        )
        for y, value, colour, name in (
            (top - 0.45, start, _START, "start"),
            (top - 0.85, end, _END, "end"),
        ):
            axes.barh(y, value, height=height, color=colour)
            axes.text(
                value + 0.08,
                y,
                f"{value:.1f} {name}",
                va="center",
                ha="left",
                fontsize=15,
                color=_CONFIDENCE_INK,
            )
    axes.set_xlim(0, 6.6)  # room for "4.2 start" after a full bar of 5
    axes.set_ylim(-step * (rows - 1) - 1.1, 0.3)
    axes.set_title("Confidence 1-5: start and end", fontsize=17, color=_CONFIDENCE_INK, loc="left")
    axes.axis("off")
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata=_PNG_METADATA)
    return out.getvalue()
