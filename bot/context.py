"""The typed callback context: handlers reach services as `context.services`, never via globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from telegram.ext import CallbackContext, ExtBot

from bot.config import Settings
from bot.content.safety import SafetyCheck
from bot.content.schema import Content
from bot.core.clock import Clock
from bot.core.crypto import Keyring
from bot.core.flood import FloodLimit
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
from bot.services.roles import LeadService
from bot.services.updates import UpdateLog

SERVICES_KEY = "services"


@dataclass(slots=True)
class Services:
    """Everything handlers and the scheduler may use, built once in the composition root."""

    settings: Settings
    clock: Clock
    content: Content
    lookup: Lookup
    safety: SafetyCheck
    keyring: Keyring
    updates: UpdateLog
    flood: FloodLimit
    learners: LearnerService
    delivery: DeliveryService
    learning: LearningService
    privacy: PrivacyService
    cohorts: CohortService
    joining: JoiningService
    dashboards: DashboardService
    team_messages: TeamMessageService
    leads: LeadService
    enrolment: EnrolmentService
    confidence: ConfidenceService
    reports: ReportService
    certificate: CertificateService


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with typed access to the application's services."""

    @property
    def services(self) -> Services:
        """The services built in the composition root."""
        return cast(Services, self.application.bot_data[SERVICES_KEY])
