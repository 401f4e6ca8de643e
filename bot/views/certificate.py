"""/certificate: the options screen, the one-page PDF record of learning and its CPD summary.

The certificate and the summary say the same facts (`_facts`), so they cannot drift apart.
Reflections never appear, only (if chosen) the titles of the lessons reflected on.
"""

from __future__ import annotations

from datetime import date

from bot.core.dates import named, short_date
from bot.core.textclean import utf16_len
from bot.results.certificate import CertificateOptions, LearningRecord, NotFinished
from bot.views.callbacks import CERT_MAKE, CERT_NAME, CERT_OPTIONS, encode
from bot.views.pdf import ACCENT, MUTED, Page, one_page
from bot.views.screen import Button, Screen, escape

# Where the name on the certificate came from (the second argument of CERT_MAKE).
TELEGRAM_NAME = "t"
TEAM_NAME = "c"
TYPED_NAME = "y"
# The summary as one message (Telegram allows 4,096 characters; the rest is markup headroom).
_MESSAGE_BUDGET = 3900
_SOURCE_WORDS = {
    TELEGRAM_NAME: "your Telegram first name",
    TEAM_NAME: "the name you gave your team",
    TYPED_NAME: "the name you typed",
}


def _long(day: date) -> str:
    return named(day)


def _short(day: date) -> str:
    return short_date(day)


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")


def flags(reflected: bool, mastered: bool) -> str:
    """The two choices as callback text: "10" means titles of reflections yes, mastery no."""
    return f"{int(reflected)}{int(mastered)}"


def parse_flags(text: str) -> tuple[bool, bool] | None:
    """The two choices back from callback text; None when malformed (a forged button)."""
    if len(text) != 2 or any(c not in "01" for c in text):
        return None
    return text[0] == "1", text[1] == "1"


def not_finished_screen(left: NotFinished) -> Screen:
    """/certificate before the last lesson: kindly, how many to go."""
    lessons = "lesson" if left.lessons_left == 1 else "lessons"
    return Screen(
        "Your certificate is ready once you have finished the last lesson of the course."
        f" You have {left.lessons_left} {lessons} of {left.lessons_total} to go: they come at"
        " your usual time, or /next brings the next one now. Take it at your own pace."
    )


def not_a_learner_screen() -> Screen:
    """/certificate from someone who has not taken the course."""
    return Screen(
        "A certificate records the course you took with me. /start begins the course, one"
        " short lesson a day."
    )


def options_screen(
    options: CertificateOptions, first_name: str, reflected: bool, mastered: bool
) -> Screen:
    """What goes on the certificate: two optional parts (toggled in place), then the name."""
    chosen = flags(reflected, mastered)
    lines = [
        "<b>Your certificate</b>",
        "",
        "A one-page PDF record of learning: your name, the course, the lessons you completed"
        " with their dates, your learning time and the course's themes. Then the same facts as"
        " text to paste into a CPD portfolio.",
        "",
        "You can add, if you like (tap to switch on or off):",
        f"• the <b>titles</b> of the {_count(options.reflected_lessons, 'lesson')} you reflected"
        " on (never what you wrote)",
        f"• a line on what you have mastered: {_count(options.checks_mastered, 'knowledge check')}"
        " so far",
        "",
        "Then choose the name to print. Nothing about the certificate is stored.",
    ]
    tick = {True: "✅", False: "⬜"}
    rows: list[tuple[Button, ...]] = [
        (
            Button(
                f"{tick[reflected]} Lessons I reflected on",
                encode(CERT_OPTIONS, flags(not reflected, mastered)),
            ),
        ),
        (
            Button(
                f"{tick[mastered]} What I have mastered",
                encode(CERT_OPTIONS, flags(reflected, not mastered)),
            ),
        ),
    ]
    if first_name:
        rows.append(
            (Button(f"Make it for {first_name[:30]}", encode(CERT_MAKE, chosen, TELEGRAM_NAME)),)
        )
    if options.team_name and options.team_name != first_name:
        rows.append(
            (Button(f"Make it for {options.team_name[:30]}", encode(CERT_MAKE, chosen, TEAM_NAME)),)
        )
    rows.append((Button("Type a different name", encode(CERT_NAME, chosen)),))
    if first_name:
        lines.append(f"<i>{escape(first_name)} is your Telegram first name.</i>")
    if options.team_name and options.team_name != first_name:
        lines.append(f"<i>{escape(options.team_name)} is the name you gave your team.</i>")
    return Screen("\n".join(lines), tuple(rows))


def name_prompt_screen() -> Screen:
    """After "Type a different name"."""
    return Screen(
        "Type the name to print on your certificate, as you would like it to appear"
        " (for example with your professional registration). It is used for this PDF only and"
        " not stored."
    )


def name_problem_screen() -> Screen:
    """A typed name that had nothing printable left after cleaning."""
    return Screen(
        "I couldn't read a name in that. Type it again, or use /certificate to choose a name"
        " with a button."
    )


def certificate_filename(issued_on: date) -> str:
    """The PDF's file name (no personal name in it)."""
    return f"certificate-{issued_on.isoformat()}.pdf"


