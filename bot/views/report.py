"""The programme report as files (issue 16): a CSV and an XLSX workbook with a readme sheet.

Pure functions of `ProgrammeReport`: one row per figure (section, item, measure, people, value),
the same rows in both files. Text that a spreadsheet would read as a formula is quoted.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from bot.core.dates import moment
from bot.results.confidence import SUPPRESSED, K
from bot.results.report import Cell, ProgrammeReport
from bot.views.screen import Screen, escape

COLUMNS = ("section", "item", "measure", "people", "value")
README_SHEET = "readme"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def readme_lines(report: ProgrammeReport) -> list[str]:
    """What the report holds and the rule every figure obeys (the readme sheet, line by line)."""
    return [
        f"Programme report: {report.course_title}",
        f"Made {moment(report.made_at, 'UTC')} UTC, across all team cohorts and self-enrolled"
        " learners.",
        "",
        "Each row is one figure about a group of people: 'people' is how many people it stands"
        " for, 'value' is the figure (a count, a mean, a median or a percentage).",
        f"Privacy rule: no figure stands for fewer than {K} people. Where a group is smaller,"
        f" both 'people' and 'value' show {SUPPRESSED} (suppressed: fewer than {K} people,"
        " possibly none). Where two parts add up to a shown total, both parts are suppressed if"
        " either is, so neither can be worked out.",
        "Nothing here is about one person: no names, no ids, no answers.",
        "",
        "Sections:",
        "enrolment: people with a course subscription, in a team cohort or self-enrolled.",
        "completion: people who reached the end (the last lesson done or skipped) and the"
        " median days from their first lesson to the end.",
        "lessons: per lesson, people it was sent to or opened by, who marked it done, skipped"
        " it, or pressed 'I need a moment' (a signal for content review), who answered its"
        " check (their first answer), the percentage of those right first time, and who has"
        " answered it right at least once (mastered).",
        "confidence: per self-assessment statement (1 = not at all confident, 5 = very"
        " confident), the mean rating at the start, at the end and six weeks later, how many"
        " chose 'prefer not to say', and the mean change from the start for people who rated"
        " it both times.",
    ]


def _text(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading formula character is quoted away."""
    return "'" + value if value.startswith(_FORMULA_START) and value != SUPPRESSED else value


def _cells(section: str, item: str, measure: str, people: Cell, value: Cell) -> list[Cell]:
    return [_text(section), _text(item), _text(measure), people, value]


def report_csv(report: ProgrammeReport) -> bytes:
    """Every figure as UTF-8 CSV (with a BOM so spreadsheets read it correctly)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in report.rows:
        writer.writerow(_cells(row.section, row.item, row.measure, row.people, row.value))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def report_xlsx(report: ProgrammeReport) -> bytes:
    """A workbook: the readme sheet first, then one sheet per section with the same rows."""
    book = Workbook()
    readme = book.active
    assert readme is not None
    readme.title = README_SHEET
    for line in readme_lines(report):
        readme.append([line])
    readme["A1"].font = Font(bold=True, size=14)
    readme.column_dimensions["A"].width = 120
    for cell in readme["A"]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for section in dict.fromkeys(row.section for row in report.rows):
        sheet = book.create_sheet(section)
        sheet.append(list(COLUMNS[1:]))
        for row in report.section(section):
            sheet.append(_cells(row.section, row.item, row.measure, row.people, row.value)[1:])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for column, width in zip("ABCD", (40, 48, 10, 10), strict=True):
            sheet.column_dimensions[column].width = width
    book.properties.creator = "trauma-informed practice bot"
    book.properties.created = report.made_at.replace(tzinfo=None)
    book.properties.modified = report.made_at.replace(tzinfo=None)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def report_filename(made_at: datetime, extension: str) -> str:
    """programme-report-2026-12-03.csv / .xlsx"""
    return f"programme-report-{made_at.date().isoformat()}.{extension}"


def report_caption(report: ProgrammeReport) -> Screen:
    """Caption for the report's files."""
    suppressed = sum(1 for row in report.rows if row.people == SUPPRESSED)
    return Screen(
        f"<b>Programme report</b>: {escape(report.course_title)}, {len(report.rows)} figures"
        f" ({suppressed} shown as {escape(SUPPRESSED)}: fewer than {K} people). The readme sheet"
        " explains each one."
    )
