"""Composition: settings -> engine -> content -> services -> Application, in one documented order.

`python -m bot` (run and sandbox) and the tests all build the bot through `build_application`, so
what the tests exercise is exactly what runs in production.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults, ExtBot, JobQueue

from bot.config import Settings
from bot.content.safety import SafetyCheck
from bot.content.schema import Content
from bot.context import SERVICES_KEY, BotContext, Services
from bot.core.clock import Clock
from bot.core.crypto import Keyring, keyring_for
from bot.core.flood import FloodLimit
from bot.db.engine import create_engine, create_sessions, is_sqlite
from bot.handlers import (
    certificate,
    common,
    guard,
    learning,
    lookup,
    menus,
    onboarding,
    privacy,
    private,
)
from bot.handlers import cohorts as cohort_handlers
from bot.handlers import confidence as confidence_handlers
from bot.handlers import settings as settings_handlers
from bot.handlers import weekly as weekly_handlers
from bot.handlers.text import build_router
from bot.incoming import CountedRequest, IncomingBot, PerPerson
from bot.monitoring import Monitor
from bot.render import describe_bot
from bot.services.certificate import CertificateService
from bot.services.cohorts.dashboard import DashboardService
from bot.services.cohorts.joining import JoiningService
from bot.services.cohorts.manage import CohortService
from bot.services.cohorts.team_messages import TeamMessageService
from bot.services.confidence import ConfidenceService
from bot.services.enrolment import EnrolmentService
from bot.services.learners import LearnerService
from bot.services.learning import LearningService
from bot.services.lookup import Lookup
from bot.services.outbox.service import DeliveryService
from bot.services.privacy import PrivacyService
from bot.services.report import ReportService
from bot.services.retention import RetentionService
from bot.services.roles import Access, InviteThrottle, LeadService
from bot.services.updates import UpdateLog
from bot.views.checks import load_course
from scheduler import jobs
from scheduler.engine import DeliveryEngine
from scheduler.render import OutboxRenderer

log = logging.getLogger(__name__)

BotApplication = Application[
    ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], JobQueue[BotContext]
]
# Work that normally runs on a timer; the sandbox and tests call it after moving a fake clock.
ClockJob = Callable[[], Awaitable[object]]


@dataclass(slots=True)
class Runtime:
    """What the composition root built: the Application plus the resources it owns."""

    application: BotApplication
    services: Services
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    delivery: DeliveryEngine
    monitor: Monitor
    clock_jobs: list[ClockJob] = field(default_factory=list)


def build_services(
    settings: Settings, clock: Clock, content: Content, sessions: async_sessionmaker[AsyncSession]
) -> Services:
    """Build every service from its dependencies (only the key file is read here)."""
    keyring = build_keyring(settings)
    access, throttle = Access(settings.admin_telegram_ids), InviteThrottle(clock)
    return Services(
        settings=settings,
        clock=clock,
        content=content,
        keyring=keyring,
        updates=UpdateLog(sessions, clock),
        flood=FloodLimit(settings.flood_limit, settings.flood_storage_url),
        lookup=Lookup(content, sessions),
        safety=SafetyCheck(content.safety),
        learners=LearnerService(sessions, clock),
        delivery=DeliveryService(sessions, clock, content, settings),
        learning=LearningService(sessions, clock, content, keyring),
        privacy=PrivacyService(sessions, clock, content, keyring),
        cohorts=CohortService(sessions, clock, access),
        joining=JoiningService(sessions, clock, access, throttle),
        dashboards=DashboardService(sessions, clock, content, access),
        team_messages=TeamMessageService(sessions, clock, content, access),
        leads=LeadService(sessions, clock, access, throttle),
        enrolment=EnrolmentService(sessions, clock, content, keyring),
        confidence=ConfidenceService(sessions, clock, content),
        reports=ReportService(sessions, clock, content, access),
        certificate=CertificateService(sessions, clock, content),
    )


def build_keyring(settings: Settings) -> Keyring:
    """The master key: ENCRYPTION_KEY, else a key file beside the SQLite database."""
    secret = settings.encryption_key.get_secret_value() if settings.encryption_key else None
    previous = settings.encryption_previous_key
    url = make_url(settings.database_url)
    sqlite_path = Path(url.database or "") if is_sqlite(settings.database_url) else None
    return keyring_for(secret, previous.get_secret_value() if previous else None, sqlite_path)


def build_application(
    settings: Settings,
    clock: Clock,
    *,
    content: Content | None = None,
    token: str | None = None,
    application_class: type[BotApplication] | None = None,
) -> Runtime:
    """Wire the bot. Order: content -> engine/sessions -> services -> bot -> clock-driven work ->
    lifecycle hooks -> Application -> handlers."""
    # 1. Content is validated data; a broken lesson stops start-up with every problem listed.
    content = content or load_course(settings.lessons_dir, settings.support_file)
    # 2. The database engine (lazy: it connects on first use; disposed in post_shutdown).
    engine = create_engine(settings.database_url)
    sessions = create_sessions(engine)
    # 3. Services own transactions; handlers reach them through context.services.
    services = build_services(settings, clock, content, sessions)

    # 4. Updates arrive through the bot: flood-limited before parsing, then parsed one at a time
    #    (bot/incoming.py).
    bot = build_bot(settings, token, flood=services.flood)
    # 5. Everything on a clock (started in post_init): the delivery tick and its sender on this
    #    bot, ending pauses, the weekly huddle card for team leads, and the daily retention run.
    delivery = DeliveryEngine(
        services.delivery, bot, content, settings, clock, render=OutboxRenderer(content)
    )
    huddles = jobs.Huddles(services.team_messages, content, bot)
    retention = RetentionService(sessions, clock, services.privacy, services.updates, settings)
    # /healthz and /metrics on their own port, when METRICS_PORT is set (bot/monitoring.py).
    monitor = Monitor(delivery.probe(), host=settings.metrics_listen, port=settings.metrics_port)

    # 6. The Application's lifecycle: resources opened in post_init, closed in post_shutdown.
    async def post_init(application: BotApplication) -> None:
        await menus.set_all_menus(application.bot, services)
        # What it is and that it is not a crisis service, on its profile (lessons/course.yaml).
        await describe_bot(
            application.bot, content.course.description, content.course.short_description
        )
        jobs.start(
            application.job_queue,
            delivery=delivery,
            enrolment=services.enrolment,
            huddles=huddles,
            retention=retention,
            pauses_every=settings.delivery_tick_seconds,
        )
        await monitor.start()

    async def post_stop(application: BotApplication) -> None:
        await delivery.stop()  # SIGTERM: stop claiming, finish or release sends in flight
        await services.updates.flush()  # the ids of the last handled updates
        await services.lookup.flush()  # and the last card views

    async def post_shutdown(application: BotApplication) -> None:
        await monitor.stop()
        await services.flood.close()
        await engine.dispose()

    # 7. The Application: handlers reach the services through its bot_data.
    builder = (
        ApplicationBuilder()
        .bot(bot)
        # Each person's updates in order, different people's side by side (bot/incoming.py).
        .concurrent_updates(PerPerson(services.flood))
        .context_types(ContextTypes(context=BotContext))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    if application_class is not None:
        builder = builder.application_class(application_class)
    application: BotApplication = builder.build()  # type: ignore[assignment]
    application.bot_data[SERVICES_KEY] = services

    # 8. Handlers, in precedence order.
    add_handlers(application)
    return Runtime(
        application=application,
        services=services,
        engine=engine,
        sessions=sessions,
        delivery=delivery,
        monitor=monitor,
        clock_jobs=[
            services.enrolment.end_due_pauses,
            services.enrolment.queue_week_prompts,
            delivery.run_once,
            huddles.run_once,
            retention.run,
        ],
    )


def build_bot(
    settings: Settings, token: str | None = None, *, flood: FloodLimit | None = None
) -> IncomingBot:
    """The bot, built here rather than by the builder so that updates arrive through its flood
    limit and are parsed one at a time (bot/incoming.py); the connection pools are the
    builder's defaults."""
    secret = token or (
        settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else None
    )
    if not secret:
        raise ValueError("a bot token is needed to build the application")
    return IncomingBot(
        token=secret,
        base_url=settings.telegram_api_base_url,
        defaults=Defaults(block=True),
        request=CountedRequest(connection_pool_size=256),
        get_updates_request=CountedRequest(connection_pool_size=1),
        reply_rate=settings.reply_chat_rate,
        flood=flood,
    )


