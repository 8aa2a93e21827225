"""IVR menu versions over HTTP, and the admin page that edits a menu (admins only; see auth.py).

    GET  /api/ivr                      current version and the history (number, author, time, note)
    GET  /api/ivr/versions/{n}         one version: its YAML text and the diff against the one before
    POST /api/ivr/check                {"text"} -> {"ok", "problems": [{key, line, message}]} (saves nothing)
    POST /api/ivr/versions             {"text", "note"} -> 201 the new version (new calls take it at once;
                                       calls inside the menu finish on theirs), or 422 ``menu_rejected``
                                       with the problems, and the serving version stays
    POST /api/ivr/rollback/{n}         -> 201 a new version with version n's text
    GET  /admin/ivr                    the page: the YAML in an editor, problems next to their lines

All routes live here so access rules stay in one place.
"""

from __future__ import annotations

import html
import json
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callcenter.web.auth import Role, csrf_token, requires
from callcenter.web.errors import WebError
from callcenter.web.headers import nonce
from ivr.versions import MenuRejected, MenuVersion

MAX_MENU_BYTES = 256 * 1024


class MenuService(Protocol):
    def current(self) -> MenuVersion: ...

    def save(self, text: str, author: str, note: str = "") -> MenuVersion: ...

    def rollback(self, number: int, author: str) -> MenuVersion: ...

    @property
    def versions(self) -> Any: ...


