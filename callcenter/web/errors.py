"""HTTP errors of the web edge: a status and a stable slug, rendered as JSON.

Clients (the wallboard, scripts, monitoring) branch on `error`, never on the English `detail`.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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
