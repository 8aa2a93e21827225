"""The supervisor's incidents page and its API (supervisors and admins; see callcenter/web/auth.py).

    GET  /api/incidents                  active incidents (candidates and confirmed ones)
    POST /api/incidents/{n}/confirm      {"message"?, "scope"?: "all" | "topic:<T>", "expires_minutes"?}
                                         -> the incident; with a message the IVR announces it (a new version)
    POST /api/incidents/{n}/dismiss      {"note"?}
    POST /api/incidents/{n}/close        {"note"?} -> the announcement comes out (a new version)
    GET  /incidents                      the page: each candidate with an alert, confirm in one click
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callcenter.web.auth import Role, csrf_token, requires
from callcenter.web.errors import WebError
from callcenter.web.headers import nonce
from incidents.board import IncidentBoard
from incidents.model import IncidentError

STATUS = {"no_such_incident": 404, "illegal_move": 409, "announcement_refused": 422, "bad_expiry": 400,
          "no_ivr": 409}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WebError(400, "bad_json", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise WebError(400, "bad_json", "the body must be a JSON object")
    return body


def _who(request: Request) -> str:
    return str(getattr(getattr(request.state, "user", None), "username", "") or "supervisor")


def incident_routes(board: IncidentBoard, now: Callable[[], datetime], *, language: str = "zh",
                    centre_name: str = "") -> list[BaseRoute]:
    def act(request: Request, do: Callable[[int, dict[str, Any]], Any], body: dict[str, Any]) -> Response:
        try:
            incident = do(int(request.path_params["number"]), body)
        except IncidentError as exc:
            raise WebError(STATUS.get(exc.slug, 400), exc.slug, str(exc)) from None
        return JSONResponse(incident.to_json())

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def listing(request: Request) -> Response:
        return JSONResponse({"incidents": board.snapshot()})

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def confirm(request: Request) -> Response:
        body = await _body(request)
        message = body.get("message") or ""
        scope = body.get("scope") or "all"
        minutes = body.get("expires_minutes", 120)
        if not isinstance(message, str) or not isinstance(scope, str) or isinstance(minutes, bool) \
                or not isinstance(minutes, int | float) or not 5 <= minutes <= 24 * 60:
            raise WebError(400, "bad_request", "message and scope are text, expires_minutes 5..1440")
        return act(request, lambda n, _: board.confirm(n, _who(request), now(), message=message, scope=scope,
                                                       expires_in=timedelta(minutes=minutes)), body)

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def dismiss(request: Request) -> Response:
        body = await _body(request)
        return act(request, lambda n, b: board.dismiss(n, _who(request), now(), str(b.get("note") or "")[:200]), body)

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def close(request: Request) -> Response:
        body = await _body(request)
        return act(request, lambda n, b: board.close(n, _who(request), now(), str(b.get("note") or "")[:200]), body)

    @requires(Role.SUPERVISOR, Role.ADMIN, page=True)
    async def page(request: Request) -> Response:
        return HTMLResponse(render_page(csrf_token(request), language, centre_name, nonce(request)),
                            headers={"Cache-Control": "no-store"})

    return [
        Route("/api/incidents", listing, methods=["GET"]),
        Route("/api/incidents/{number:int}/confirm", confirm, methods=["POST"]),
        Route("/api/incidents/{number:int}/dismiss", dismiss, methods=["POST"]),
        Route("/api/incidents/{number:int}/close", close, methods=["POST"]),
        Route("/incidents", page, methods=["GET"]),
    ]


WORDS = {
    "zh": {"title": "突发事件", "none": "当前没有疑似突发事件", "candidate": "疑似突发", "confirmed": "已确认",
           "since": "自", "calls": "通来电", "confirm": "确认并播报", "dismiss": "误报，忽略", "close": "结束事件",
           "message": "语音公告", "scope_all": "所有来电", "scope_topic": "仅该话题来电", "expires": "有效（分钟）",
           "rising": "上升", "steady": "平稳", "falling": "下降", "announcing": "IVR 正在播报",
           "default": "{where}{what}问题我们已经收到并已通知相关单位抢修，请耐心等待。"},
    "en": {"title": "Incidents", "none": "No incident candidate now", "candidate": "Candidate",
           "confirmed": "Confirmed",
           "since": "since", "calls": "calls", "confirm": "Confirm and announce", "dismiss": "Dismiss (false alarm)",
           "close": "Close incident", "message": "Announcement", "scope_all": "All calls",
           "scope_topic": "Calls on this topic only", "expires": "Lasts (minutes)", "rising": "rising",
           "steady": "steady", "falling": "falling", "announcing": "The IVR is announcing",
           "default": "We know about the {what} problem at {where}; the responsible unit is on it."},
}


def render_page(csrf: str, language: str, centre_name: str, nonce: str = "") -> str:
    w = WORDS["en" if language == "en" else "zh"]
    return f"""<!doctype html>
