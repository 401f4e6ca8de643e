"""The programme report an admin gets (issue 16): plain rows, no sqlalchemy.

Every row is one figure about a group of people: `people` is how many people it stands for and
`value` the figure itself (a count, a mean, a median or a percentage). Both are SUPPRESSED when
the group is smaller than K, so no cell ever stands for fewer than five people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Cell = int | float | str


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One figure: which section, about what, which measure, over how many people, the value."""

    section: str
    item: str
    measure: str
    people: int | str
    value: Cell


@dataclass(frozen=True, slots=True)
class ProgrammeReport:
    """The whole programme's figures, in sections, as made at `made_at` (UTC)."""

    made_at: datetime
    course_title: str
    rows: tuple[ReportRow, ...]

    def section(self, name: str) -> tuple[ReportRow, ...]:
        """The rows of one section, in order."""
        return tuple(row for row in self.rows if row.section == name)
