"""Issue 15, finding 9, on the real daemon over TCP: every HTML page carries a Content-Security-Policy with a
fresh nonce that its own inline script and style carry, X-Frame-Options DENY, X-Content-Type-Options
nosniff and Referrer-Policy no-referrer; API answers, errors and files get a CSP that allows nothing.
In headless Chromium the wallboard, login, desk, tickets workspace, admin, IVR and incidents pages run
their scripts under that policy with no CSP violation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from callcenter.web.screenshot import chromium, chromium_path
from tests.security_kit import PASSWORD, base_url, client, daemon, ticket

#: who opens which page
PAGES = [(None, "/"), (None, "/login"), ("1001", "/desk"), ("1001", "/tickets"), ("root", "/admin"),
         ("root", "/admin/ivr"), ("lead", "/incidents"), ("lead", "/supervisor"), ("police", "/tickets"),
         ("1001", "/tickets?new=1")]
API = [(None, "/api/stats"), (None, "/healthz"), (None, "/metrics"), (None, "/openapi.json"),
       (None, "/api/tickets"), (None, "/no/such/page"), ("1001", "/api/tickets"), ("1001", "/api/me"),
       ("1001", "/api/tickets/export?since=2026-01-01&until=2026-12-31"), (None, "/desk/static/desk.js")]
COMMON = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def common_headers(r: httpx.Response) -> None:
    for name, value in COMMON.items():
        assert r.headers.get(name) == value, (r.request.url, name, r.headers.get(name))


def inline_elements(page: str) -> list[str]:
    """The opening tags of inline <script> (executable) and <style> elements."""
    tags = re.findall(r"<(?:script|style)\b[^>]*>", page)
    return [t for t in tags if "src=" not in t and 'type="application/json"' not in t]


async def test_every_response_carries_the_headers(tmp_path: Path) -> None:
    async with daemon(tmp_path) as pair:
        async with client(pair, "1001") as (agent, h):
            await ticket(agent, h)
        nonces: set[str] = set()
        for who, path in PAGES:
            async with client(pair, who) as (http, _):
                for _ in range(2):
                    r = await http.get(path)
                    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), (who, path)
                    common_headers(r)
                    csp = r.headers["content-security-policy"]
                    nonce = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{20,})'", csp)
                    assert nonce is not None, csp
                    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
                    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
                    assert f"style-src 'self' 'nonce-{nonce.group(1)}'" in csp
                    for tag in inline_elements(r.text):  # every inline script and style is the page's own
                        assert f'nonce="{nonce.group(1)}"' in tag, (path, tag)
                    assert nonce.group(1) not in nonces  # a fresh nonce per response
                    nonces.add(nonce.group(1))
        for who, path in API:
            async with client(pair, who) as (http, _):
                r = await http.get(path)
                common_headers(r)
                assert r.headers["content-security-policy"].startswith("default-src 'none'"), (path, r.headers)



def _violations(page: Any, into: list[str]) -> None:
    page.on("console", lambda msg: into.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: into.append(f"pageerror: {exc}"))


async def _sign_in(page: Any, base: str, username: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("#username", username)
    await page.fill("#password", "agent1001" if username == "1001" else PASSWORD)
    await page.click("#login-button")


@pytest.mark.browser
async def test_pages_run_under_the_policy_in_chromium(tmp_path: Path) -> None:
    if not Path(chromium_path()).exists():  # noqa: ASYNC240 (before anything runs)
        raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")
    problems: list[str] = []
    async with daemon(tmp_path) as pair, chromium() as browser:
        base = base_url(pair)
        async with client(pair, "1001") as (agent, h):
            made = await ticket(agent, h)
        guard = "window.__csp = []; document.addEventListener('securitypolicyviolation', " \
                "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"

        async def fresh() -> Any:
            context = await browser.new_context()
            await context.add_init_script(guard)
            page = await context.new_page()
            page.set_default_timeout(20_000)
            _violations(page, problems)
            return page

        wall = await fresh()
        response = await wall.goto(f"{base}/")
        assert "nonce-" in (await response.all_headers())["content-security-policy"]
        await wall.wait_for_function("() => (document.body.dataset.now || '') !== ''")  # the inline script drew

        problems += await wall.evaluate("window.__csp")

        desk = await fresh()
        await _sign_in(desk, base, "1001")  # login.js runs under the policy
        await desk.wait_for_url(f"{base}/desk")
        await desk.wait_for_function("() => document.getElementById('state').textContent !== '—'")  # desk.js ran
        await desk.goto(f"{base}/tickets?ticket={made['number']}")
        await desk.select_option("#filters select[name=state]", "accepted")  # the inline script submits
        await desk.wait_for_url(re.compile(r"state=accepted"))
        problems += await desk.evaluate("window.__csp")

        admin = await fresh()
        await _sign_in(admin, base, "root")
        await admin.wait_for_url(f"{base}/admin")
        await admin.wait_for_function("() => document.querySelectorAll('button').length > 6")
        await admin.goto(f"{base}/admin/ivr")
        await admin.wait_for_selector(".cm-editor .cm-content")  # CodeMirror drew the menu
        await admin.wait_for_selector("#graph svg")
        problems += await admin.evaluate("window.__csp")

        lead = await fresh()
        await _sign_in(lead, base, "lead")
        await lead.wait_for_url(f"{base}/supervisor")  # signed in to the console: its inline scripts ran
        await lead.wait_for_selector("tr[data-agent]")
        problems += await lead.evaluate("window.__csp")
        await lead.goto(f"{base}/incidents")
        await lead.wait_for_function("() => document.getElementById('list').textContent.length > 0")
        problems += await lead.evaluate("window.__csp")
    assert problems == []
