"""Screenshot of the wallboard in headless Chromium (Debian's, never a downloaded browser).

    python -m callcenter.web.screenshot OUT.png [--url URL] [--language zh|en]

Without --url it serves the wallboard itself on 127.0.0.1 (ephemeral port) with the sample snapshot.
Needs the `playwright` Python package (test extra) and /usr/bin/chromium (or CHROMIUM_PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WALL_SIZE = {"width": 1920, "height": 1080}


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A launched headless Chromium (Playwright `Browser`)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def wait_rendered(page: Any) -> None:
    """Until the first snapshot is on the page (the today rate no longer shows the placeholder)."""
    await page.wait_for_function("() => document.getElementById('rate-today').textContent !== '—'")


async def shoot(url: str, out: str, size: dict[str, int] = WALL_SIZE) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport=size)
        await page.goto(url)
        await wait_rendered(page)
        await page.screenshot(path=out)


async def shoot_sample(out: str, language: str, centre_name: str, size: dict[str, int] = WALL_SIZE) -> None:
    from callcenter.web.app import create_app
    from callcenter.web.sample import FakeLiveStats
    from callcenter.web.server import serve

    app = create_app(
        snapshot=FakeLiveStats(),
        metrics_text=lambda: (b"", "text/plain; version=0.0.4; charset=utf-8"),
        language="zh" if language == "zh" else "en",
        centre_name=centre_name,
    )
    started = asyncio.Event()
    server = asyncio.create_task(serve(app, "127.0.0.1", 0, started=started), name="screenshot-web")
    try:
        await started.wait()
        await shoot(f"http://127.0.0.1:{app.state.bound_port}/", out, size)
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m callcenter.web.screenshot", description="Wallboard PNG.")
    p.add_argument("out", help="PNG file to write")
    p.add_argument("--url", help="wallboard URL of a running daemon (default: serve the sample snapshot)")
    p.add_argument("--language", choices=["zh", "en"], default="zh", help="for the sample (default zh)")
    p.add_argument("--centre-name", default="12345 政务服务便民热线", help="for the sample")
    p.add_argument("--size", default="1920x1080", help="viewport WIDTHxHEIGHT (default 1920x1080)")
    args = p.parse_args(argv)
    width, _, height = args.size.partition("x")
    size = {"width": int(width), "height": int(height)}
    if args.url:
        asyncio.run(shoot(args.url, args.out, size))
    else:
        asyncio.run(shoot_sample(args.out, args.language, args.centre_name, size))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
