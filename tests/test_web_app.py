"""Routes of the web app through httpx's ASGI transport: JSON, errors with slugs, limits, page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from callcenter.web import create_app
from callcenter.web.sample import FakeLiveStats, sample_snapshot
from callcenter.web.sse import SnapshotFeed, SnapshotUnavailable

PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def make_app(provider: Any = None, **kwargs: Any) -> Starlette:
    options: dict[str, Any] = {
        "snapshot": provider or FakeLiveStats(),
        "metrics_text": lambda: (b"# HELP cc_calls_total Calls.\ncc_calls_total 3\n", PROM_TYPE),
        "language": "zh",
        "centre_name": "12345 热线",
    }
    options.update(kwargs)
    return create_app(**options)


def client_for(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wallboard.test")


async def test_stats_returns_the_snapshot_as_json() -> None:
    fake = FakeLiveStats()
    async with client_for(make_app(fake)) as client:
        r = await client.get("/api/stats")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == sample_snapshot()


async def test_stats_shares_one_snapshot_per_push_interval() -> None:
    now = [100.0]
    provider = FakeLiveStats()
    feed = SnapshotFeed(provider, max_age=1.0, monotonic=lambda: now[0])
    first = feed.current()
    provider.current["centre"]["offered"] += 1
    assert feed.current() == first  # within the interval: the cached copy
    assert provider.calls == 1
    now[0] += 1.0
    assert json.loads(feed.current())["centre"]["offered"] == sample_snapshot()["centre"]["offered"] + 1
    assert provider.calls == 2


async def test_failing_provider_gives_503_with_slug() -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("store is gone")

    async with client_for(make_app(broken)) as client:
        r = await client.get("/api/stats")
    assert r.status_code == 503
    assert r.json() == {"error": "stats_unavailable", "detail": "live statistics are not available"}
    with pytest.raises(SnapshotUnavailable):
        SnapshotFeed(broken, max_age=1.0).current()


async def test_metrics_passes_body_and_content_type_through() -> None:
    async with client_for(make_app()) as client:
        r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == PROM_TYPE
    assert r.text.endswith("cc_calls_total 3\n")


async def test_healthz_ok_and_unhealthy() -> None:
    async with client_for(make_app()) as client:
        r = await client.get("/healthz")
    assert (r.status_code, r.json()["status"]) == (200, "ok")

    app = make_app(health=lambda: {"ok": False, "ami_connected": False})
    async with client_for(app) as client:
        r = await client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "unhealthy"
    assert r.json()["ami_connected"] is False


async def test_unknown_path_is_404_with_slug() -> None:
    async with client_for(make_app()) as client:
        r = await client.get("/no/such/page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"] == "not_found"
    assert "detail" in r.json()


async def test_wrong_method_is_405_with_slug() -> None:
    async with client_for(make_app()) as client:
        r = await client.post("/api/stats", content=b"{}")
    assert r.status_code == 405
    assert r.json()["error"] == "method_not_allowed"


async def test_oversized_body_is_413() -> None:
    async with client_for(make_app(max_body=1024)) as client:
        r = await client.post("/api/stats", content=b"x" * 1025)
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"


async def test_oversized_chunked_body_is_413_and_small_one_passes() -> None:
    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total // 256):
            yield b"y" * 256

    async with client_for(make_app(max_body=1024)) as client:
        big = await client.post("/api/stats", content=chunks(4096))
        small = await client.post("/api/stats", content=chunks(512))
    assert "content-length" not in big.request.headers
    assert big.status_code == 413
    assert big.json()["error"] == "payload_too_large"
    assert small.status_code == 405  # under the limit: the body reaches routing, which has no POST


async def test_page_is_self_contained_and_in_the_chosen_language() -> None:
    async with client_for(make_app(centre_name="<b>12345</b>")) as client:
        zh = await client.get("/")
    assert zh.status_code == 200
    assert zh.headers["content-type"].startswith("text/html")
    page = zh.text
    assert "今日接通率" in page and 'lang="zh-CN"' in page
    assert "&lt;b&gt;12345&lt;/b&gt;" in page and "<b>12345</b>" not in page
    # Nothing fetched from elsewhere: no external scripts, stylesheets or images.
    assert "<script src" not in page and "<link" not in page and "<img" not in page
    assert "/api/stats/stream" in page

    async with client_for(make_app(language="en")) as client:
        en = await client.get("/")
    assert "Connection rate today" in en.text and "今日接通率" not in en.text


async def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        make_app(language="fr")
    with pytest.raises(ValueError, match="push_interval"):
        make_app(push_interval=0)