def certificate_caption(name: str, source: str) -> Screen:
    """Caption under the PDF: which name was used, and what comes next."""
    return Screen(
        f"Your record of learning, made out to <b>{escape(name)}</b>"
        f" ({_SOURCE_WORDS.get(source, 'the name you chose')})."
        " /certificate makes another with a different name or parts."
    )


def _minutes(total: int) -> str:
    hours, minutes = divmod(total, 60)
    if not hours:
        return f"{minutes} minutes"
    return f"{hours} hour{'s' if hours != 1 else ''} {minutes} minutes ({total} minutes)"


def _facts(record: LearningRecord) -> dict[str, str]:
    """The sentences both the PDF and the CPD summary use."""
    done = record.completed
    facts = {
        "lessons": f"{len(done)} of {record.lessons_total} lessons completed",
        "time": "Learning time: not estimated for this course.",
    }
    if done:
        first, last = min(d.done_on for d in done), max(d.done_on for d in done)
        facts["lessons"] += f", between {_long(first)} and {_long(last)}"
    if record.minutes is not None:
        facts["time"] = (
            f"Learning time: {_minutes(record.minutes)}, counted as {record.minutes_per_lesson}"
            " minutes for each lesson completed, the time the course gives a lesson (reading"
            " it, its reflective question and its knowledge check). The bot does not time your"
            " reading; add any further reflection or discussion yourself."
        )
    if record.mastered is not None:
        by_theme = "; ".join(
            f"{theme.title} {theme.mastered} of {theme.lessons}" for theme in record.themes
        )
        facts["mastered"] = (
            f"Knowledge checks mastered (answered right, with no review still open):"
            f" {record.mastered} of {record.lessons_total}" + (f": {by_theme}" if by_theme else "")
        )
    return facts


def certificate_pdf(record: LearningRecord, name: str) -> bytes:
    """The one-page A4 record of learning."""
    facts = _facts(record)

    def draw(page: Page) -> None:
        page.text("Record of learning", 26, bold=True, colour=ACCENT, centre=True)
        page.gap(3)
        page.text("This records that", 11, colour=MUTED, centre=True)
        page.text(name, 24, bold=True, centre=True)
        page.text("took the course", 11, colour=MUTED, centre=True)
        page.text(record.course_title, 17, bold=True, centre=True)
        page.text(
            "trauma-informed practice for frontline staff, in short daily lessons",
            10,
            colour=MUTED,
            centre=True,
        )
        page.rule()
        page.text(facts["lessons"] + ".", 11, bold=True)
        page.text(facts["time"], 9.5)
        if record.themes:
            page.heading("Learning themes", 12)
            page.items(
                [f"{t.title}: {t.completed} of {t.lessons} lessons" for t in record.themes], 10
            )
        page.heading("Lessons completed", 12)
        page.items([f"{_short(d.done_on)}: {d.title}" for d in record.completed], 8.5)
        if record.reflected is not None:
            page.heading("Lessons reflected on", 12)
            page.text(
                ("; ".join(record.reflected) or "None yet")
                + ". (Titles only: reflections stay private.)",
                9,
            )
        if "mastered" in facts:
            page.heading("What I have mastered", 12)
            page.text(facts["mastered"] + ".", 9.5)
        page.rule()
        page.text(
            f"Issued on {_long(record.issued_on)} from the course's own records. Dates are"
            " when each lesson was marked done.",
            8.5,
            colour=MUTED,
        )

    return one_page(f"Record of learning: {record.course_title}", draw)


def cpd_summary_screen(record: LearningRecord, name: str) -> Screen:
    """The same facts as plain text, to paste into a CPD portfolio."""
    facts = _facts(record)
    lines = [
        f"CPD record: {record.course_title}",
        f"Name: {name}",
        "Type of activity: self-directed online learning (short daily lessons, each with a"
        " reflective question and a knowledge check)",
        f"Completed: {facts['lessons']}",
        facts["time"],
    ]
    if record.themes:
        lines.append("Learning themes: " + "; ".join(t.title for t in record.themes))
    lines.append("Lessons completed:")
    lines += [f"- {_short(d.done_on)}: {d.title}" for d in record.completed]
    if record.reflected is not None:
        lines.append("Lessons I reflected on: " + ("; ".join(record.reflected) or "none yet"))
    if "mastered" in facts:
        lines.append(facts["mastered"])
    lines += [
        "",
        "What I learned and how it will change my practice: (your own words)",
    ]
    head = "<b>Your CPD summary</b>, to copy into your portfolio (tap it to copy):\n"
    text = escape("\n".join(lines))
    if utf16_len(head + text) > _MESSAGE_BUDGET:  # a longer course than the shipped one
        start = lines.index("Lessons completed:")
        lines[start : start + 1 + len(record.completed)] = [
            "Lessons completed: listed with their dates on the certificate"
        ]
        text = escape("\n".join(lines))
    if utf16_len(head + text) > _MESSAGE_BUDGET and record.reflected is not None:
        lines = [
            f"Lessons I reflected on: {len(record.reflected)}, named on the certificate"
            if line.startswith("Lessons I reflected on:")
            else line
            for line in lines
        ]
        text = escape("\n".join(lines))
    return Screen(f"{head}<pre>{text}</pre>")
