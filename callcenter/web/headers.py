"""Security headers on every response: ONE middleware (docs/security.md, "Security headers").

HTML pages get a Content-Security-Policy that admits only this origin's scripts and styles plus the inline
``<script>`` / ``<style>`` elements carrying the response's nonce (a fresh one per response: a page puts
:func:`nonce` into the ``nonce`` attribute of its own inline elements, so markup injected through data never
runs). Every other response (JSON, CSV, XLSX, SSE, static files) gets a CSP that allows nothing, so a file
opened directly in the browser cannot run anything either. All responses: X-Frame-Options DENY,
X-Content-Type-Options nosniff, Referrer-Policy no-referrer.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NONCE_KEY = "csp_nonce"

COMMON = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def page_csp(nonce_value: str) -> str:
    # img-src data: for inline SVG icons; connect-src 'self' for fetch and SSE; media-src blob: for the IVR
    # editor's "listen" (the page fetches the WAV and plays it from a blob URL it made itself).
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce_value}'; "
            f"style-src 'self' 'nonce-{nonce_value}'; img-src 'self' data:; media-src 'self' blob:; "
            "connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def nonce(request: Request) -> str:
    """This response's CSP nonce, for the `nonce` attribute of a page's inline script and style."""
    value = request.scope.get(NONCE_KEY)
    return value if isinstance(value, str) else ""


class SecurityHeaders:
    """Pure ASGI middleware (it leaves streaming bodies alone): adds the headers at response start,
    keeping any a route set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = secrets.token_urlsafe(18)
        scope[NONCE_KEY] = value

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                csp = page_csp(value) if content_type.startswith(b"text/html") else API_CSP
                extra = [*COMMON, (b"content-security-policy", csp.encode())]
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
