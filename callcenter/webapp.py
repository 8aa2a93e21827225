"""The daemon's web app: the wallboard and /metrics (callcenter/web/app.py) plus every page and API the
configuration turns on: the agent desktop, admin, IVR versions, tickets, Twilio voice and SMS webhooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from callcenter.desk import DaemonDesk, ticket_choices
from callcenter.ivr_service import IvrService
from callcenter.web import create_app
from callcenter.web.admin import AuditLog, ConfigEditor, admin_routes
from callcenter.web.auth import UserDirectory
from callcenter.web.desktop import desktop_routes
from callcenter.web.ivr_api import ivr_routes
from callcenter.web.sessions import SessionStore
from callcenter.web.sse import StreamRegistry
from callcenter.web.supervisor import SupervisorBackend, supervisor_routes
from callcenter.web.tickets_api import tickets_routes
from callcenter.web.twilio import SmsReplies, TwilioIvr, sms_routes, twilio_routes
from callcenter.web.users_api import users_routes
from config.models import Config
from tickets.service import PendingCall, TicketService


class DaemonWeb:
    def __init__(self, cfg: Config, *, desk: DaemonDesk, tickets: TicketService, ivr: IvrService,
                 now: Callable[[], datetime], state_dir: Path,
                 more_routes: Callable[[], list[BaseRoute]] | None = None,
                 sessions: SessionStore | None = None) -> None:
        self.cfg, self.desk, self.tickets, self.ivr, self.now = cfg, desk, tickets, ivr, now
        #: routes of other parts (incidents/), mounted beside the desk's
        self.more_routes = more_routes
        self.users = UserDirectory.from_config(cfg)
        #: server-side sessions, in the daemon's database so that a restart keeps what was ended
        self.sessions = sessions or SessionStore(hours=cfg.web.session_hours)
        self.config_editor = ConfigEditor(cfg, AuditLog(state_dir / "callcenter-audit.jsonl"),
                                          state_dir / "config-edits.yaml")
        #: SMS follow-up replies (callcenter/web/twilio.py), with tickets.twilio
        self.sms_replies: SmsReplies | None = None
        #: the supervisor's console (callcenter/supervisor.py), set by the daemon before the app is built
        self.supervisor: SupervisorBackend | None = None

    def app(self, snapshot: Callable[[], dict[str, Any]], metrics_text: Callable[[], tuple[bytes, str]]) -> Starlette:
        cfg = self.cfg
        secret = cfg.web.session_secret
        self.desk.tickets_api = True  # the tickets routes are mounted below: the desk's form posts there
        return create_app(
            snapshot=snapshot,
            metrics_text=metrics_text,
            language=cfg.centre.language,
            centre_name=cfg.centre.name,
            extra_routes=self._routes,
            users=self.users,
            session_secret=secret.get_secret_value() if secret is not None else None,
            session_hours=cfg.web.session_hours,
            cookie_secure=cfg.web.cookie_secure,
            max_body=cfg.web.max_body,
            sessions=self.sessions,
            trusted_proxies=cfg.web.trusted_proxies,
        )

    def _routes(self, streams: StreamRegistry) -> list[BaseRoute]:
        lang, name = self.cfg.centre.language, self.cfg.centre.name
        choices = ticket_choices(self.tickets, lang, self.cfg.centre.timezone)
        return [
            *desktop_routes(self.desk, self.users, language=lang, centre_name=name, streams=streams,
                            choices=choices),
            # before admin_routes: its /api/admin/{section} would take /api/admin/users
            *users_routes(self.users, self.sessions, self.config_editor.audit.append, self.now),
            *admin_routes(self.config_editor, language=lang, centre_name=name),
            *self._ivr_routes(),
            *tickets_routes(self.tickets, now=self.now, language=lang, centre_name=name,
                            audit=self.config_editor.audit.append, pending_call=self.pending_call),
            *self._sms_routes(),
            *(self.more_routes() if self.more_routes is not None else []),
            *(supervisor_routes(self.supervisor, language=lang, centre_name=name, streams=streams,
                                queues={q.name: q.label(lang) for q in self.cfg.queues})
              if self.supervisor is not None else []),
        ]

    def pending_call(self, call_id: str) -> PendingCall | None:
        """A call the ledger knows (in flight, or closed a moment ago) for a ticket saved before its record."""
        caller = self.desk.flow.ledger.caller_of(call_id)
        return PendingCall(call_id, *caller) if caller is not None else None

    def _ivr_routes(self) -> list[BaseRoute]:
        """IVR versions (admin API and page) and, when configured, the Twilio webhook."""
        routes = list(ivr_routes(self.ivr, language=self.cfg.centre.language, centre_name=self.cfg.centre.name,
                                 timezone=self.cfg.centre.timezone, audit=self.config_editor.audit.append))
        tw = self.cfg.twilio
        if tw is not None:
            routes += twilio_routes(TwilioIvr(self.ivr, tw.auth_token, clock=self.now,
                                              language=self.cfg.centre.language, public_url=tw.public_url,
                                              sound_base_url=tw.sound_base_url))
        return routes

    def _sms_routes(self) -> list[BaseRoute]:
        """POST /twilio/sms: follow-up (回访) replies by SMS, when tickets.twilio is configured."""
        tw = self.cfg.tickets.twilio
        if tw is None:
            return []
        self.sms_replies = SmsReplies(self.tickets, tw.auth_token, tw.webhook_url, clock=self.now,
                                      language=self.cfg.centre.language)
        return sms_routes(self.sms_replies)
