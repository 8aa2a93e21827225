"""The IVR editor's API: problems at their line and column in the centre's language as one types, the menu's
picture, the diff before saving, the prompt spoken as the PBX plays it (8 kHz WAV from espeak-ng + sox), and
saves / rollbacks in the audit trail."""

from __future__ import annotations

import io
import shutil
import wave

import httpx
import pytest

from callcenter.ivr_service import IvrService
from callcenter.web.admin import AuditLog
from callcenter.web.app import create_app
from callcenter.web.ivr_api import ivr_routes
from callcenter.web.ivr_editor import diff
from callcenter.web.ivr_messages import localise
from config.loader import load_config
from tests.test_ivr_api import EXAMPLE, NOW, USERS, _test_login, login

if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
    raise RuntimeError("espeak-ng and sox are needed: run scripts/services (apt-get install espeak-ng sox)")


@pytest.fixture
async def api(tmp_path):
    from starlette.routing import Route

    service = IvrService(load_config(EXAMPLE, environ={}), tmp_path, lambda: NOW)
    audit = AuditLog(tmp_path / "audit.jsonl")
    app = create_app(snapshot=lambda: {}, metrics_text=lambda: (b"", "text/plain"), language="zh",
                     centre_name="12345", users=USERS, session_secret="s" * 40,
                     extra_routes=lambda streams: [Route("/test-login/{name}", _test_login, methods=["POST"]),
                                                   *ivr_routes(service, language="zh", centre_name="12345",
                                                               audit=audit.append)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin.test") as client:
        headers = await login(client, "admin")
        yield service, client, headers, audit


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


async def test_validate_puts_each_problem_at_its_line_and_column_in_chinese(api):
    service, client, headers, _ = api
    text = service.current().text
    good = (await client.post("/api/ivr/validate", json={"text": text}, headers=headers)).json()
    assert good["ok"] is True and good["loaded"] is True and good["problems"] == []
    assert good["nodes"]["main"] == line_of(text, "  main:")
    welcome = next(p for p in good["prompts"] if p["node"] == "welcome" and p["language"] == "zh")
    assert welcome["text"].startswith("您好，欢迎致电12345") and welcome["line"] == line_of(text, "您好，欢迎致电12345")
    thanks = next(p for p in good["prompts"]
                  if p["menu"] == "survey" and p["node"] == "thanks" and p["language"] == "zh")
    assert thanks["line"] == line_of(text, "感谢您的评价") and all(p["line"] for p in good["prompts"])

    # A colon typed into a prompt breaks the YAML: the error is on that line, at the colon.
    broken = text.replace("text: 您好，欢迎致电12345", "text: 您好: 欢迎致电12345", 1)
    row = line_of(broken, "您好: 欢迎致电")
    checked = (await client.post("/api/ivr/validate", json={"text": broken}, headers=headers)).json()
    assert checked["ok"] is False and checked["loaded"] is False
    (problem,) = checked["problems"]
    assert problem["line"] == row and problem["severity"] == "error"
    assert problem["column"] == broken.splitlines()[row - 1].index(": 欢迎") + 1
    assert problem["message"].startswith("YAML 格式错误") and "引号" in problem["message"]

    # A queue that does not exist: at the key, with the fix, in Chinese.
    unknown = text.replace("queue: complaints", "queue: complaint", 1)
    (problem,) = (await client.post("/api/ivr/validate", json={"text": unknown}, headers=headers)).json()["problems"]
    row = line_of(unknown, "queue: complaint")
    assert (problem["line"], problem["node"]) == (row, "to-complaints")
    assert problem["column"] == unknown.splitlines()[row - 1].index("queue") + 1
    assert problem["message"] == "未知队列“complaint”；修改：改用已配置的队列：complaints, dialect, english, general"

    # Legal but likely a mistake: the English queue reached by no path is a warning, and the menu saves.
    unreached = text.replace("queue: english", "queue: general", 1)
    checked = (await client.post("/api/ivr/validate", json={"text": unreached}, headers=headers)).json()
    assert checked["ok"] is True
    (warning,) = checked["problems"]
    assert warning["severity"] == "warning" and "没有任何导航路径通往队列“english”" in warning["message"]

    assert (await client.post("/api/ivr/validate", json={"text": " "}, headers=headers)).status_code == 400
    assert (await client.post("/api/ivr/validate", content=b"{", headers=headers)).status_code == 400


def test_messages_not_in_the_table_stay_as_they_are():
    assert localise("something new; fix: do this", "zh") == "something new；修改：do this"
    assert localise("unknown node 'x'; fix: name one of the nodes: a, b", "en").startswith("unknown node")
    assert localise("Input should be a valid integer, unable to parse string as an integer (got 'eight')",
                    "zh") == "应为整数（当前为 'eight'）"


async def test_graph_is_the_render_commands_picture(api):
    service, client, headers, _ = api
    drawn = (await client.post("/api/ivr/graph", json={"text": service.current().text}, headers=headers)).json()
    assert drawn["svg"].startswith("<svg") and "welcome" in drawn["svg"] and "按1" in drawn["svg"]
    assert drawn["engine"] in ("graphviz dot", "built-in layout")
    refused = await client.post("/api/ivr/graph", json={"text": "nodes: ["}, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"] == "menu_not_loaded"


async def test_diff_against_the_serving_version_and_an_older_one(api):
    service, client, headers, _ = api
    text = service.current().text
    new = text.replace("topic: 咨询", "topic: 政策咨询")
    d = (await client.post("/api/ivr/diff", json={"text": new}, headers=headers)).json()
    assert d["base"] == 1 and d["changed"] is True and (d["added"], d["removed"]) == (1, 1)
    row = line_of(text, "topic: 咨询")
    assert {"op": "del", "old": row, "new": None, "text": "    topic: 咨询"} in d["lines"]
    assert {"op": "add", "old": None, "new": row, "text": "    topic: 政策咨询"} in d["lines"]
    assert d["lines"][0]["op"] == "hunk" and sum(r["op"] == "same" for r in d["lines"]) == 6
    assert (await client.post("/api/ivr/diff", json={"text": text}, headers=headers)).json()["changed"] is False
    assert (await client.post("/api/ivr/diff", json={"text": text, "base": 7}, headers=headers)).status_code == 404
    assert diff("a\nb\n", "a\nc\n")["lines"][1:] == [{"op": "same", "old": 1, "new": 1, "text": "a"},
                                                    {"op": "del", "old": 2, "new": None, "text": "b"},
                                                    {"op": "add", "old": None, "new": 2, "text": "c"}]


async def test_listen_speaks_the_prompt_as_an_8khz_wav(api):
    _, client, headers, _ = api
    r = await client.post("/api/ivr/listen", json={"text": "您好，欢迎致电12345", "language": "zh"}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert 0.5 < w.getnframes() / 8000 < 15  # seconds of speech
    english = await client.post("/api/ivr/listen", json={"text": "Welcome", "language": "en"}, headers=headers)
    assert english.status_code == 200 and english.content != r.content
    assert (await client.post("/api/ivr/listen", json={"text": "x", "language": "fr"},
                              headers=headers)).status_code == 400
    assert (await client.post("/api/ivr/listen", json={"text": "长" * 501}, headers=headers)).status_code == 413


async def test_editor_routes_are_for_admins_with_csrf(api):
    _, client, _, _ = api
    await login(client, "1001")
    for path in ("/api/ivr/validate", "/api/ivr/graph", "/api/ivr/diff", "/api/ivr/listen"):
        assert (await client.post(path, json={"text": "x"})).status_code == 403


async def test_save_and_rollback_are_audited(api):
    service, client, headers, audit = api
    text = service.current().text
    saved = await client.post("/api/ivr/versions", json={"text": text.replace("topic: 咨询", "topic: 政策咨询"),
                                                         "note": "话题"}, headers=headers)
    assert saved.status_code == 201
    assert (await client.post("/api/ivr/rollback/1", json={}, headers=headers)).status_code == 201
    entries = audit.tail()[::-1]  # oldest first
    assert [(e["section"], e["action"], e["key"], e["user"]) for e in entries] == [
        ("ivr", "save", "v2", "admin"), ("ivr", "rollback", "v3", "admin")]
    assert entries[0]["before"] == {"version": 1} and entries[0]["after"] == {"version": 2, "note": "话题"}
    assert entries[1]["after"]["note"] == "rollback to v1"
