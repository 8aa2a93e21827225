"""FastAGI abuse over real TCP against the running daemon (the PBX simulator on its AMI side): a peer that sends a
valid start and goes silent is closed after agi.idle_timeout_seconds, connections beyond agi.max_connections are
refused at once, and the counters (sessions open, refused, timed out, protocol errors) are in /metrics."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import httpx
import pytest

from config.loader import load_config
from config.models import Config
from tests.pair import EXAMPLE, Pair, running_pair

IDLE = 0.5  # s: agi.idle_timeout_seconds in these tests
CAP = 2  # agi.max_connections
GUARD = 10.0  # s, against a hang only

ENV = (b"agi_network: yes\nagi_network_script: ivr\nagi_request: agi://127.0.0.1/ivr\n"
       b"agi_channel: PJSIP/trunk-00000042\nagi_uniqueid: 1700000000.42\nagi_callerid: 13800138000\n"
       b"agi_language: zh\n\n")


def bounded_config() -> Config:
    cfg = load_config(EXAMPLE, environ={})
    agi = cfg.agi.model_copy(update={"idle_timeout_seconds": IDLE, "max_connections": CAP})
    return cfg.model_copy(update={"agi": agi})


async def connect(pair: Pair) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", pair.daemon.agi_port)


async def until(pred: object) -> None:
    async with asyncio.timeout(GUARD):
        while not pred():  # type: ignore[operator]  # noqa: ASYNC110  (the daemon's counters, over TCP)
            await asyncio.sleep(0.01)


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} not in /metrics"
    return float(match.group(1))


async def closed_by_daemon(reader: asyncio.StreamReader) -> float:
    """Seconds until the daemon closes the connection (what it sends before is read and dropped)."""
    start = time.monotonic()
    async with asyncio.timeout(GUARD):
        while await reader.read(4096):
            pass
    return time.monotonic() - start


async def test_silent_session_closed_cap_refuses_and_counters_in_metrics(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with running_pair(tmp_path, cfg=bounded_config()) as pair:
        stats = pair.daemon.agi.stats
        # 1. A valid start, the daemon's first command (ANSWER), then silence: closed after the idle timeout.
        reader, writer = await connect(pair)
        writer.write(ENV)
        await writer.drain()
        async with asyncio.timeout(GUARD):
            assert (await reader.readline()).startswith(b"ANSWER")
        waited = await closed_by_daemon(reader)
        assert IDLE * 0.8 <= waited < IDLE + 3.0
        writer.close()
        assert stats.idle_timeouts == 1 and stats.errors == 0
        assert "no reply to ANSWER" in caplog.text

        # 2. The cap: two connections open (no environment yet), the third is refused at once.
        held = [await connect(pair) for _ in range(CAP)]
        await until(lambda: stats.active == CAP)
        extra_reader, extra_writer = await connect(pair)
        assert await closed_by_daemon(extra_reader) < 1.0
        extra_writer.close()
        assert stats.refused == 1 and stats.active == CAP
        # One goes: a new caller is served again (the daemon answers it).
        held[0][1].close()
        await until(lambda: stats.active == CAP - 1)
        reader, writer = await connect(pair)
        writer.write(ENV)
        await writer.drain()
        async with asyncio.timeout(GUARD):
            assert (await reader.readline()).startswith(b"ANSWER")
        writer.close()
        # 3. Garbage instead of an environment: a protocol error.
        held[1][1].write(b"this is not AGI\n\n")
        await held[1][1].drain()
        await closed_by_daemon(held[1][0])
        held[1][1].close()
        # (held[0], closed before its environment ended, was one too)
        await until(lambda: stats.protocol_errors == 2 and stats.active == 0)

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{pair.daemon.web_port}") as http:
            text = (await http.get("/metrics")).text
    assert metric(text, "callcenter_agi_sessions_open") == 0
    assert metric(text, "callcenter_agi_refused_total") == 1
    assert metric(text, "callcenter_agi_idle_timeouts_total") >= 1  # the second silent caller may be counted too
    assert metric(text, "callcenter_agi_protocol_errors_total") == 2
    assert metric(text, "callcenter_agi_connections_total") >= 4