def _problems(exc: MenuRejected) -> list[dict[str, Any]]:
    if exc.issues:
        return [{"key": i.key, "line": i.line, "message": i.message} for i in exc.issues]
    return [{"key": "", "line": None, "message": p} for p in exc.problems]


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise WebError(400, "bad_json", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise WebError(400, "bad_json", "the body must be a JSON object")
    return body


def _text(body: dict[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise WebError(400, "text_missing", "give the menu YAML as 'text'")
    if len(text.encode("utf-8")) > MAX_MENU_BYTES:
        raise WebError(413, "menu_too_large", f"a menu is at most {MAX_MENU_BYTES} bytes")
    return text


def _author(request: Request) -> str:
    user = getattr(request.state, "user", None)
    return str(getattr(user, "username", "") or "admin")


def ivr_routes(service: MenuService, *, language: str = "zh", centre_name: str = "") -> list[BaseRoute]:
    @requires(Role.ADMIN)
    async def overview(request: Request) -> Response:
        versions = service.versions.versions
        return JSONResponse({"current": service.current().summary(), "versions": [v.summary() for v in versions]})

    @requires(Role.ADMIN)
    async def version(request: Request) -> Response:
        try:
            found = service.versions.get(int(request.path_params["number"]))
        except LookupError:
            raise WebError(404, "no_such_version", "no such menu version") from None
        return JSONResponse({**found.summary(), "text": found.text, "diff": found.diff})

    @requires(Role.ADMIN)
    async def check(request: Request) -> Response:
        text = _text(await _json(request))
        try:
            service.versions.check(text)
        except MenuRejected as exc:
            return JSONResponse({"ok": False, "problems": _problems(exc)})
        return JSONResponse({"ok": True, "problems": []})

    @requires(Role.ADMIN)
    async def save(request: Request) -> Response:
        body = await _json(request)
        text = _text(body)
        note = str(body.get("note") or "")[:200]
        try:
            saved = service.save(text, _author(request), note)
        except MenuRejected as exc:
            return JSONResponse({"error": "menu_rejected", "detail": "the menu has problems; the serving "
                                 "version stays", "problems": _problems(exc)}, status_code=422)
        return JSONResponse(saved.summary(), status_code=201)

    @requires(Role.ADMIN)
    async def rollback(request: Request) -> Response:
        try:
            saved = service.rollback(int(request.path_params["number"]), _author(request))
        except LookupError:
            raise WebError(404, "no_such_version", "no such menu version") from None
        except MenuRejected as exc:  # the queues changed since that version
            return JSONResponse({"error": "menu_rejected", "detail": "that version no longer checks",
                                 "problems": _problems(exc)}, status_code=422)
        return JSONResponse(saved.summary(), status_code=201)

    @requires(Role.ADMIN, page=True)
    async def page(request: Request) -> Response:
        return HTMLResponse(render_page(service, csrf_token(request), language, centre_name, nonce(request)),
                            headers={"Cache-Control": "no-store"})

    return [
        Route("/api/ivr", overview, methods=["GET"]),
        Route("/api/ivr/versions/{number:int}", version, methods=["GET"]),
        Route("/api/ivr/check", check, methods=["POST"]),
        Route("/api/ivr/versions", save, methods=["POST"]),
        Route("/api/ivr/rollback/{number:int}", rollback, methods=["POST"]),
        Route("/admin/ivr", page, methods=["GET"]),
    ]


_WORDS = {
    "zh": {"title": "IVR 菜单", "save": "保存为新版本", "check": "检查", "note": "说明", "history": "版本历史",
           "ok": "检查通过", "saved": "已保存为版本", "rollback": "回滚到此版本", "problems": "个问题",
           "serving": "当前版本"},
    "en": {"title": "IVR menu", "save": "Save as a new version", "check": "Check", "note": "Note",
           "history": "Versions", "ok": "No problems", "saved": "Saved as version", "rollback": "Roll back to this",
           "problems": "problems", "serving": "serving"},
}


def render_page(service: MenuService, csrf: str, language: str, centre_name: str, nonce: str = "") -> str:
    w = _WORDS["en" if language == "en" else "zh"]
    current = service.current()
    rows = "".join(
        f"<tr><td>v{v.number}</td><td>{html.escape(v.author)}</td><td>{v.at:%Y-%m-%d %H:%M}</td>"
        f"<td>{html.escape(v.note)}</td><td>"
        + (w["serving"] if v.number == current.number else
           f'<button type="button" data-rollback="{v.number}">{w["rollback"]}</button>')
        + "</td></tr>"
        for v in reversed(service.versions.versions)
    )
    words = json.dumps(w, ensure_ascii=False)
    return f"""<!doctype html>
<html lang="{'en' if language == 'en' else 'zh-CN'}"><head><meta charset="utf-8">
<meta name="csrf-token" content="{html.escape(csrf)}">
<title>{html.escape(w['title'])} · {html.escape(centre_name)}</title>
<style nonce="{html.escape(nonce)}">
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; margin: 20px; }}
.editor {{ display: grid; grid-template-columns: 3.5em 1fr 26em; border: 1px solid #aaa; }}
.gutter, textarea {{ font: 13px/18px monospace; margin: 0; padding: 6px 4px; }}
.gutter {{ text-align: right; color: #888; background: #f4f4f4; white-space: pre; overflow: hidden; }}
.gutter .bad {{ color: #fff; background: #c0392b; }}
textarea {{ border: 0; resize: none; height: 70vh; white-space: pre; overflow: auto; }}
#problems {{ border-left: 1px solid #aaa; padding: 6px; overflow: auto; height: 70vh; font-size: 13px; }}
#problems .problem {{ color: #a00; margin-bottom: 8px; cursor: pointer; }}
#status.ok {{ color: #1e7b34; }} #status.bad {{ color: #a00; }}
table {{ border-collapse: collapse; margin-top: 16px; }} td {{ border: 1px solid #ccc; padding: 3px 8px; }}
</style></head><body>
<h1>{html.escape(w['title'])} — v{current.number}</h1>
<div class="editor"><div class="gutter" id="gutter"></div>
<textarea id="text" spellcheck="false" aria-label="menu YAML">{html.escape(current.text)}</textarea>
<div id="problems" aria-live="polite"></div></div>
<p><label>{html.escape(w['note'])} <input id="note" size="40"></label>
<button type="button" id="check">{html.escape(w['check'])}</button>
<button type="button" id="save">{html.escape(w['save'])}</button> <span id="status"></span></p>
<h2>{html.escape(w['history'])}</h2><table>{rows}</table>
<script nonce="{html.escape(nonce)}">
const W = {words};
const csrf = document.querySelector('meta[name=csrf-token]').content;
const text = document.getElementById('text'), gutter = document.getElementById('gutter');
const box = document.getElementById('problems'), status = document.getElementById('status');
let bad = new Set();
function drawGutter() {{
  const n = text.value.split('\\n').length; let out = '';
  for (let i = 1; i <= n; i++) out += bad.has(i) ? `<span class="bad">${{i}}</span>\\n` : `${{i}}\\n`;
  gutter.innerHTML = out; gutter.scrollTop = text.scrollTop;
}}
function show(problems) {{
  bad = new Set(problems.map(p => p.line).filter(Boolean)); box.textContent = '';
  for (const p of problems) {{
    const div = document.createElement('div'); div.className = 'problem';
    div.dataset.line = p.line || '';
    div.textContent = (p.line ? `line ${{p.line}}: ` : '') + (p.key ? p.key + ': ' : '') + p.message;
    div.onclick = () => {{ if (p.line) goTo(p.line); }};
    box.appendChild(div);
  }}
  drawGutter();
}}
function goTo(line) {{
  const lines = text.value.split('\\n'); let pos = 0;
  for (let i = 0; i < line - 1; i++) pos += lines[i].length + 1;
  text.focus(); text.setSelectionRange(pos, pos + lines[line - 1].length); text.scrollTop = (line - 3) * 18;
}}
async function post(url, body) {{
  const r = await fetch(url, {{method: 'POST', headers: {{'Content-Type': 'application/json', 'X-CSRF-Token': csrf}},
                              body: JSON.stringify(body)}});
  return [r.status, await r.json()];
}}
document.getElementById('check').onclick = async () => {{
  const [, data] = await post('/api/ivr/check', {{text: text.value}});
  show(data.problems || []);
  status.className = data.ok ? 'ok' : 'bad';
  status.textContent = data.ok ? W.ok : `${{data.problems.length}} ${{W.problems}}`;
}};
document.getElementById('save').onclick = async () => {{
  const note = document.getElementById('note').value;
  const [code, data] = await post('/api/ivr/versions', {{text: text.value, note}});
  if (code === 201) {{ show([]); status.className = 'ok'; status.textContent = `${{W.saved}} v${{data.number}}`;
                       setTimeout(() => location.reload(), 600); return; }}
  show(data.problems || [{{message: data.detail}}]); status.className = 'bad';
  status.textContent = `${{(data.problems || []).length}} ${{W.problems}}`;
}};
for (const b of document.querySelectorAll('[data-rollback]')) b.onclick = async () => {{
  const [code] = await post(`/api/ivr/rollback/${{b.dataset.rollback}}`, {{}}); if (code === 201) location.reload();
}};
text.addEventListener('input', drawGutter); text.addEventListener('scroll', () => gutter.scrollTop = text.scrollTop);
drawGutter();
</script></body></html>"""
