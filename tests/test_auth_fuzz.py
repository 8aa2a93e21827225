"""The OpenAPI description fuzzed with schemathesis: no server error for any input, signed in as an agent
(desk routes) and as an admin (admin routes), and anonymous (everything refused, nothing crashes)."""

from __future__ import annotations

import json
import tempfile
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from itsdangerous import TimestampSigner
from schemathesis.checks import not_a_server_error

from tests.test_auth_routes import SECRET, USERNAMES, client, make_app

EXAMPLES = 15  # per operation: enough to reach every validation branch, a few seconds in all
_STATE = tempfile.TemporaryDirectory(prefix="cc-fuzz-")  # the admin pages' audit and edits files
APP = make_app(Path(_STATE.name))
# The SSE stream never ends by design; the browser test reads it.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/api/desk/stream")


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    _STATE.cleanup()


def session_of(role: str) -> tuple[dict[str, str], dict[str, str]]:
    """The signed session cookie Starlette's SessionMiddleware would set for a signed-in user, and the header
    with its CSRF token (made here, not by a login round trip: the sync test must not start an event loop)."""
    if role == "anonymous":
        return {}, {}
    csrf = f"csrf-{role}-token"
    user = APP.state.users.get(USERNAMES[role])
    sid = APP.state.sessions.open(user.username, user.password_hash)  # the server-side half of a session
    data = b64encode(json.dumps({"user": USERNAMES[role], "sid": sid, "csrf": csrf}).encode())
    cookie = TimestampSigner(SECRET).sign(data).decode()
    return {"session": cookie}, {"X-CSRF-Token": csrf}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_for_any_input(case: Any) -> None:
    role = "admin" if case.path.startswith("/api/admin") or case.path == "/api/agents" else "agent"
    for who in (role, "anonymous"):
        cookies, headers = session_of(who)
        response = case.call_and_validate(cookies=cookies, headers=headers, checks=[not_a_server_error])
        assert response.status_code < 500


async def test_the_crafted_session_is_accepted() -> None:
    """The fuzzing above really runs signed in (else it would only ever see 401)."""
    async with client(APP) as http:
        http.cookies.update(session_of("admin")[0])
        assert (await http.get("/api/admin/agents")).status_code == 200
        http.cookies.clear()
        assert (await http.get("/api/admin/agents")).status_code == 401
