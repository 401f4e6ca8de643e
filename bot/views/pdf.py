"""One-page A4 PDFs with fpdf2: the learner's certificate and the lead's invite poster.

Both are laid out with the same few verbs of `Page` (a heading, a line of text, a list, an
image, a gap) on one page, in DejaVu Sans, the Unicode font that ships with matplotlib (already a
dependency), so names in any script the font covers print as typed; a character it has no glyph
for is left out rather than printed as a box (and never logged by fpdf2's missing-glyph warning,
since the text could be a name). `one_page` draws the layout at full size and, if it runs onto a
second page, again a little smaller, so a long name or a full course still fits on one sheet.

Pure functions of plain data: no database, no telegram. The bytes are the same for the same
input (fixed creation date), so tests and printers see exactly what was laid out.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import matplotlib
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos

FONT = "DejaVu"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
MARGIN_MM = 18.0
INK = (34, 34, 34)  # near-black on white paper: 15.9:1
MUTED = (80, 80, 80)  # secondary text: 7.9:1 on white
ACCENT = (31, 78, 121)  # headings and rules: 8.6:1 on white
_SCALES = (1.0, 0.92, 0.85, 0.78, 0.72, 0.66, 0.6)
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # fixed, so the same data gives the same bytes


def _font_dir() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@cache
def _covered() -> frozenset[int]:
    """Code points DejaVu Sans (regular and bold) can draw."""
    points: set[int] | None = None
    for file in _FONT_FILES.values():
        cmap = set(TTFont(str(_font_dir() / file)).getBestCmap())
        points = cmap if points is None else points & cmap
    return frozenset(points or ())


def printable(text: str) -> str:
    """`text` without characters the font cannot draw (an emoji or a CJK name part, say)."""
    covered = _covered()
    kept = "".join(c for c in text if ord(c) in covered or c == "\n")
    return text if kept == text else re.sub(" {2,}", " ", kept).strip()


class Page:
    """The verbs a one-page layout is written in; sizes in points, scaled to fit the page."""

    def __init__(self, pdf: FPDF, scale: float) -> None:
        self._pdf = pdf
        self.scale = scale

    @property
    def width(self) -> float:
        """The width between the margins, in mm."""
        return float(self._pdf.epw)

    def text(
        self,
        text: str,
        size: float = 11,
        *,
        bold: bool = False,
        colour: tuple[int, int, int] = INK,
        centre: bool = False,
        wrap_anywhere: bool = False,
    ) -> None:
        """A paragraph, wrapped at the margins (a link may wrap inside a word)."""
        pt = size * self.scale
        self._pdf.set_font(FONT, "B" if bold else "", pt)
        self._pdf.set_text_color(*colour)
        self._pdf.multi_cell(
            0,
            pt * 0.3528 * 1.35,  # points to mm, with line spacing
            printable(text),
            align=Align.C if centre else Align.L,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            wrapmode=WrapMode.CHAR if wrap_anywhere else WrapMode.WORD,
        )

    def heading(self, text: str, size: float = 14) -> None:
        """A section heading in the accent colour, with a little space above."""
        self.gap(2.5)
        self.text(text, size, bold=True, colour=ACCENT)

    def items(self, lines: Sequence[str], size: float = 10) -> None:
        """A bulleted list, one wrapped paragraph per item."""
        for line in lines:
            self.text(f"•  {line}", size)

    def rule(self) -> None:
        """A thin line across the page."""
        self.gap(1.5)
        y = self._pdf.get_y()
        self._pdf.set_draw_color(*ACCENT)
        self._pdf.set_line_width(0.4)
        self._pdf.line(self._pdf.l_margin, y, self._pdf.l_margin + self.width, y)
        self.gap(1.5)

    def image(self, png: bytes, width_mm: float) -> None:
        """A PNG centred on the page, `width_mm` wide (scaled with the page)."""
        width = width_mm * self.scale
        x = self._pdf.l_margin + (self.width - width) / 2
        self._pdf.image(io.BytesIO(png), x=x, w=width)
        self._pdf.set_y(self._pdf.get_y() + 1)

    def gap(self, mm: float) -> None:
        """Vertical space."""
        self._pdf.set_y(self._pdf.get_y() + mm * self.scale)


def one_page(title: str, draw: Callable[[Page], None]) -> bytes:
    """An A4 PDF of what `draw` lays out, made smaller until it fits on one page (down to 60%;
    past that, longer than any shipped layout needs, it runs on rather than becoming unreadable)."""
    for scale in _SCALES:
        pdf = FPDF(format="A4", unit="mm")
        pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        pdf.set_auto_page_break(auto=True, margin=MARGIN_MM)
        pdf.set_creation_date(_EPOCH)
        pdf.set_title(printable(title))
        pdf.set_creator("Trauma-informed practice bot")
        for style, file in _FONT_FILES.items():
            pdf.add_font(FONT, style, str(_font_dir() / file))
        pdf.add_page()
        draw(Page(pdf, scale))
        if pdf.page_no() == 1:
            break
    return bytes(pdf.output())
