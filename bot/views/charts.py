"""Pictures for team leads: the cohort's weekly chart and the invite QR code, as PNG bytes.

Pure functions of plain data (no database, no telegram). Charts use matplotlib's object API on
the Agg canvas (no pyplot global state, no display, safe in a worker thread) with the DejaVu Sans
font that ships with matplotlib: nothing is fetched from the internet. Charts carry counts and
percentages only, never a member's name.

Every chart is read on a phone: drawn with the shared style below (size, type, colours), with
its numbers written on it, and the same numbers in the message text for screen readers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, timedelta

import qrcode
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from qrcode.constants import ERROR_CORRECT_M

from bot.core.dates import short_day

# --- The style every chart shares (the confidence chart too) -------------------------------------
# Telegram shows a photo about 330 px wide in a chat on a phone. Charts are drawn at twice that
# (sharp on a phone's screen) with type large enough to read there: the smallest text is
# FONT_LABEL pt, which at DPI is FONT_LABEL * DPI / 72 px in the image and half that on the phone.
PHONE_WIDTH_PX = 330
CHART_WIDTH_PX = 2 * PHONE_WIDTH_PX
DPI = 100
MIN_PHONE_TEXT_PX = 11  # the smallest text, as it appears in the phone's photo bubble
FONT_TITLE = 22  # points
FONT_LABEL = 18
FONT_VALUE = 18
ROW_PX = 64  # one bar's row in a horizontal bar chart
# Colours with enough contrast on the white background (WCAG: 3:1 for bars and other marks,
# 4.5:1 for text); tests/test_charts.py computes every pair with `contrast_ratio`.
BACKGROUND = "#ffffff"
INK = "#1a1a1a"  # titles, labels and values
MUTED = "#595959"  # secondary text such as "counted on Monday"
BAR = "#1f5f99"  # a bar
BAR_OTHER = "#b35900"  # a second series (e.g. "after", next to BAR's "before")
_PNG_METADATA = {"Software": None}  # no version stamp: the same data gives the same bytes


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two "#rrggbb" colours, from 1 (none) to 21 (black on white)."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def phone_text_px(points: float) -> float:
    """How tall text of `points` appears in the phone's photo bubble, in px."""
    return points * DPI / 72 * PHONE_WIDTH_PX / CHART_WIDTH_PX


def new_chart(rows: int) -> tuple[Figure, Axes]:
    """A figure CHART_WIDTH_PX wide with room for a title and `rows` horizontal bars."""
    height_px = 120 + ROW_PX * max(rows, 1)
    figure = Figure(
        figsize=(CHART_WIDTH_PX / DPI, height_px / DPI),
        dpi=DPI,
        layout="constrained",
        facecolor=BACKGROUND,
    )
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_facecolor(BACKGROUND)
    axes.spines[["top", "right", "bottom"]].set_visible(False)
    axes.spines["left"].set_color(INK)
    axes.tick_params(axis="y", labelsize=FONT_LABEL, colors=INK, length=0, pad=8)
    axes.set_xticks([])
    return figure, axes


def to_png(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata=_PNG_METADATA, facecolor=BACKGROUND)
    return out.getvalue()


def progress_chart(weekly: Sequence[tuple[date, int]], this_week: date) -> bytes:
    """A PNG: lessons the cohort completed in each whole week (a bar each, its number at its
    end), then this week's row marked as not counted until next Monday."""
    return to_png(progress_figure(weekly, this_week))


def progress_figure(weekly: Sequence[tuple[date, int]], this_week: date) -> Figure:
    """The weekly chart as a figure (`progress_chart` draws it)."""
    figure, axes = new_chart(len(weekly) + 1)
    labels = [f"w/c {short_day(day)}" for day, _ in weekly] + ["this week"]
    counts = [count for _, count in weekly]
    rows = list(range(len(labels)))
    bars = axes.barh(rows[:-1], counts, color=BAR, height=0.7)
    axes.bar_label(
        bars,
        labels=[str(c) for c in counts],
        padding=6,
        fontsize=FONT_VALUE,
        color=INK,
        fontweight="bold",
    )
    top = max(counts, default=0)
    axes.set_xlim(0, max(top, 1) * 1.25)
    axes.text(
        0,
        rows[-1],
        f"  counted on Mon {short_day(this_week + timedelta(weeks=1))}",
        va="center",
        fontsize=FONT_LABEL,
        color=MUTED,
        style="italic",
    )
    axes.set_yticks(rows, labels)
    axes.invert_yaxis()  # oldest week at the top, this week at the bottom
    figure.suptitle(
        "Lessons completed each week",
        x=0.02,
        ha="left",
        fontsize=FONT_TITLE,
        color=INK,
        fontweight="bold",
    )
    return figure


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
