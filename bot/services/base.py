"""What most services are built from: the session factory, the clock and the course, and for the
team features who may see what. One constructor, so a new service states only what it adds."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.schema import Content
from bot.core.clock import Clock
from bot.services.roles import Access


class CourseService:
    """A service over the database and the course."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, content: Content
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._content = content
        self._course = frozenset(lesson.id for lesson in content.lessons)  # the lesson ids


class TeamService(CourseService):
    """A service over the database and the course whose answers depend on the caller's role."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        content: Content,
        access: Access,
    ) -> None:
        super().__init__(sessions, clock, content)
        self._access = access