def add_handlers(application: BotApplication) -> None:
    """Every handler, in precedence order (one group: the first match wins): personal commands
    and buttons outside the person's private chat first (bot.handlers.private), then the
    always-available, then features, then the fallbacks for anything nobody handled; the guard
    (flood limit, redelivered updates) runs before them all in its own group."""
    application.add_handlers(
        [
            *private.handlers(),
            *common.first_handlers(),
            *onboarding.handlers(),
            *settings_handlers.handlers(),
            *weekly_handlers.handlers(),
            *learning.handlers(),
            *privacy.handlers(),
            *certificate.handlers(),
            *cohort_handlers.handlers(),
            *confidence_handlers.handlers(),
            *lookup.handlers(),
            # Free text: the step of a flow the person started (reflection, schedule, display
            # name), otherwise a search.
            build_router(
                {
                    **settings_handlers.TEXT_FLOWS,
                    **learning.TEXT_FLOWS,
                    **cohort_handlers.TEXT_FLOWS,
                    **certificate.TEXT_FLOWS,
                },
                lookup.search_text,
                lookup.safety_only,
            ),
            *common.fallback_handlers(),
        ]
    )
    for handler, group in [*guard.handlers(), *learning.after_reply_handlers()]:
        application.add_handler(handler, group=group)
    application.add_error_handler(common.error_handler)


ALLOWED_UPDATES = Update.ALL_TYPES


@contextlib.asynccontextmanager
async def started(application: BotApplication) -> AsyncIterator[BotApplication]:
    """Initialise and start the Application (with its post_* hooks) and stop it afterwards.

    `run_polling` does this itself; webhook mode and the simulator use this instead.
    """
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.start()
    try:
        yield application
    finally:
        await application.stop()
        if application.post_stop:
            await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)
