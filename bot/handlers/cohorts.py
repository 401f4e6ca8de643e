"""Team leads and cohorts: thin verbs over the cohort services and LeadService.

Commands: /lead (admins manage leads; leads get their help), /cohorts, /cohort ... (leads), and
/leave (members). Buttons: the TEAM_* and LEAD_* callbacks. An invite link's `/start` payload is
handed here by the /start handler (`open_invite`); the name a joining member types arrives
through the free-text router as the PENDING_NAME flow (TEXT_FLOWS).

Every lead and admin verb lets the service check the caller's role and cohort ownership, on
every call; a refusal of any kind gets the same neutral reply. Nothing a person typed, and no
payload, is logged.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import date, time

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.core.pattern import parse_team_rota
from bot.core.schedule import local_date, parse_days, weekdays_of
from bot.core.states import ConfidencePhase
from bot.core.timeparse import match_timezone, parse_time
from bot.handlers import confidence, parse
from bot.handlers.menus import refresh_menu
from bot.handlers.text import FlowStep
from bot.render import reply, show
from bot.results.cohorts import (
    PENDING_NAME,
    SUBCOMMANDS,
    AlreadyMember,
    CohortChange,
    CohortInfo,
    CohortInvitePreview,
    CohortNameProblem,
    InviteLink,
    InviteRefused,
    Joined,
    LeadInvitePreview,
    NamePrompt,
    NameRejected,
)
from bot.results.roles import ADMIN, NONE, NotAvailable, looks_like_invite
from bot.services.cohorts.dashboard import roster_csv
from bot.views.callbacks import (
    LEAD_ACCEPT,
    LEAD_REMOVE,
    TEAM_ARCHIVE,
    TEAM_CANCEL,
    TEAM_DECLINE,
    TEAM_JOIN,
    TEAM_LEAVE,
    TEAM_LEAVE_ASK,
    TEAM_NAME_CANCEL,
    TEAM_OPEN,
    TEAM_PATTERN,
    TEAM_REMOVE,
    TEAM_REMOVE_ASK,
    TEAM_SHOW_ACTIVITY,
    Callback,
)
from bot.views.charts import confidence_chart, progress_chart, qr_png
from bot.views.cohorts import (
    activity_choice_screen,
    already_member_screen,
    archive_confirm_screen,
    archived_screen,
    bad_invite_screen,
    cancelled_screen,
    chart_caption,
    cohort_name_problem_screen,
    cohorts_screen,
    dashboard_screen,
    declined_screen,
    deep_link,
    export_caption,
    export_filename,
    handover_screen,
    invite_caption,
    invite_poster,
    join_cancelled_screen,
    join_screen,
    joined_screen,
    lead_accepted_screen,
    lead_added_screen,
    lead_help_screen,
    lead_invitation_screen,
    lead_invite_created_screen,
    lead_remove_confirm_screen,
    lead_removed_screen,
    lead_usage_screen,
    leads_screen,
    leave_confirm_screen,
    leave_screen,
    left_screen,
    name_prompt_screen,
    name_rejected_screen,
    not_available_screen,
    nudge_result_screen,
    poster_caption,
    poster_filename,
    remove_confirm_screen,
    removed_screen,
    roster_screen,
    setting_problem_screen,
    settings_screen,
    team_pattern_gone_screen,
    team_pattern_taken_screen,
)
from bot.views.confidence import change_caption
from bot.views.screen import Screen

_ID = re.compile(r"-?\d{1,18}")  # fits a 64-bit column whatever the digits
# /cohort subcommands that name a cohort after them (every one is reserved as a name start).
_ON_A_COHORT = SUBCOMMANDS - {"new", "help"}


def _number(text: str) -> int | None:
    return int(text) if _ID.fullmatch(text) else None


async def _photo(update: Update, context: BotContext, png: bytes, caption: Screen) -> None:
    chat = parse.chat_id(update)
    if chat is not None:
        await context.bot.send_photo(
            chat, png, caption=caption.text, parse_mode=ParseMode.HTML, filename="image.png"
        )


async def _not_available(update: Update) -> None:
    if update.callback_query is not None:
        await show(update, not_available_screen())
    else:
        await reply(update, not_available_screen())


# --- /lead (admins; leads get their help) ---------------------------------------------------------


async def lead(update: Update, context: BotContext) -> None:
    """Admins: invite, add, list, remove and hand over leads. Leads: what they can do."""
    user = parse.user_id(update)
    if user is None:
        return
    leads = context.services.leads
    words = parse.one_line_argument(update).split()
    verb, rest = (words[0].lower(), words[1:]) if words else ("", [])
    try:
        if verb in ("", "help"):
            role = await leads.role(user)
            if role == NONE:
                raise NotAvailable
            await reply(update, lead_help_screen(admin=role == ADMIN))
        elif verb == "invite" and not rest:
            invite = await leads.invite(user)
            url = deep_link(context.bot.username, invite.token)
            await reply(update, lead_invite_created_screen(invite, url))
        elif verb == "list" and not rest:
            await reply(update, leads_screen(await leads.leads(user)))
        elif verb in ("add", "remove", "handover"):
            await _lead_change(update, context, user, verb, rest)
        else:
            raise NotAvailable
    except NotAvailable:
        await _not_available(update)


async def _lead_change(
    update: Update, context: BotContext, user: int, verb: str, rest: list[str]
) -> None:
    leads = context.services.leads
    ids = [_number(word) for word in rest]
    wanted = 2 if verb == "handover" else 1
    # A handover may come from the placeholder (negative) a lead's /forget left on their cohorts.
    usable = [
        i is not None and (i > 0 or (i < 0 and verb == "handover" and index == 0))
        for index, i in enumerate(ids)
    ]
    if len(ids) != wanted or not all(usable):
        # Only an admin learns the usage; anyone else gets the neutral reply.
        leads_role = await leads.role(user)
        if leads_role != ADMIN:
            raise NotAvailable
        await reply(update, lead_usage_screen())
        return
    numbers = [i for i in ids if i is not None]
    if verb == "add":
        await reply(update, lead_added_screen(numbers[0], await leads.add(user, numbers[0])))
        await refresh_menu(context, numbers[0])
    elif verb == "remove":
        await reply(update, lead_remove_confirm_screen(await leads.lead(user, numbers[0])))
    else:
        await reply(update, handover_screen(await leads.handover(user, *numbers)))


# --- /cohorts and /cohort (leads) -----------------------------------------------------------------


async def cohorts(update: Update, context: BotContext) -> None:
    """The lead's cohorts, a button each."""
    user = parse.user_id(update)
    if user is None:
        return
    try:
        await reply(update, cohorts_screen(await context.services.cohorts.mine(user)))
    except NotAvailable:
        await _not_available(update)


