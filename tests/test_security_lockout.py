"""Issue 15, finding 5: failed sign-ins cannot lock anyone out, and X-Forwarded-For counts only from a trusted proxy.

The real web app served by uvicorn (callcenter/web/server.py) on 127.0.0.1; clients connect from other
loopback addresses (127.0.0.2, 127.0.0.3, ...) so that each is a different client address to the server.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from starlette.routing import BaseRoute

from callcenter.web import create_app, serve
from callcenter.web.auth import LoginLimiter, Role, User, UserDirectory, hash_password
from callcenter.web.desktop import desktop_routes
from callcenter.web.sse import StreamRegistry
from config.loader import ConfigError, load_config
from tests.pair import EXAMPLE
from tests.test_auth_routes import FakeDesk

PASSWORD = "the-right-password"
USERS = UserDirectory([User("supervisor", Role.SUPERVISOR, password_hash=hash_password(PASSWORD)),
                       User("admin", Role.ADMIN, password_hash=hash_password("admin-password"))])


@asynccontextmanager
async def web(trusted_proxies: Sequence[str] = ()) -> AsyncIterator[str]:
    # The limiter's clock stands still: on a loaded machine a wait must not run out between two tries.
    limiter = LoginLimiter(clock=lambda: 1000.0)

    def routes(streams: StreamRegistry) -> list[BaseRoute]:
        return desktop_routes(FakeDesk(), USERS, language="en", centre_name="test", streams=streams, limiter=limiter)

    app = create_app(snapshot=dict, metrics_text=lambda: (b"", "text/plain"), language="en", centre_name="test",
                     extra_routes=routes, users=USERS, session_secret="x" * 40, trusted_proxies=trusted_proxies)
    started = asyncio.Event()
    task = asyncio.create_task(serve(app, "127.0.0.1", 0, started=started))
    try:
        async with asyncio.timeout(10):
            await started.wait()
        yield f"http://127.0.0.1:{app.state.bound_port}"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def try_login(base: str, source: str, username: str, password: str,
                    forwarded_for: str | None = None) -> httpx.Response:
    """One sign-in from a fresh browser at loopback address `source`."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with httpx.AsyncClient(base_url=base, transport=transport, headers=headers, timeout=30) as http:
        page = await http.get("/login")
        token = re.search(r'id="csrf" value="([^"]+)"', page.text)
        assert token is not None
        return await http.post("/login", json={"username": username, "password": password,
                                               "csrf_token": token.group(1)})


async def test_a_flood_from_one_address_does_not_lock_the_user_out_elsewhere() -> None:
    async with web() as base:
        answers = [(await try_login(base, "127.0.0.2", "supervisor", f"guess-{i}")).status_code for i in range(12)]
        # After the 5th failure the attacker's address waits (1, 2, 4 ... s; the limiter's clock stands still here).
        assert answers == [401] * 5 + [429] * 7
        refused = await try_login(base, "127.0.0.2", "supervisor", PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        # The supervisor at their own desk signs in with a short delay at most.
        began = time.monotonic()
        r = await try_login(base, "127.0.0.3", "supervisor", PASSWORD)
        assert r.status_code == 200, r.text
        assert time.monotonic() - began < 6


async def test_wrong_passwords_from_many_addresses_slow_the_name_but_never_block_it() -> None:
    async with web() as base:
        sources = [f"127.0.0.{n}" for n in range(10, 22)]
        answers = await asyncio.gather(*(try_login(base, s, "supervisor", "wrong") for s in sources))
        assert {a.status_code for a in answers} == {401}
        began = time.monotonic()
        r = await try_login(base, "127.0.0.50", "supervisor", PASSWORD)
        took = time.monotonic() - began
        assert r.status_code == 200, r.text
        assert 2 <= took < 15  # slowed (12 failures on the name: 4 s), never refused


async def test_a_spray_over_usernames_from_one_address_is_throttled_whatever_x_forwarded_for_says() -> None:
    """No trusted proxy (the default): rotating X-Forwarded-For does not make new addresses, not even from
    127.0.0.1 (which uvicorn's own default trusted)."""
    async with web() as base:
        codes = []
        for i in range(24):
            r = await try_login(base, "127.0.0.1", f"user{i}", "wrong", forwarded_for=f"198.51.100.{i}")
            codes.append(r.status_code)
        assert codes == [401] * 20 + [429] * 4
        # Another address is not held back by that address's count.
        assert (await try_login(base, "127.0.0.5", "admin", "admin-password")).status_code == 200


async def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only() -> None:
    async with web(trusted_proxies=["127.0.0.6"]) as base:
        # Behind the trusted proxy, each client counts alone: one client's failures do not hold back another.
        for _ in range(6):
            await try_login(base, "127.0.0.6", "supervisor", "wrong", forwarded_for="203.0.113.9")
        assert (await try_login(base, "127.0.0.6", "supervisor", PASSWORD,
                                forwarded_for="203.0.113.9")).status_code == 429
        assert (await try_login(base, "127.0.0.6", "supervisor", PASSWORD,
                                forwarded_for="203.0.113.10")).status_code == 200
        # From an address that is not a trusted proxy the header is ignored: rotating it changes nothing.
        for i in range(6):
            await try_login(base, "127.0.0.7", "admin", "wrong", forwarded_for=f"192.0.2.{i}")
        assert (await try_login(base, "127.0.0.7", "admin", "admin-password",
                                forwarded_for="192.0.2.99")).status_code == 429


def test_backoff_doubles_and_is_forgotten() -> None:
    now = [0.0]
    limiter = LoginLimiter(clock=lambda: now[0])
    for _ in range(5):
        limiter.failed("supervisor", "10.0.0.1")
    assert limiter.retry_after("supervisor", "10.0.0.1") == 1.0
    assert limiter.retry_after("supervisor", "10.0.0.2") == 0.0  # another address: no wait
    assert limiter.slowdown("supervisor") == 0.5
    limiter.failed("supervisor", "10.0.0.1")
    limiter.failed("supervisor", "10.0.0.1")
    assert limiter.retry_after("supervisor", "10.0.0.1") == 4.0
    assert limiter.slowdown("supervisor") == 2.0
    for _ in range(40):
        limiter.failed("supervisor", "10.0.0.1")
    assert limiter.retry_after("supervisor", "10.0.0.1") == 300.0  # capped
    assert limiter.slowdown("supervisor") == 4.0
    now[0] = 1000.0  # forgotten after 15 minutes without a failure
    assert limiter.retry_after("supervisor", "10.0.0.1") == 0.0 and limiter.slowdown("supervisor") == 0.0


def test_trusted_proxies_is_a_list_of_addresses_or_networks(tmp_path: Path) -> None:
    assert load_config(EXAMPLE, environ={}).web.trusted_proxies == []  # the default: nobody's header believed
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "# trusted_proxies:" in text
    good = tmp_path / "good.yaml"
    good.write_text(text.replace("# trusted_proxies:", "trusted_proxies:"), encoding="utf-8")
    assert load_config(good, environ={}).web.trusted_proxies == ["10.0.0.5", "10.1.0.0/16"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("# trusted_proxies: [10.0.0.5,", "trusted_proxies: [proxy.example,"),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_config(bad, environ={})
