"""Pictures for team leads: the cohort progress chart and the invite QR code, as PNG bytes.

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
from qrcode.constants import ERROR_CORRECT_M

_BAR = "#4c78a8"
_SOFT = "#9ecae9"
_INK = "#333333"
_PNG_METADATA = {"Software": None}  # no version stamp: the same data gives the same bytes


def progress_chart(
    weekly: Sequence[tuple[date, int]],
    per_lesson: Sequence[int] = (),
    members: int = 0,
) -> bytes:
    """A PNG: lessons completed per week and, when given, completion per lesson (percent).

    `per_lesson` holds, in course order, how many members completed each lesson; leave it
    empty for small groups, whose chart shows the weekly counts only.
    """
    panels = 2 if per_lesson and members > 0 else 1
    figure = Figure(figsize=(8, 3.2 * panels), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(panels, 1, squeeze=False)[:, 0]

    weeks = axes[0]
    labels = [f"{day.day} {day:%b}" for day, _ in weekly]
    counts = [count for _, count in weekly]
    weeks.bar(range(len(counts)), counts, color=_BAR)
    weeks.set_xticks(range(len(labels)), labels, fontsize=8)
    weeks.set_title("Lessons completed each week (week starting)", fontsize=11, color=_INK)
    weeks.set_ylabel("lessons", color=_INK)
    weeks.yaxis.get_major_locator().set_params(integer=True)
    weeks.spines[["top", "right"]].set_visible(False)

    if panels == 2:
        lessons = axes[1]
        shares = [100 * done / members for done in per_lesson]
        lessons.bar(range(1, len(shares) + 1), shares, color=_SOFT)
        lessons.set_ylim(0, 100)
        lessons.set_xlim(0.4, len(shares) + 0.6)
        step = 1 if len(shares) <= 15 else 5
        lessons.set_xticks([1, *range(step, len(shares) + 1, step)] if step > 1 else None)
        lessons.set_title("Members who completed each lesson", fontsize=11, color=_INK)
        lessons.set_xlabel("lesson", color=_INK)
        lessons.set_ylabel("% of members", color=_INK)
        lessons.spines[["top", "right"]].set_visible(False)

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
