"""The typed callback context: handlers reach services as `context.services`, never via globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from telegram.ext import CallbackContext, ExtBot

from bot.clock import Clock
from bot.cohorts import CohortService
from bot.config import Settings
from bot.content import Content
from bot.crypto import Keyring
from bot.delivery import DeliveryService
from bot.enrolment import EnrolmentService
from bot.flood import FloodLimit
from bot.learners import LearnerService
from bot.learning import LearningService
from bot.lookup import Lookup
from bot.privacy import PrivacyService
from bot.roles import LeadService
from bot.safety import SafetyCheck
from bot.updates import UpdateLog

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
    leads: LeadService
    enrolment: EnrolmentService


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with typed access to the application's services."""

    @property
    def services(self) -> Services:
        """The services built in the composition root."""
        return cast(Services, self.application.bot_data[SERVICES_KEY])
