"""One incident, many callers, and work alerts, over HTTP (roles as in callcenter/web/auth.py).

    GET  /api/incidents/{n}/tickets        {"lead", "linked": [...], "suggested": [...]} (centre roles)
    POST /api/incidents/{n}/tickets        {"ticket"}: link it (the desk's one click; agents too)
    GET  /api/incidents/suggest?ticket=T   the active incidents ticket T looks like (the desk's 同源件 button)
    POST /api/incidents/{n}/dispatch       {"department"}: the lead alone is dispatched (supervisor)
    POST /api/incidents/{n}/answer-all     every follower gets the lead's reply (supervisor)
    POST /api/work-alerts                  {"subject", "department", "text", "hours"} (supervisor)
    GET  /api/work-alerts                  alerts not replied yet (a department: its own)
    POST /api/work-alerts/{id}/acknowledge, /api/work-alerts/{id}/reply {"text"} (the department)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callcenter.web.auth import Role, requires
from callcenter.web.errors import WebError
from incidents.alerts import WorkAlert, WorkAlerts
from incidents.board import IncidentBoard
from incidents.model import IncidentError
from incidents.sources import IncidentRef, IncidentTickets, SourceError
from incidents.web import STATUS, _body, _who
from tickets.errors import TicketError
from tickets.workflow import IllegalTransition

SOURCE_STATUS = {"no_tickets": 409, "already_linked": 409, "ticket_closed": 409, "lead_not_answered": 409,
                 "forbidden": 403, "illegal_move": 409, "no_such_alert": 404, "concurrent_change": 409}


def _ref(board: IncidentBoard, request: Request) -> IncidentRef:
    try:
        incident = board.get(int(request.path_params["number"]))
    except IncidentError as exc:
        raise WebError(STATUS.get(exc.slug, 400), exc.slug, str(exc)) from None
    c = incident.candidate
    return IncidentRef(c.id, c.what, c.where)


def _text(body: dict[str, Any], key: str, limit: int = 2000) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise WebError(400, "bad_request", f"'{key}' is text of 1..{limit} characters")
    return value.strip()


def _alert_json(a: WorkAlert, now: datetime) -> dict[str, Any]:
    data = asdict(a)
    return {k: (v.isoformat() if isinstance(v, datetime) else str(v) if k == "state" else v)
            for k, v in data.items()} | {"overdue": a.overdue(now)}


def incident_ticket_routes(board: IncidentBoard, tickets: IncidentTickets, alerts: WorkAlerts,
                           now: Callable[[], datetime]) -> list[BaseRoute]:
    def guarded(do: Callable[[], Any]) -> Any:
        try:
            return do()
        except SourceError as exc:
            raise WebError(SOURCE_STATUS.get(exc.slug, 400), exc.slug, str(exc)) from None
        except TicketError as exc:  # the ticket's own refusal: not found, forbidden ...
            raise WebError(exc.status, exc.slug, str(exc)) from None
        except IllegalTransition as exc:  # e.g. the lead is dispatched already
            raise WebError(409, "illegal_transition", str(exc)) from None

    @requires(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
    async def listing(request: Request) -> Response:
        ref = _ref(board, request)
        since = board.get(int(request.path_params["number"])).candidate.since - timedelta(minutes=30)
        links = tickets.links(ref.key)
        return JSONResponse({"lead": next((t for t, lead in links if lead), None),
                             "linked": [t for t, _ in links], "suggested": tickets.suggest(ref, since, now())})

    @requires(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
    async def link(request: Request) -> Response:
        ref, number = _ref(board, request), _text(await _body(request), "ticket", 40)
        lead = guarded(lambda: tickets.link(ref, number, _who(request), now()))
        return JSONResponse({"ticket": number, "lead": lead}, status_code=201)

    @requires(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
    async def suggest(request: Request) -> Response:
        number = request.query_params.get("ticket", "")
        if not number or len(number) > 40:
            raise WebError(400, "bad_request", "'ticket' is a ticket number")
        by_key = {i.candidate.id: i for i in board.active()}
        refs = [IncidentRef(i.candidate.id, i.candidate.what, i.candidate.where) for i in by_key.values()]
        found = guarded(lambda: tickets.incidents_for(number, refs))
        return JSONResponse({"ticket": number, "incidents": [
            {"number": by_key[r.key].number, "what": r.what, "where": r.where, "calls": by_key[r.key].candidate.calls,
             "state": str(by_key[r.key].state)} for r in found]})

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def dispatch(request: Request) -> Response:
        ref, department = _ref(board, request), _text(await _body(request), "department", 64)
        lead = guarded(lambda: tickets.dispatch(ref.key, department, _who(request), now()))
        return JSONResponse({"dispatched": lead})

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def answer_all(request: Request) -> Response:
        ref = _ref(board, request)
        return JSONResponse({"answered": guarded(lambda: tickets.answer_all(ref.key, now()))})

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def send_alert(request: Request) -> Response:
        body = await _body(request)
        hours = body.get("hours", 24)
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 1 <= hours <= 24 * 30:
            raise WebError(400, "bad_request", "hours is a number from 1 to 720")
        at = now()
        n = guarded(lambda: alerts.send(_text(body, "subject", 160), _text(body, "department", 64),
                                        _text(body, "text"), at + timedelta(hours=hours), _who(request), at))
        return JSONResponse(_alert_json(alerts.get(n), at), status_code=201)

    @requires(Role.SUPERVISOR, Role.ADMIN, Role.DEPARTMENT)
    async def due(request: Request) -> Response:
        user = request.state.user
        department = user.department if user.role is Role.DEPARTMENT else None
        return JSONResponse({"alerts": [_alert_json(a, now()) for a in alerts.due(now(), department)]})

    def _department(request: Request) -> str:
        return str(request.state.user.department or "")

    @requires(Role.DEPARTMENT)
    async def acknowledge(request: Request) -> Response:
        n = int(request.path_params["id"])
        done = guarded(lambda: alerts.acknowledge(n, _department(request), _who(request), now()))
        return JSONResponse(_alert_json(done, now()))

    @requires(Role.DEPARTMENT)
    async def reply(request: Request) -> Response:
        n, text = int(request.path_params["id"]), _text(await _body(request), "text")
        done = guarded(lambda: alerts.reply(n, _department(request), text, _who(request), now()))
        return JSONResponse(_alert_json(done, now()))

    return [
        Route("/api/incidents/suggest", suggest, methods=["GET"]),
        Route("/api/incidents/{number:int}/tickets", listing, methods=["GET"]),
        Route("/api/incidents/{number:int}/tickets", link, methods=["POST"]),
        Route("/api/incidents/{number:int}/dispatch", dispatch, methods=["POST"]),
        Route("/api/incidents/{number:int}/answer-all", answer_all, methods=["POST"]),
        Route("/api/work-alerts", send_alert, methods=["POST"]),
        Route("/api/work-alerts", due, methods=["GET"]),
        Route("/api/work-alerts/{id:int}/acknowledge", acknowledge, methods=["POST"]),
        Route("/api/work-alerts/{id:int}/reply", reply, methods=["POST"]),
    ]