async def cohort(update: Update, context: BotContext) -> None:
    """/cohort new|invite|export|nudge|remove|archive|settings|... <name>, or /cohort <name>."""
    user = parse.user_id(update)
    if user is None:
        return
    text = parse.one_line_argument(update)
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    service = context.services.cohorts
    try:
        if verb in ("", "help"):
            role = await context.services.leads.role(user)
            if role == NONE:
                raise NotAvailable
            await reply(update, lead_help_screen(admin=role == ADMIN))
        elif verb == "new":
            await _create(update, context, user, rest)
        elif verb in _ON_A_COHORT:
            info, tail = await service.resolve(user, rest)
            await _ON_COHORT[verb](update, context, user, info, tail)
        else:
            info, tail = await service.resolve(user, text)
            if tail:
                raise NotAvailable
            await _dashboard(update, context, user, info.id)
    except NotAvailable:
        await _not_available(update)


CohortVerb = Callable[[Update, BotContext, int, CohortInfo, str], Awaitable[None]]


async def _create(update: Update, context: BotContext, user: int, name: str) -> None:
    lead_name = update.effective_user.first_name if update.effective_user is not None else ""
    try:
        created = await context.services.cohorts.create(user, name, lead_name)
    except CohortNameProblem as problem:
        await reply(update, cohort_name_problem_screen(problem.reason))
        return
    await _invite_pictures(update, context, created.cohort, created.invite, created=True)


async def _invite_pictures(
    update: Update, context: BotContext, info: CohortInfo, link: InviteLink, *, created: bool
) -> None:
    """A new invite link: its QR code with the link under it, then the printable poster."""
    url = deep_link(context.bot.username, link.token)
    png = await asyncio.to_thread(qr_png, url)
    await _photo(update, context, png, invite_caption(info, link, url, created=created))
    chat = parse.chat_id(update)
    if chat is not None:
        poster = await asyncio.to_thread(invite_poster, info, link, url)
        await context.bot.send_document(
            chat,
            poster,
            filename=poster_filename(info.name),
            caption=poster_caption(info).text,
            parse_mode=ParseMode.HTML,
        )


