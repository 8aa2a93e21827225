"""HTTP errors of the web edge: a status and a stable slug, rendered as JSON.

Clients (the wallboard, scripts, monitoring) branch on `error`, never on the English `detail`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

SLUGS: dict[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    500: "internal_error",
    503: "unavailable",
}


class WebError(HTTPException):
    """An HTTP error with its own slug (e.g. 503 `stats_unavailable`)."""

    def __init__(self, status_code: int, slug: str, detail: str) -> None:
        super().__init__(status_code=status_code, detail=detail)
        self.slug = slug


def error_body(status_code: int, slug: str | None, detail: str) -> dict[str, str]:
    return {"error": slug or SLUGS.get(status_code, f"http_{status_code}"), "detail": detail}


def error_response(
    status_code: int, slug: str | None, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse(error_body(status_code, slug, detail), status_code=status_code, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    slug = exc.slug if isinstance(exc, WebError) else None
    return error_response(exc.status_code, slug, str(exc.detail), headers=exc.headers)


async def internal_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this response, so the server logs the traceback; the client gets no internals.
    return error_response(500, "internal_error", "internal server error")


_FORBIDDEN = {
    "zh": ("无权访问", "您当前登录的账号无权打开此页面。", "前往我的工作台", "退出并换个账号登录"),
    "en": ("Not allowed", "The account you are signed in with may not open this page.", "Go to my workspace",
           "Sign in as someone else"),
}


def forbidden_page(language: str, home: str, nonce: str = "") -> Response:
    """403 for a browser page opened by a role that may not use it: a page in the centre's language with
    a link to the user's own workspace, never raw JSON."""
    title, text, go, other = _FORBIDDEN["en" if language == "en" else "zh"]
    lang = "en" if language == "en" else "zh-CN"
    body = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/desk/static/desk.css"></head>
<body class="login-page"><main class="card login" data-error="forbidden">
<h1>{title}</h1><p>{text}</p>
<p><a class="button" id="home" href="{html.escape(home)}">{go}</a></p>
<p><button type="button" id="switch">{other}</button></p>
</main><script nonce="{html.escape(nonce)}">
document.getElementById("switch").onclick = () => fetch("/api/me").then((r) => r.json())
  .then((m) => fetch("/logout", {{method: "POST", headers: {{"X-CSRF-Token": m.csrf_token}}}}))
  .finally(() => {{ location.href = "/login"; }});
</script></body></html>"""
    return HTMLResponse(body, status_code=403, headers={"Cache-Control": "no-store"})
