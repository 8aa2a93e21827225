"""Ticket routes (Starlette): JSON API, a create/list page, CSV/XLSX export, caller history.

The edge only translates: the signed-in user (callcenter/web/auth.py) becomes a `tickets.access.Viewer`,
the service does the rest in a worker thread; service errors leave with their stable slug. Every caller
number and name leaving here goes through callcenter/privacy.py (masked; full only on an audited reveal);
every query string and numeric body field through callcenter/web/params.py (400 when malformed).

    GET  /tickets                           the workspace (filters, search, paging, detail ?ticket=N with history
                                            and actions: callcenter/web/tickets_page.py)
    GET  /tickets?new=1 | ?call_id=         the create form (?call_id= pre-fills)
    GET  /api/tickets                       list (state, department, since, until, open)
    POST /api/tickets                       create (JSON or form)
    GET  /api/tickets/export?since&until&format=csv|xlsx
    GET  /api/tickets/{number}              ticket, history, allowed actions
    PATCH /api/tickets/{number}             edit fields (an agent: only the tickets it created)
    POST /api/tickets/{number}/reveal       the caller's full number and name {reason} (audited)
    POST /api/tickets/{number}/transition   {action, department, note, days, merge_into, version}
    GET  /api/callers/{caller}/history      last calls + open tickets (screen-pop)
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callcenter import privacy
from callcenter.web import params
from callcenter.web.auth import Role as AuthRole
from callcenter.web.auth import requires
from callcenter.web.errors import WebError
from tickets.access import Role, Viewer
from tickets.errors import TicketError
from tickets.history import caller_history
from tickets.service import PendingCall, TicketDraft, TicketService, TicketView
from tickets.workflow import Action, IllegalTransition, allowed_actions

ALL = (AuthRole.AGENT, AuthRole.SUPERVISOR, AuthRole.ADMIN, AuthRole.DEPARTMENT)
CENTRE = (AuthRole.AGENT, AuthRole.SUPERVISOR, AuthRole.ADMIN)
REVEAL = tuple(sorted(AuthRole(r) for r in privacy.REVEAL_ROLES))
EXPORT_COLUMNS = ("number", "created_at", "channel", "category", "topic", "state", "department", "county",
                  "township", "caller_number", "caller_name", "title", "content", "reply", "due_at", "resolved_at",
                  "satisfaction", "confidential", "merged_into")
MAX_EXPORT_DAYS = 366

Now = Callable[[], datetime]
#: where a reveal is recorded (callcenter/web/admin.py AuditLog.append); None: reveals are refused
Audit = Callable[[dict[str, Any]], None]
REASON_MAX = 200


def viewer_of(request: Request, service: TicketService) -> Viewer:
    """The ONE place a signed-in user becomes a ticket viewer (role, department and the units under it)."""
    user = request.state.user
    user_id = user.agent_id or user.username
    if user.role == AuthRole.DEPARTMENT and user.department:
        subtree = service.directory.subtree(user.department) if user.department in service.directory else []
        return Viewer.for_department(user.department, subtree, user=user.username)
    return Viewer(Role(user.role.value), user=user_id)


def _error(exc: Exception) -> WebError:
    if isinstance(exc, IllegalTransition):
        return WebError(409, "illegal_transition", str(exc))
    if isinstance(exc, TicketError):
        return WebError(exc.status, exc.slug, str(exc))
    raise exc


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            raise WebError(400, "bad_request", "body is not JSON") from None
        if not isinstance(data, dict):
            raise WebError(400, "bad_request", "body must be a JSON object")
        return data
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise WebError(415, "unsupported_media_type", "send JSON or an urlencoded form")
    # Parsed here (the body size is capped by the app's BodyLimit): no multipart dependency for one form.
    form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in form.items() if k != "csrf_token"}


def _draft(data: dict[str, Any]) -> TicketDraft:
    fields = {"category", "content", "channel", "topic", "caller_number", "caller_name", "contact", "county",
              "township", "address", "title", "call_id"}
    values: dict[str, Any] = {k: str(v) for k, v in data.items() if k in fields and v not in (None, "")}
    if privacy.looks_masked(values.get("caller_number", "")):
        values.pop("caller_number")  # a masked number a page showed: the call record gives the real one
    values["confidential"] = str(data.get("confidential", "")).lower() in ("1", "true", "on", "yes")
    if "category" not in values or "content" not in values:
        raise WebError(422, "invalid_ticket", "category and content are required")
    return TicketDraft(**values)


def shown(ticket: TicketView) -> dict[str, Any]:
    """A ticket as every web path returns it (callcenter/privacy.py)."""
    return privacy.masked_ticket(ticket).to_dict()


def tickets_routes(service: TicketService, *, now: Now, language: str = "zh", centre_name: str = "",
                   audit: Audit | None = None,
                   pending_call: Callable[[str], PendingCall | None] | None = None) -> list[BaseRoute]:
    """``pending_call``: the daemon's calls in flight (or just closed) by id: a ticket saved before its call's
    record is written binds to the call at once instead of failing with "no call record"."""

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (TicketError, IllegalTransition) as exc:
            raise _error(exc) from None

    @requires(*ALL)
    async def list_tickets(request: Request) -> Response:
        q = params.query(request, params.TicketListQuery)
        items = await run(service.query, viewer_of(request, service), state=q.state or None,
                          department=q.department or None, since=q.since, until=q.until, open_only=q.open_only,
                          limit=q.limit)
        return JSONResponse({"tickets": [shown(t) for t in items]})

    @requires(*CENTRE)
    async def create_ticket(request: Request) -> Response:
        draft = _draft(await _body(request))
        pending = pending_call(draft.call_id) if draft.call_id and pending_call is not None else None
        ticket = await run(service.create, draft, viewer_of(request, service), now(), pending=pending)
        if not request.headers.get("content-type", "").startswith("application/json"):  # the page's form
            return Response(status_code=303, headers={"Location": f"/tickets?created={ticket.number}"})
        return JSONResponse(shown(ticket), status_code=201)

    @requires(*ALL)
    async def get_ticket(request: Request) -> Response:
        viewer = viewer_of(request, service)
        number = request.path_params["number"]
        ticket: TicketView = await run(service.get, number, viewer)
        history = await run(service.history, number, viewer)
        return JSONResponse({
            "ticket": shown(ticket),
            "history": [{"at": h.at.isoformat(), "actor": h.actor, "role": h.role, "action": h.action,
                         "from_state": h.from_state, "to_state": h.to_state, "department": h.department,
                         "note": h.note} for h in history],
            "actions": [a.value for a in allowed_actions(ticket.state)],
        })

    @requires(*CENTRE)
    async def update_ticket(request: Request) -> Response:
        data = await _body(request)
        version = params.fields({"version": data.pop("version", None)}, params.EditFields).version
        ticket = await run(service.update, request.path_params["number"], data, viewer_of(request, service), now(),
                           expected_version=version)
        return JSONResponse(shown(ticket))

    @requires(*REVEAL)
    async def reveal(request: Request) -> Response:
        """The caller's full number and name of one ticket, for a stated reason, written to the audit log."""
        data = await _body(request)
        reason = str(data.get("reason", "")).strip()
        if not reason or len(reason) > REASON_MAX:
            raise WebError(422, "reason_required", f"say why the full number is needed (1 to {REASON_MAX} characters)")
        if audit is None:
            raise WebError(503, "reveal_unavailable", "no audit log is configured: full numbers are not shown")
        viewer = viewer_of(request, service)
        ticket: TicketView = await run(service.get, request.path_params["number"], viewer)
        if ticket.caller_number == privacy.REDACTED:
            raise WebError(403, "confidential", "this ticket is confidential: its caller is never shown to you")
        user = request.state.user
        await asyncio.to_thread(audit, {"at": now().isoformat(), "user": user.username, "role": user.role.value,
                                        "section": "tickets", "key": ticket.number, "action": "reveal",
                                        "reason": reason, "before": None, "after": None})
        return JSONResponse(privacy.revealed_fields(ticket), headers={"Cache-Control": "no-store"})

    @requires(*ALL)
    async def transition(request: Request) -> Response:
        data = await _body(request)
        try:
            action = Action(str(data.get("action", "")))
        except ValueError:
            known = ", ".join(a.value for a in Action)
            raise WebError(422, "unknown_action", f"action must be one of {known}") from None
        numbers = params.fields({k: data.get(k) for k in ("days", "version")}, params.TransitionFields)
        ticket = await run(service.transition, request.path_params["number"], action, viewer_of(request, service),
                           now(), department=data.get("department") or None, note=str(data.get("note", "")),
                           days=numbers.days, merge_into=data.get("merge_into") or None,
                           expected_version=numbers.version)
        return JSONResponse(shown(ticket))

    @requires(*ALL)
    async def export(request: Request) -> Response:
        q = params.query(request, params.ExportQuery)
        until = q.until or now()
        since = q.since or until - timedelta(days=31)
        if not since < until or until - since > timedelta(days=MAX_EXPORT_DAYS):
            raise WebError(400, "bad_period", f"since must be before until, at most {MAX_EXPORT_DAYS} days")
        rows = [privacy.masked_ticket(t) for t in await run(service.export_rows, viewer_of(request, service),
                                                             since, until)]
        fmt = q.format
        name = f"tickets-{since:%Y%m%d}-{until:%Y%m%d}"
        if fmt == "csv":
            body = await asyncio.to_thread(export_csv, rows)
            return Response(body, media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        if fmt == "xlsx":
            body = await asyncio.to_thread(export_xlsx, rows)
            return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
        raise WebError(400, "bad_format", "format must be csv or xlsx")  # unreachable: ExportQuery checks it

    @requires(*CENTRE)
    async def history(request: Request) -> Response:
        pop = await run(caller_history, service.store, request.path_params["caller"],
                        viewer=viewer_of(request, service))
        return JSONResponse(privacy.masked_history(pop.to_dict()))

    @requires(*ALL, page=True)
    async def page(request: Request) -> Response:
        viewer = viewer_of(request, service)
        if not {"call_id", "new"} & set(request.query_params):  # the workspace (callcenter/web/tickets_page.py)
            return await workspace(request, viewer)
        items = await run(service.query, viewer, open_only=True, limit=200)
        prefill: dict[str, str] = {"call_id": request.query_params.get("call_id", "")}
        if prefill["call_id"]:
            record = await asyncio.to_thread(service.store.get, prefill["call_id"])
            # Shown masked; the form sends the call id and the service takes the number from the record.
            prefill["caller_masked"] = privacy.mask_phone(record.caller_number) if record else ""
        return HTMLResponse(render_page(service, viewer, items, prefill, language, centre_name, request),
                            headers={"Cache-Control": "no-store"})

    async def workspace(request: Request, viewer: Viewer) -> Response:
        from callcenter.web.auth import csrf_token
        from callcenter.web.headers import nonce
        from callcenter.web.tickets_page import MAX_TICKETS, load_detail, render_workspace

        def masked(_viewer: Viewer, ticket: TicketView) -> dict[str, Any]:
            return shown(ticket)

        items = [masked(viewer, t) for t in await run(service.query, viewer, limit=MAX_TICKETS)]
        number = request.query_params.get("ticket", "")
        detail = await load_detail(service, viewer, number, run, masked) if number else None
        if detail is not None:
            detail["may_reveal"] = privacy.may_reveal(viewer.role) and \
                detail["ticket"]["caller_number"] not in ("", privacy.REDACTED)
        page = render_workspace(service=service, items=items, detail=detail, query=request.query_params,
                                language=language, centre_name=centre_name, csrf=csrf_token(request), now=now(),
                                nonce=nonce(request),
                                may_create=viewer.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN))
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return [
        Route("/tickets", page, methods=["GET"]),
        Route("/api/tickets", list_tickets, methods=["GET"]),
        Route("/api/tickets", create_ticket, methods=["POST"]),
        Route("/api/tickets/export", export, methods=["GET"]),
        Route("/api/tickets/{number}", get_ticket, methods=["GET"]),
        Route("/api/tickets/{number}", update_ticket, methods=["PATCH"]),
        Route("/api/tickets/{number}/transition", transition, methods=["POST"]),
        Route("/api/tickets/{number}/reveal", reveal, methods=["POST"]),
        Route("/api/callers/{caller}/history", history, methods=["GET"]),
    ]