async def _dashboard(update: Update, context: BotContext, user: int, cohort_id: int) -> None:
    dashboard = await context.services.dashboards.dashboard(user, cohort_id)
    await reply(update, dashboard_screen(dashboard))
    # Under five: the two counts only, no chart; none either before the first whole week.
    if not dashboard.small and dashboard.weekly:
        png = await asyncio.to_thread(progress_chart, dashboard.weekly, dashboard.counted_until)
        await _photo(update, context, png, chart_caption(dashboard))
    if dashboard.confidence:  # only ever a release of five or more people
        bars = [(c.label, c.start_mean, c.end_mean) for c in dashboard.confidence]
        png = await asyncio.to_thread(confidence_chart, bars)
        caption = change_caption(dashboard.cohort.name, dashboard.confidence)
        await _photo(update, context, png, caption)


async def _show(
    update: Update, context: BotContext, user: int, info: CohortInfo, tail: str
) -> None:
    if tail:
        raise NotAvailable
    await _dashboard(update, context, user, info.id)


async def _invite(
    update: Update, context: BotContext, user: int, info: CohortInfo, tail: str
) -> None:
    options = tail.lower().split()
    limits: dict[str, int] = {}
    while len(options) >= 2 and options[0] in ("uses", "days") and options[1].isdigit():
        limits[options[0]] = int(options[1])
        options = options[2:]
    try:
        if options:
            raise ValueError(tail)
        link = await context.services.cohorts.rotate_invite(
            user, info.id, days=limits.get("days"), max_uses=limits.get("uses")
        )
    except ValueError:
        await reply(update, setting_problem_screen("invite"))
        return
    await _invite_pictures(update, context, info, link, created=False)


async def _export(
    update: Update, context: BotContext, user: int, info: CohortInfo, tail: str
) -> None:
    if tail:
        raise NotAvailable
    name, rows = await context.services.dashboards.roster(user, info.id)
    chat = parse.chat_id(update)
    if chat is None:
        return
    today = local_date(context.services.clock.now(), info.timezone)
    await context.bot.send_document(
        chat,
        roster_csv(rows),
        filename=export_filename(name, today),
        caption=export_caption(name, len(rows)).text,
        parse_mode=ParseMode.HTML,
    )


async def _nudge(
    update: Update, context: BotContext, user: int, info: CohortInfo, tail: str
) -> None:
    if tail:
        raise NotAvailable
    result = await context.services.team_messages.nudge(user, info.id)
    await reply(update, nudge_result_screen(info.name, result, info.timezone))


async def _remove(
    update: Update, context: BotContext, user: int, info: CohortInfo, tail: str
) -> None:
    service = context.services.cohorts
    if not tail:
        await reply(update, roster_screen(info, await service.members(user, info.id)))
        return
    member = await service.member(user, info.id, tail)
    await reply(update, remove_confirm_screen(info, member))


async def _archive(
    update: Update, context: BotContext, user: int, info: CohortInfo, tail: str
) -> None:
    if tail:
        raise NotAvailable
    await reply(update, archive_confirm_screen(info))


async def _settings(
    update: Update, context: BotContext, user: int, info: CohortInfo, tail: str
) -> None:
    if tail:
        raise NotAvailable
    await reply(update, settings_screen(info))


def _huddle(value: str) -> CohortChange | None:
    """'friday', 'friday 17:30', '17:30' or 'off'."""
    if value.lower() == "off":
        return CohortChange(huddle_off=True)
    words = [w for w in value.replace(",", " ").split() if w.lower() != "at"]
    at = parse_time(words[-1]) if words else None
    if at is not None:
        words = words[:-1]
    if not words:
        return CohortChange(huddle_time=at) if at is not None else None
    days = weekdays_of(parse_days(" ".join(words)))
    return CohortChange(huddle_day=days[0], huddle_time=at) if len(days) == 1 else None


def _change_for(
    setting: str, value: str, today: date, lesson_at: time = time(8, 0)
) -> CohortChange | None:
    """Read one setting's value; None when it cannot be read."""
    try:
        if setting == "time":
            at = parse_time(value)
            return CohortChange(delivery_time=at) if at is not None else None
        if setting == "days":
            return CohortChange(days=parse_days(value))
        if setting == "timezone":
            found = match_timezone(value).zone
            return CohortChange(timezone=found) if found else None
        if setting == "start":
            day = date.fromisoformat(value)
            return CohortChange(starts_on=day) if day >= today else None
        if setting == "huddle":
            return _huddle(value)
        if setting == "rota":
            if value.lower() == "off":
                return CohortChange(pattern_off=True)
            return CohortChange(pattern=parse_team_rota(value, lesson_at))
        if setting == "myname":
            return CohortChange(lead_name=value) if value.strip() else None
    except ValueError:
        return None
    return None