<html lang="{'en' if language == 'en' else 'zh-CN'}"><head><meta charset="utf-8">
<meta name="csrf-token" content="{html.escape(csrf)}">
<title>{html.escape(w['title'])} · {html.escape(centre_name)}</title>
<style nonce="{html.escape(nonce)}">
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; margin: 20px; }}
.incident {{ border: 2px solid #999; border-radius: 6px; padding: 10px 14px; margin-bottom: 14px; }}
.incident.candidate {{ border-color: #c0392b; background: #fdecea; animation: pulse 1.4s ease-in-out infinite; }}
.incident.confirmed {{ border-color: #d68910; background: #fef5e7; }}
@keyframes pulse {{ 50% {{ box-shadow: 0 0 0 6px rgba(192, 57, 43, .35); }} }}
.head {{ font-size: 20px; font-weight: bold; }} textarea {{ width: 100%; height: 3.2em; }}
</style></head><body>
<h1>{html.escape(w['title'])}</h1><div id="list" aria-live="assertive"></div>
<script nonce="{html.escape(nonce)}">
const W = {json.dumps(w, ensure_ascii=False)};
const csrf = document.querySelector('meta[name=csrf-token]').content;
const seen = new Set();
function beep() {{  // a sound where the page may play one (browsers allow it after a first click)
  try {{ const a = new AudioContext(), o = a.createOscillator(); o.frequency.value = 880; o.connect(a.destination);
        o.start(); o.stop(a.currentTime + 0.4); }} catch (e) {{}}
}}
async function post(url, body) {{
  const r = await fetch(url, {{method: 'POST', headers: {{'Content-Type': 'application/json', 'X-CSRF-Token': csrf}},
                               body: JSON.stringify(body)}});
  if (!r.ok) alert((await r.json()).detail); await load(true);
}}
function card(i) {{
  const c = i.candidate, div = document.createElement('div');
  div.className = 'incident ' + i.state; div.id = 'incident-' + i.number;
  const head = document.createElement('div'); head.className = 'head';
  head.textContent = `${{W[i.state]}} #${{i.number}}: ${{c.what || '*'}} @ ${{c.where || '*'}} · ${{W.since}} ` +
    `${{c.since.slice(11, 16)}} · ${{c.calls}} ${{W.calls}} · ${{W[c.trend]}}`;
  div.appendChild(head);
  if (i.state === 'candidate') {{
    const text = document.createElement('textarea'); text.className = 'message';
    text.value = W.default.replace('{{what}}', c.what || '').replace('{{where}}', c.where || '');
    const scope = document.createElement('select'); scope.className = 'scope';
    scope.add(new Option(W.scope_all, 'all'));
    if (c.what) scope.add(new Option(W.scope_topic, 'topic:' + c.what));
    const ok = document.createElement('button'); ok.className = 'confirm'; ok.textContent = W.confirm;
    ok.onclick = () => post(`/api/incidents/${{i.number}}/confirm`, {{message: text.value, scope: scope.value}});
    const no = document.createElement('button'); no.className = 'dismiss'; no.textContent = W.dismiss;
    no.onclick = () => post(`/api/incidents/${{i.number}}/dismiss`, {{}});
    div.append(W.message, text, scope, ok, no);
  }} else {{
    const p = document.createElement('p');
    p.textContent = i.announced_version ? `${{W.announcing}} (IVR v${{i.announced_version}}): ${{i.message}}`
                                        : i.message;
    const end = document.createElement('button'); end.className = 'close'; end.textContent = W.close;
    end.onclick = () => post(`/api/incidents/${{i.number}}/close`, {{}});
    div.append(p, end);
  }}
  return div;
}}
async function load(force) {{
  const r = await fetch('/api/incidents'); if (!r.ok) return;
  const items = (await r.json()).incidents, list = document.getElementById('list');
  const typing = document.activeElement && document.activeElement.matches('.incident textarea, .incident select');
  if (typing && !force) return;  // do not redraw under the supervisor's typing
  list.replaceChildren(...items.map(card));
  if (!items.length) list.textContent = W.none;
  for (const i of items) if (!seen.has(i.number)) {{ seen.add(i.number); if (i.state === 'candidate') beep(); }}
}}
load(); setInterval(load, 3000);
</script></body></html>"""
