"""The admin's IVR journey in headless Chromium against the running daemon (and the PBX simulator over TCP):
the IVR tab draws the menu; in the editor the admin edits the welcome prompt, types a colon that breaks the
YAML and sees the error at that line, fixes it, listens to the new prompt (an 8 kHz WAV loads in the audio
element), saves after reading the diff, and rolls back; the daemon serves each version and the audit trail
holds both changes. Screenshots: docs/img/admin-ivr.png, ivr-editor.png and ivr-editor-diff.png."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from callcenter.web.screenshot import chromium, chromium_path
from ivr.model import PlayNode
from tests.pair import running_pair
from tests.test_desktop_browser import desk_config, sign_in

pytestmark = [pytest.mark.browser]

if not os.path.exists(chromium_path()):
    raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")
if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
    raise RuntimeError("espeak-ng and sox are needed: run scripts/services (apt-get install espeak-ng sox)")

ROOT = Path(__file__).resolve().parents[1]
GUARD = 20_000  # ms, against a hang only
OLD = "您好，欢迎致电12345政务服务便民热线，本次通话可能会被录音。"
BROKEN = "text: 您好: 欢迎致电12345政务服务便民热线。"
FIXED = "text: 您好，欢迎致电12345政务服务便民热线，新版欢迎词。"


async def replace_line(page: Any, containing: str, typed: str) -> None:
    """Click the editor line holding ``containing``, select it (after its indentation) and type over it."""
    await page.locator(".cm-line", has_text=containing).click()
    await page.keyboard.press("End")
    await page.keyboard.press("Shift+Home")
    await page.keyboard.type(typed)


async def test_admin_edits_a_prompt_listens_saves_and_rolls_back(tmp_path: Path) -> None:
    errors: list[str] = []
    async with running_pair(tmp_path, cfg=desk_config(), speed=5) as pair:
        ivr = pair.daemon.ivr
        original = ivr.current().text
        row = next(i for i, line in enumerate(original.splitlines(), 1) if OLD in line)
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(GUARD)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            await sign_in(page, base, "admin", "admin12345")
            await page.wait_for_url(f"{base}/admin")

            # The IVR tab: the serving menu as a picture, not a JSON dump.
            await page.click("#tabs button[data-section=ivr]")
            await page.wait_for_selector("#content .ivr-graph svg")
            await page.screenshot(path=str(ROOT / "docs" / "img" / "admin-ivr.png"))
            assert "当前版本 v1" in await page.inner_text("#ivr-serving")
            assert '"nodes"' not in await page.inner_text("#content")
            await page.click("#open-ivr-editor")
            await page.wait_for_url(f"{base}/admin/ivr")
            await page.wait_for_selector("#graph svg")
            await page.wait_for_selector("#status.ok")
            assert await page.text_content("#problem-count") == "0"

            # A colon typed into the prompt: the error shows at that line as one types, in Chinese.
            await replace_line(page, OLD, BROKEN)
            problem = page.locator(f"#problems .problem.error[data-line='{row}']")
            await problem.wait_for()
            assert "YAML 格式错误" in await problem.inner_text() and f"第 {row} 行" in await problem.inner_text()
            broken_line = page.locator(".cm-line", has_text="您好: 欢迎致电")
            assert await broken_line.locator(".cm-lintRange-error").count() == 1  # underlined in that very line
            assert await page.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 1
            assert "1 个错误" in await page.inner_text("#status")
            assert not await page.locator("#dirty").is_hidden()
            await page.screenshot(path=str(ROOT / "docs" / "img" / "ivr-editor.png"))

            # Saving is refused while the menu has errors.
            await page.click("#save")
            await page.wait_for_function("() => document.getElementById('status').textContent.includes('请先修正')")

            # Fixed: no problem left, the picture shows the new words.
            await replace_line(page, "您好: 欢迎致电", FIXED)
            await page.wait_for_selector("#status.ok")
            await page.wait_for_function("() => document.getElementById('problem-count').textContent === '0'")
            await page.wait_for_function(
                "() => document.querySelector('#graph svg').textContent.includes('新版欢迎词')")

            # Listen: the prompt list has the edited text; the audio element loads the 8 kHz WAV.
            await page.click(".tab[data-tab=prompts]")
            prompt = page.locator("li.prompt[data-node=welcome][data-language=zh]")
            assert "新版欢迎词" in await prompt.inner_text()
            await prompt.locator("button.listen").click()
            await page.wait_for_function(
                "() => { const a = document.getElementById('player');"
                " return a.dataset.node === 'welcome' && a.readyState >= 1 && a.duration > 1; }")
            # The same speech as the page asked for (the player's blob URL is not fetchable: the CSP's
            # connect-src is 'self'); the WAV header gives the rate.
            rate = await page.evaluate(
                "async () => { const csrf = document.querySelector('meta[name=csrf-token]').content;"
                " const r = await fetch('/api/ivr/listen', {method: 'POST', headers: {'Content-Type':"
                " 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify({text: '新版欢迎词',"
                " language: 'zh'})}); const b = await r.arrayBuffer();"
                " return [new TextDecoder().decode(b.slice(0, 4)), new DataView(b).getUint32(24, true)]; }")
            assert rate == ["RIFF", 8000]

            # Save: the diff against v1 first, then the new version serves.
            await page.click("#save")
            dialog = page.locator("#diff-dialog[open]")
            await dialog.wait_for()
            assert "与当前版本 v1 的差异" in await page.inner_text("#diff-title")
            assert OLD in await page.inner_text("#diff tr.del")
            assert "新版欢迎词" in await page.inner_text("#diff tr.add")
            assert "新增 1 行，删除 1 行" in await page.inner_text("#diff-stats")
            await page.fill("#note", "新版欢迎词")
            await page.screenshot(path=str(ROOT / "docs" / "img" / "ivr-editor-diff.png"))
            await page.click("#diff-confirm")
            await page.wait_for_function("() => document.getElementById('status').textContent.includes('v2')")
            await page.wait_for_selector("#history tr[data-version='2'] .badge.serving")
            assert await page.text_content("#serving") == "v2" and await page.locator("#dirty").is_hidden()
            assert ivr.current().number == 2 and ivr.current().note == "新版欢迎词"
            welcome = ivr.current().menu.nodes["welcome"]
            assert isinstance(welcome, PlayNode) and "新版欢迎词" in welcome.prompt.for_language("zh").text

            # What v2 changed, from the history.
            await page.click("#history tr[data-version='2'] button.view")
            await dialog.wait_for()
            assert "v2 相对 v1 的改动" in await page.inner_text("#diff-title")
            assert "新版欢迎词" in await page.inner_text("#diff tr.add")
            assert await page.locator("#diff-confirm").is_hidden()
            await page.click("#diff-cancel")
            await dialog.wait_for(state="detached")

            # Roll back to v1: its diff against v2, then v3 serves v1's text, and the editor shows it.
            await page.click("#history tr[data-version='1'] button.rollback")
            await dialog.wait_for()
            assert "回滚到 v1" in await page.inner_text("#diff-title")
            assert "新版欢迎词" in await page.inner_text("#diff tr.del")
            assert OLD in await page.inner_text("#diff tr.add")
            await page.click("#diff-confirm")
            await page.wait_for_selector("#history tr[data-version='3'] .badge.serving")
            assert "回滚到 v1" in await page.inner_text("#history tr[data-version='3']")
            assert await page.evaluate("window.ivrEditor.state.doc.toString()") == original
            assert ivr.current().number == 3 and ivr.current().text == original

            # The admin's audit tab lists both changes, in words.
            await page.goto(f"{base}/admin")
            await page.click("#tabs button[data-section=audit]")
            await page.wait_for_selector("#audit tr[data-section=ivr]")
            rows = await page.locator("#audit tr[data-section=ivr]").all_inner_texts()
            assert "回滚" in rows[0] and "保存新版本" in rows[1] and all("语音导航" in r for r in rows)
    audit = [json.loads(line) for line in (tmp_path / "callcenter-audit.jsonl").read_text().splitlines()]
    assert [(e["action"], e["key"], e["user"]) for e in audit] == [("save", "v2", "admin"), ("rollback", "v3", "admin")]
    assert errors == []