def _cell(ticket: TicketView, name: str) -> Any:
    value = getattr(ticket, name)
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value) if not isinstance(value, bool) else ("1" if value else "0")


def export_csv(rows: list[TicketView]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for t in rows:
        writer.writerow([_csv_safe(_cell(t, c)) for c in EXPORT_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly


#: what makes a spreadsheet read a cell as a formula or a command (OWASP "CSV injection"): the cell is
#: neutralised whatever follows, so `=1+1`, `+1+HYPERLINK(...)` and `-2+3+cmd|...` all stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _csv_safe(value: str) -> str:
    """Every exported column is text (no numeric field is exported), so no exception for numbers: a
    leading quote makes the spreadsheet keep the cell as typed. Leading spaces do not hide a formula."""
    return "'" + value if value.lstrip(" ")[:1] in FORMULA_STARTS else value


def export_xlsx(rows: list[TicketView]) -> bytes:
    from openpyxl import Workbook  # imported here: only exports need it
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("tickets")
    ws.append(list(EXPORT_COLUMNS))

    def text(value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=_csv_safe(value))
        cell.data_type = "s"  # stored as a string whatever it starts with: never a formula
        return cell

    for t in rows:
        ws.append([text(_cell(t, c)) for c in EXPORT_COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_TEXT = {
    "zh": {"title": "工单", "new": "新建工单", "open": "我的在办工单", "number": "编号", "category": "类别",
           "state": "状态", "department": "承办单位", "due": "办理时限", "content": "诉求内容", "caller": "来电号码",
           "confidential": "保密件", "submit": "提交", "county": "区县", "topic": "事项分类", "channel": "渠道"},
    "en": {"title": "Tickets", "new": "New ticket", "open": "Open tickets", "number": "Number",
           "category": "Category", "state": "State", "department": "Department", "due": "Due",
           "content": "Request", "caller": "Caller", "confidential": "Confidential", "submit": "Submit",
           "county": "County", "topic": "Topic", "channel": "Channel"},
}


def render_page(service: TicketService, viewer: Viewer, items: list[TicketView], prefill: dict[str, str],
                language: str, centre_name: str, request: Request) -> str:
    from callcenter.web.auth import csrf_token
    from callcenter.web.headers import nonce

    tx = _TEXT["zh" if language == "zh" else "en"]
    e = html.escape
    tz = service.calendar.tz

    def due(t: TicketView) -> str:
        if t.due_at is None:
            return ""
        return (t.due_at.astimezone(tz) - timedelta(seconds=1)).strftime("%Y-%m-%d")

    rows = "".join(
        f"<tr><td>{e(t.number)}</td><td>{e(t.category)}</td><td>{e(t.state.value)}</td>"
        f"<td>{e(t.department or '')}</td><td>{e(due(t))}</td><td>{e(t.content[:60])}</td></tr>" for t in items)
    cats = "".join(f'<option value="{e(c.code)}">{e(c.name.get(language))}</option>' for c in service.cfg.categories)
    chans = "".join(f'<option value="{e(c)}">{e(c)}</option>' for c in service.cfg.channels)
    topics = "".join(f'<option value="{e(code)}">{e(label)}</option>'
                     for code, label in service.cfg.topic_names(language).items())
    counties = "".join(f'<option value="{e(d.code)}">{e(d.name(language))}</option>'
                       for d in service.directory if d.group == "county")
    form = ""
    if viewer.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN):
        form = f"""<h2>{tx['new']}</h2>
<form method="post" action="/api/tickets" id="ticket-form">
<input type="hidden" name="csrf_token" value="{e(csrf_token(request))}">
<input type="hidden" name="call_id" value="{e(prefill.get('call_id', ''))}">
<label>{tx['caller']} <input name="caller_number" placeholder="{e(prefill.get('caller_masked', ''))}"></label>
<label>{tx['channel']} <select name="channel">{chans}</select></label>
<label>{tx['category']} <select name="category">{cats}</select></label>
<label>{tx['topic']} <select name="topic"><option value=""></option>{topics}</select></label>
<label>{tx['county']} <select name="county"><option value=""></option>{counties}</select></label>
<label>{tx['content']} <textarea name="content" required></textarea></label>
<label><input type="checkbox" name="confidential" value="1"> {tx['confidential']}</label>
<button type="submit">{tx['submit']}</button></form>"""
    return f"""<!doctype html><html lang="{'zh-CN' if language == 'zh' else 'en'}"><head><meta charset="utf-8">
<title>{e(centre_name)} · {tx['title']}</title>
<style nonce="{e(nonce(request))}">body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;
padding:.3em .6em}}label{{display:block;margin:.4em 0}}textarea{{width:40em;height:6em}}</style></head><body>
<h1>{e(centre_name)} · {tx['title']}</h1>{form}
<h2>{tx['open']}</h2><table id="tickets"><tr><th>{tx['number']}</th><th>{tx['category']}</th><th>{tx['state']}</th>
<th>{tx['department']}</th><th>{tx['due']}</th><th>{tx['content']}</th></tr>{rows}</table></body></html>"""