async def _set(update: Update, context: BotContext, user: int, info: CohortInfo, tail: str) -> None:
    message = update.effective_message
    setting = (message.text or "").split()[1].lower() if message is not None else ""
    today = local_date(context.services.clock.now(), info.timezone)
    change = _change_for(setting, tail, today, info.delivery_time)
    if change is None:
        await reply(update, setting_problem_screen(setting))
        return
    try:
        changed = await context.services.cohorts.change(user, info.id, change)
    except ValueError:
        await reply(update, setting_problem_screen(setting))
        return
    await reply(update, settings_screen(changed, note="Saved."))


_ON_COHORT: dict[str, CohortVerb] = {
    "show": _show,
    "invite": _invite,
    "export": _export,
    "nudge": _nudge,
    "remove": _remove,
    "archive": _archive,
    "settings": _settings,
    "time": _set,
    "days": _set,
    "timezone": _set,
    "start": _set,
    "huddle": _set,
    "rota": _set,
    "myname": _set,
}


# --- joining (members) ----------------------------------------------------------------------------


def is_invite(payload: str | None) -> bool:
    """True for an invite link's /start payload (the /start handler then calls open_invite)."""
    return looks_like_invite(payload)


async def open_invite(update: Update, context: BotContext, payload: str) -> None:
    """Someone opened an invite link: the consent screen, or a clear refusal."""
    user = parse.user_id(update)
    if user is None:
        return
    preview = await context.services.joining.preview(user, payload)
    if isinstance(preview, CohortInvitePreview):
        await reply(update, join_screen(preview, context.services.clock.now()))
    elif isinstance(preview, LeadInvitePreview):
        await reply(update, lead_invitation_screen(preview))
    else:
        await reply(
            update, bad_invite_screen(throttled=preview.throttled, from_admin=preview.from_admin)
        )


async def receive_name(update: Update, context: BotContext, argument: str) -> None:
    """The joining member typed the name their lead will see."""
    user, message = parse.user_id(update), update.effective_message
    invite_id = _number(argument)
    if user is None or message is None:
        return
    service = context.services.joining
    if invite_id is None:
        await service.cancel_join(user)
        await reply(update, bad_invite_screen(throttled=False))
        return
    result = await service.join(user, invite_id, message.text or "")
    if isinstance(result, Joined):
        await reply(update, joined_screen(result, context.services.clock.now()))
        if not result.kept_progress:  # a newcomer: their course begins with the team
            await confidence.offer(update, context, ConfidencePhase.START)
    elif isinstance(result, NameRejected):
        await reply(update, name_rejected_screen(result.reason))
    else:
        await reply(update, bad_invite_screen(throttled=result.throttled))


TEXT_FLOWS: dict[str, FlowStep] = {PENDING_NAME: receive_name}


async def leave(update: Update, context: BotContext) -> None:
    """Leave a cohort: which one, then confirm."""
    user = parse.user_id(update)
    if user is None:
        return
    memberships = await context.services.joining.memberships(user)
    if len(memberships) == 1:
        await reply(update, leave_confirm_screen(memberships[0]))
    else:
        await reply(update, leave_screen(memberships))


# --- buttons --------------------------------------------------------------------------------------


async def button(update: Update, context: BotContext) -> None:
    """Every TEAM_* / LEAD_* button; a forged or malformed one gets the neutral reply."""
    query = update.callback_query
    user = parse.user_id(update)
    callback = parse.pressed(update)
    if query is None or user is None or callback is None:
        return
    await query.answer()
    handler = _BUTTONS.get(callback.action)
    try:
        if handler is None:
            raise NotAvailable
        await handler(update, context, user, callback)
    except NotAvailable:
        await _not_available(update)


ButtonVerb = Callable[[Update, BotContext, int, Callback], Awaitable[None]]


def _ints(callback: Callback, count: int) -> list[int]:
    numbers = [_number(arg) for arg in callback.args]
    if len(numbers) != count or any(n is None for n in numbers):
        raise NotAvailable
    return [n for n in numbers if n is not None]


def _token(callback: Callback) -> str:
    if len(callback.args) != 1:
        raise NotAvailable
    return callback.args[0]


