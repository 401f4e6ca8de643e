"""Render the pictures the bot sends, from sample data, to look at them: the lead's weekly chart
(PNG), the invite poster (PDF) and the learner's certificate (PDF).

    .venv/bin/python scripts/render_pictures.py [OUT_DIR]      # default: data/pictures

Uses the same view functions the bot calls, with the shipped course content; no database, no
Telegram. Open the files in any image or PDF viewer (the chart at about 330 px wide is how a
phone shows it in a chat).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.schedule import WEEKDAYS
from bot.results.certificate import CompletedLesson, LearningRecord, ThemeRecord
from bot.results.cohorts import CohortInfo, InviteLink
from bot.views.certificate import certificate_pdf
from bot.views.charts import progress_chart
from bot.views.checks import load_course
from bot.views.cohorts import invite_poster

ROOT = Path(__file__).resolve().parents[1]


def sample_certificate() -> bytes:
    """A learner who finished the shipped course, with both optional parts chosen."""
    content = load_course(ROOT / "lessons", None)
    start = date(2026, 10, 5)
    done = {lesson.id: start + timedelta(days=i) for i, lesson in enumerate(content.lessons)}
    record = LearningRecord(
        course_title=content.course.title,
        lessons_total=len(content.lessons),
        completed=tuple(
            CompletedLesson(lesson.title, done[lesson.id]) for lesson in content.lessons
        ),
        minutes_per_lesson=content.course.minutes_per_lesson,
        themes=tuple(
            ThemeRecord(theme.title, len(theme.lessons), len(theme.lessons), len(theme.lessons) - 1)
            for theme in content.course.themes
        ),
        issued_on=date(2026, 11, 30),
        reflected=tuple(lesson.title for lesson in content.lessons[::4]),
        mastered=27,
    )
    return certificate_pdf(record, "Łucja Øberg-Ольга Ñúñez")


def sample_poster() -> bytes:
    """The invite poster of a cohort with a long name and a real-length link."""
    cohort = CohortInfo(
        id=1,
        name="Night team, Riverside children's home",
        lead_name="Sam O'Connor",
        delivery_time=time(8),
        timezone="Europe/London",
        days=WEEKDAYS,
        starts_on=date(2026, 12, 7),
        huddle_day=0,
        members=0,
    )
    link = InviteLink("x" * 32, datetime(2026, 12, 30, 10, tzinfo=UTC), None)
    url = "https://t.me/TraumaInformedBot?start=inv-" + "Zk3_q9XyLm2Pw8Rt5Vb7Nc4Hd6Js1Fg0"
    return invite_poster(cohort, link, url)


def sample_chart() -> bytes:
    """The weekly chart of a cohort that began six whole weeks ago."""
    this_week = date(2026, 11, 30)
    weeks = [this_week - timedelta(weeks=back) for back in range(6, 0, -1)]
    return progress_chart(list(zip(weeks, [3, 11, 18, 24, 9, 31], strict=True)), this_week)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default="data/pictures", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pictures = {
        "chart.png": sample_chart(),
        "certificate.pdf": sample_certificate(),
        "poster.pdf": sample_poster(),
    }
    for name, data in pictures.items():
        (args.out / name).write_bytes(data)
        print(args.out / name)


if __name__ == "__main__":
    main()
