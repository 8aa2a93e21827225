"""What the issue-15 security tests share: the example config with one user per role, the real daemon
(with the PBX simulator, over TCP) and signed-in HTTP clients against its web port."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from callcenter.web.auth import hash_password
from config.loader import load_config
from config.models import Config, UserConfig
from tests.pair import EXAMPLE, Pair, running_pair

PASSWORD = "issue-15-pass"
#: username -> (role, agent id, department); agent 1001 keeps the example's own password "agent1001"
PEOPLE: dict[str, tuple[str, str | None, str | None]] = {
    "1002": ("agent", "1002", None),
    "lead": ("supervisor", None, None),
    "root": ("admin", None, None),
    "police": ("department", None, "xihu.gaj"),
}
CALLER = "13900001111"
CALLER_NAME = "王小明"


def config() -> Config:
    cfg = load_config(EXAMPLE, environ={})
    digest = SecretStr(hash_password(PASSWORD))
    extra = [UserConfig.model_validate({"username": name, "role": role, "agent_id": agent, "department": dept,
                                        "password_hash": digest}) for name, (role, agent, dept) in PEOPLE.items()]
    return cfg.model_copy(update={
        "users": [*cfg.users, *extra], "shifts": [], "teams": [],
        "centre": cfg.centre.model_copy(update={"auto_ready_agents": False}),
    })


@contextlib.asynccontextmanager
async def daemon(tmp_path: Path) -> AsyncIterator[Pair]:
    async with running_pair(tmp_path, cfg=config(), speed=5) as pair:
        yield pair


def base_url(pair: Pair) -> str:
    return f"http://127.0.0.1:{pair.daemon.web_port}"


@contextlib.asynccontextmanager
async def client(pair: Pair, username: str | None = None) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """An HTTP client over TCP, signed in as `username` (None: anonymous); with the CSRF header to send."""
    async with httpx.AsyncClient(base_url=base_url(pair), timeout=20) as http:
        headers: dict[str, str] = {}
        if username is not None:
            page = await http.get("/login")
            match = re.search(r'id="csrf" value="([^"]+)"', page.text)
            assert match is not None
            password = "agent1001" if username == "1001" else PASSWORD
            r = await http.post("/login", json={"username": username, "password": password,
                                                "csrf_token": match.group(1)})
            assert r.status_code == 200, r.text
            headers = {"X-CSRF-Token": r.json()["csrf_token"]}
        yield http, headers


def record_of_call(pair: Pair, call_id: str, caller: str = CALLER, name: str = CALLER_NAME) -> None:
    """A finished call in the store, as the daemon writes it."""
    import dataclasses

    from records.testing import make_record

    rec = make_record(call_id, entered_at=pair.clock.now(), caller=caller)
    pair.daemon.store.write_batch([dataclasses.replace(rec, caller_name=name)])


async def ticket(http: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"category": "help", "content": "路灯不亮", "county": "xihu", **fields}
    r = await http.post("/api/tickets", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())