async def _join_pressed(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    chat = parse.chat_id(update)
    if chat is None:
        return
    result = await context.services.joining.accept(user, chat, _token(cb))
    if isinstance(result, NamePrompt):
        await show(update, name_prompt_screen(result.cohort_name))
    elif isinstance(result, AlreadyMember):
        await show(update, already_member_screen(result.cohort_name))
    elif isinstance(result, InviteRefused):
        await show(update, bad_invite_screen(throttled=result.throttled))


async def _declined(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    await show(update, declined_screen())


async def _name_cancelled(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    await context.services.joining.cancel_join(user)
    await show(update, join_cancelled_screen())


async def _activity(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    member_id, choice = _ints(cb, 2)
    if choice not in (0, 1):
        raise NotAvailable
    if not await context.services.joining.set_show_activity(user, member_id, bool(choice)):
        raise NotAvailable
    await reply(update, activity_choice_screen(bool(choice)))


async def _leave_asked(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    [cohort_id] = _ints(cb, 1)
    memberships = await context.services.joining.memberships(user)
    found = next((m for m in memberships if m.cohort_id == cohort_id), None)
    await show(update, leave_confirm_screen(found) if found else left_screen(None))


async def _leave_confirmed(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    [cohort_id] = _ints(cb, 1)
    await show(update, left_screen(await context.services.joining.leave(user, cohort_id)))


async def _lead_accepted(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    if await context.services.leads.accept(user, _token(cb)):
        await show(update, lead_accepted_screen())
        await refresh_menu(context, user)
    else:
        await show(update, bad_invite_screen(throttled=False, from_admin=True))


async def _opened(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    [cohort_id] = _ints(cb, 1)
    await _dashboard(update, context, user, cohort_id)


async def _remove_asked(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    cohort_id, member_id = _ints(cb, 2)
    service = context.services.cohorts
    info = await service.info(user, cohort_id)
    member = await service.member(user, cohort_id, member_id)
    await show(update, remove_confirm_screen(info, member))


async def _remove_confirmed(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    cohort_id, member_id = _ints(cb, 2)
    service = context.services.cohorts
    info = await service.info(user, cohort_id)
    name = await service.remove_member(user, cohort_id, member_id)
    await show(update, removed_screen(info.name, name))


async def _archive_confirmed(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    [cohort_id] = _ints(cb, 1)
    await show(update, archived_screen(await context.services.cohorts.archive(user, cohort_id)))


async def _lead_remove_confirmed(
    update: Update, context: BotContext, user: int, cb: Callback
) -> None:
    [lead_id] = _ints(cb, 1)
    await show(update, lead_removed_screen(await context.services.leads.remove(user, lead_id)))
    await refresh_menu(context, lead_id)


async def _pattern_taken(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    [cohort_id] = _ints(cb, 1)
    taken = await context.services.joining.use_team_pattern(user, cohort_id)
    now = context.services.clock.now()
    await reply(
        update, team_pattern_taken_screen(taken, now) if taken else team_pattern_gone_screen()
    )


async def _cancelled(update: Update, context: BotContext, user: int, cb: Callback) -> None:
    await show(update, cancelled_screen())


_BUTTONS: dict[str, ButtonVerb] = {
    TEAM_JOIN: _join_pressed,
    TEAM_DECLINE: _declined,
    TEAM_NAME_CANCEL: _name_cancelled,
    TEAM_SHOW_ACTIVITY: _activity,
    TEAM_LEAVE_ASK: _leave_asked,
    TEAM_LEAVE: _leave_confirmed,
    LEAD_ACCEPT: _lead_accepted,
    TEAM_OPEN: _opened,
    TEAM_REMOVE_ASK: _remove_asked,
    TEAM_REMOVE: _remove_confirmed,
    TEAM_ARCHIVE: _archive_confirmed,
    LEAD_REMOVE: _lead_remove_confirmed,
    TEAM_CANCEL: _cancelled,
    TEAM_PATTERN: _pattern_taken,
}
_PATTERN = "^(?:" + "|".join(sorted(_BUTTONS)) + ")(?::|$)"


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """The cohort commands and buttons (the /start hook lives in the onboarding handler)."""
    return [
        CommandHandler("lead", lead),
        CommandHandler("cohorts", cohorts),
        CommandHandler("cohort", cohort),
        CommandHandler("leave", leave),
        CallbackQueryHandler(button, pattern=_PATTERN),
    ]
