"""The supervisor's listen / whisper / barge on the real Asterisk 22: the console's AMI Originate rings the
supervisor's own phone, and once it answers Asterisk runs ChanSpy on the agent's channel (the PBX's own
ChanSpyStart event names both channels)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import httpx

from asterisk.ami.codec import Message
from callcenter.web.auth import hash_password
from tests.integration.harness import DaemonProcess, Phones, agent_of, lab_config
from tests.integration.lab import Lab

PASSWORD = "lab-supervisor-pass"
SUPERVISOR_PHONE = "Local/1045@lab-agents"  # a lab phone that answers


def with_supervisor(raw: dict[str, Any]) -> None:
    raw["users"] = [{"username": "lead", "role": "supervisor", "endpoint": SUPERVISOR_PHONE,
                     "password_hash": hash_password(PASSWORD)}]


async def test_listen_and_barge_run_chanspy_on_the_agents_channel(lab: Lab, phones: Phones, tmp_path: Path) -> None:
    spies: list[Message] = []
    watch = phones.ami._on_event  # the harness's own handler (the callers' truth) keeps running

    def on_event(msg: Message, received: float) -> None:
        if msg.name == "ChanSpyStart":
            spies.append(msg)
        watch(msg, received)

    phones.ami._on_event = on_event

    def started(n: int) -> bool:
        return len(spies) >= n

    daemon = DaemonProcess(lab_config(lab, tmp_path, edit=with_supervisor), tmp_path)
    await daemon.start()
    try:
        truth = await phones.call(patience=60, talk=40)
        await phones.wait(lambda: truth.answered_by is not None, 45, "an agent answers the caller")
        agent = agent_of(truth.answered_by)
        assert agent is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.web_port}") as http:
            page = await http.get("/login")
            token = re.search(r'id="csrf" value="([^"]+)"', page.text)
            assert token is not None
            r = await http.post("/login", json={"username": "lead", "password": PASSWORD,
                                                "csrf_token": token.group(1)})
            assert r.status_code == 200, r.text
            headers = {"X-CSRF-Token": r.json()["csrf_token"]}
            board = (await http.get("/api/supervisor/board")).json()
            row = next(a for a in board["agents"] if a["agent_id"] == agent)
            assert row["state"] == "on_call" and row["can_spy"] is True
            for n, mode in enumerate(("listen", "barge"), start=1):
                r = await http.post(f"/api/supervisor/agents/{agent}/spy", json={"mode": mode}, headers=headers)
                assert r.status_code == 200, r.text
                await phones.wait(functools.partial(started, n), 20, f"ChanSpy starts ({mode})")
    finally:
        await daemon.stop()
    phone = f"Local/{truth.answered_by}@lab-agents-"
    for msg in spies:
        assert (msg.get("SpyerChannel") or "").startswith(SUPERVISOR_PHONE + "-"), msg
        assert (msg.get("SpyeeChannel") or "").startswith(phone), msg  # exactly the agent's phone channel
    assert len(spies) == 2
