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
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.results.certificate import CompletedLesson, LearningRecord, ThemeRecord
from bot.views.certificate import certificate_pdf
from bot.views.checks import load_course

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default="data/pictures", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pictures = {"certificate.pdf": sample_certificate()}
    for name, data in pictures.items():
        (args.out / name).write_bytes(data)
        print(args.out / name)


if __name__ == "__main__":
    main()
