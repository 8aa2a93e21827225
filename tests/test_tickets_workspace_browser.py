"""The tickets workspace (/tickets) in headless Chromium, signed in for real: every label and value in
Chinese (no state, category or department code on the page), filters, search, paging, overdue marked, a
detail view with the history, and the workflow: the supervisor dispatches a ticket to a department picked
by name, the department signs for it. The screenshot goes to docs/img/tickets.png."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from callcenter.web import create_app, serve
from callcenter.web.auth import Role, User, UserDirectory, csrf_token, log_in
from callcenter.web.screenshot import chromium, chromium_path
from callcenter.web.tickets_api import tickets_routes
from config.loader import load_config
from records.store import Store
from tickets.access import Role as TicketRole
from tickets.access import Viewer
from tickets.deadlines import WorkCalendar
from tickets.departments import build, read_csv
from tickets.service import TicketDraft, TicketService
from tickets.workflow import Action

pytestmark = pytest.mark.browser

if not os.path.exists(chromium_path()):
    raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # Mon 10:00 in Shanghai
GUARD = 30_000
USERS = UserDirectory([User("super1", Role.SUPERVISOR), User("zjw", Role.DEPARTMENT, department="city.zjw")])
CODES = re.compile(r"\b(accepted|dispatched|in_progress|resolved|complaint|consultation|help|city\.[a-z]+|xihu)\b")


def seed(svc: TicketService) -> list[str]:
    """30 tickets: accepted ones from today, dispatched ones from three weeks ago (overdue now)."""
    agent = Viewer(TicketRole.AGENT, user="1001")
    counties = ("xihu", "gongshu", "binjiang")
    numbers = []
    for i in range(30):
        at = NOW - timedelta(days=21 if i % 3 == 0 else 0, minutes=30 - i)
        content = f"第{i}号诉求：{'夜间施工噪音' if i % 2 else '小区停水'}" + ("，紫藤花园" if i == 7 else "")
        draft = TicketDraft(category=("complaint", "help", "consultation")[i % 3], county=counties[i % 3],
                            topic="urban.noise" if i % 2 else "utilities.water", content=content)
        number = svc.create(draft, agent, at).number
        if i % 3 == 0:
            svc.transition(number, Action.DISPATCH, agent, at, department="city.sthj")
        numbers.append(number)
    return numbers


@contextlib.asynccontextmanager
async def workspace(tmp_path: Path) -> AsyncIterator[tuple[str, list[str]]]:
    cfg = load_config(ROOT / "config" / "example.yaml", environ={})
    store = Store(f"sqlite:///{tmp_path / 'ws.db'}")
    svc = TicketService(store, cfg.tickets, WorkCalendar.china(), build(read_csv(ROOT / "config/departments.csv")))
    numbers = seed(svc)

    async def test_login(request: Request) -> Response:  # stands in for the /login form
        user = USERS.get(request.path_params["name"])
        assert user is not None
        log_in(request, user)
        return JSONResponse({"csrf_token": csrf_token(request)})

    app = create_app(snapshot=lambda: {}, metrics_text=lambda: (b"", "text/plain"), language="zh",
                     centre_name="测试中心", users=USERS, session_secret="s" * 40,
                     extra_routes=lambda _s: [*tickets_routes(svc, now=lambda: NOW, language="zh",
                                                              centre_name="测试中心"),
                                              Route("/test-login/{name}", test_login, methods=["POST"])])
    started = asyncio.Event()
    server = asyncio.create_task(serve(app, "127.0.0.1", 0, started=started), name="workspace-web")
    try:
        await asyncio.wait_for(started.wait(), 30)
        yield f"http://127.0.0.1:{app.state.bound_port}", numbers
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
        store.close()


async def signed_in_page(browser: Any, base: str, name: str) -> Any:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(GUARD)
    r = await page.request.post(f"{base}/test-login/{name}")
    assert r.ok
    return page


async def visible_text(page: Any) -> str:
    return str(await page.locator("main").inner_text())


async def test_the_workspace_reads_in_chinese_and_works_the_workflow(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (base, numbers), chromium() as browser:
        page = await signed_in_page(browser, base, "super1")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{base}/tickets")
        text = await visible_text(page)
        assert "共 30 件" in text and "第 1 / 2 页" in text
        assert not CODES.search(text), CODES.search(text)  # states, categories, departments by name
        for words in ("已受理", "已派单", "投诉", "市生态环境局", "西湖区", "施工噪音", "电话", "区域", "主题"):
            assert words in text, words
        assert await page.locator("#tickets tr[data-number]").count() == 25
        assert "时间均为 Asia/Shanghai" in await page.locator("header").inner_text()
        # Paging.
        await page.click("#next")
        await page.wait_for_url(re.compile(r"page=2"))
        assert await page.locator("#tickets tr[data-number]").count() == 5
        # Filters: dispatched three weeks ago, so overdue; marked.
        await page.goto(f"{base}/tickets")
        await page.select_option("#f-due", "overdue")
        await page.wait_for_url(re.compile(r"due=overdue"))
        overdue = page.locator("#tickets tr[data-number]")
        assert await overdue.count() == 10
        assert await page.locator("#tickets tr.due-overdue .badge").first.inner_text() == "已超期"
        await page.select_option("#f-state", "accepted")
        await page.wait_for_url(re.compile(r"state=accepted"))
        assert await page.locator("#empty").is_visible()  # accepted tickets have no due time yet
        # Search.
        await page.goto(f"{base}/tickets?q=紫藤花园")
        assert await page.locator("#tickets tr[data-number]").count() == 1
        # Detail: history, and dispatch to a department picked by its name.
        accepted = numbers[1]
        await page.goto(f"{base}/tickets?ticket={accepted}")
        detail = page.locator("#detail")
        assert "登记" in await detail.locator("#timeline").inner_text()
        form = page.locator('form.action[data-action="dispatch"]')
        await form.locator('input[name="department"]').fill("市住房和城乡建设局")
        await form.locator('input[name="note"]').fill("请核实处理")
        await form.locator("button").click()
        await page.wait_for_function("() => document.querySelector('#timeline').textContent.includes('派单')")
        facts = await detail.locator(".facts").inner_text()
        assert "已派单" in facts and "市住房和城乡建设局" in facts
        assert "请核实处理" in await detail.locator("#timeline").inner_text()
        shot = ROOT / "docs" / "img" / "tickets.png"
        await page.screenshot(path=str(shot), full_page=False)

        # The department sees it, and signs for it.
        dept = await signed_in_page(browser, base, "zjw")
        await dept.goto(f"{base}/tickets")
        assert await dept.locator("#tickets tr[data-number]").count() == 1
        assert "新建工单" not in await dept.locator("header").inner_text()
        await dept.click(f'#tickets tr[data-number="{accepted}"] a')
        await dept.locator('form.action[data-action="sign"] button').click()
        await dept.wait_for_function("() => document.querySelector('#timeline').textContent.includes('签收')")
        assert "办理中" in await dept.locator("#detail .facts").inner_text()
        # ... and answers it: 办结 with the reply to the citizen.
        resolve = dept.locator('form.action[data-action="resolve"]')
        await resolve.locator('input[name="note"]').fill("已协调施工单位调整作业时间")
        await resolve.locator("button").click()
        await dept.wait_for_function("() => document.querySelector('#timeline').textContent.includes('办结')")
        facts = await dept.locator("#detail .facts").inner_text()
        assert "已办结" in facts and "已协调施工单位调整作业时间" in facts
        assert errors == []
