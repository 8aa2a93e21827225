"""FastAGI sessions of citizens' calls: the menu (current version) or the after-call survey, whose answer goes
onto the ticket it is about (tickets/survey.py), off the AGI session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from asterisk.agi.protocol import AgiCommandError
from asterisk.agi.server import AgiSession
from callcenter.callflow import DaemonStats
from callcenter.ivr_service import IvrService
from callcenter.ledger import CallLedger
from tickets.survey import SurveyAnswer, SurveyRecorder, survey_scores


class AgiCalls:
    def __init__(self, ivr: IvrService, ledger: CallLedger, surveys: SurveyRecorder, stats: DaemonStats,
                 now: Callable[[], datetime], *, on_menu: Callable[[AgiSession, Any], None] | None = None) -> None:
        self.ivr, self.ledger, self.surveys, self.stats, self.now = ivr, ledger, surveys, stats, now
        #: told when a caller leaves the menu (incidents: the caller's topic and area, now)
        self.on_menu = on_menu

    async def session(self, session: AgiSession) -> None:
        self.stats.ivr_sessions += 1
        survey = session.script.endswith("survey")
        # A follow-up call (回访) names its ticket; read before the survey, while the channel is surely up.
        ticket = await followup_ticket(session) if survey else None
        # The menu (current version, hot-reloadable) or the after-call survey: callcenter/ivr_service.py.
        result = await self.ivr.agi_session(session, self.ledger)
        if not survey and self.on_menu is not None:
            self.on_menu(session, result)
        if survey and result is not None and result.data.satisfaction is not None:
            self.surveys.submit(SurveyAnswer(session.uniqueid, result.data.satisfaction,
                                             survey_scores(self.ivr.current().survey), self.now(), ticket))


async def followup_ticket(session: AgiSession) -> str | None:
    try:
        return await session.get_variable("CC_TICKET") or None
    except AgiCommandError:  # not readable: the answer is matched by the call's linked tickets instead
        return None
