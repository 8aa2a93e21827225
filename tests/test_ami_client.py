"""AmiClient over real TCP against a tiny scripted AMI server replaying recorded traffic.

The server (``ReplayAmi``) reads our actions with the shared AmiReader and answers each one with
what the real Asterisk sent after the same action in a recording (ActionID rewritten to ours).
Subclasses bend it: no Pong, a malformed frame, a Chinese name split across two writes...
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from asterisk.ami.client import (
    AmiActionError,
    AmiAuthError,
    AmiClient,
    AmiConnectionError,
    AmiNotConnected,
    AmiTimeout,
)
from asterisk.ami.codec import AmiReader, Message
from asterisk.ami.tracker import CallFact, CallTracker
from asterisk.ami.transcripts import TRANSCRIPT_DIR, Block, Transcript, load_transcript

SECRET = "s3cr3t-do-not-log-Zq9"
A1 = load_transcript(TRANSCRIPT_DIR / "a1-login-ping-unknown-action.txt")
A2 = load_transcript(TRANSCRIPT_DIR / "a2-login-failure.txt")
B1 = load_transcript(TRANSCRIPT_DIR / "b1-incoming-fastagi-hold-agent1001.txt")
E1 = load_transcript(TRANSCRIPT_DIR / "e1-queue-answered-and-abandon.txt")


# ---------------------------------------------------------------- scripted server


@dataclass
class Step:
    action: str
    action_id: str
    replies: list[Block]
    closes: bool  # the recording shows the server hanging up after these replies


def script(t: Transcript, connection: int = 0) -> dict[str, list[Step]]:
    """Each recorded action (with an ActionID) and everything received until the next action."""
    blocks = [b for b in t.blocks if b.connection == connection and not b.is_banner]
    steps: dict[str, list[Step]] = {}
    sent_at = [i for i, b in enumerate(blocks) if b.direction == "sent"]
    for n, i in enumerate(sent_at):
        msg = blocks[i].message()
        if "ActionID" not in msg:
            continue
        end = sent_at[n + 1] if n + 1 < len(sent_at) else len(blocks)
        step = Step(msg["Action"], msg["ActionID"], blocks[i + 1 : end], closes=end == len(blocks))
        steps.setdefault(step.action.lower(), []).append(step)
    return steps


PONG = script(A1)["ping"][0]


class ReplayAmi:
    def __init__(self, t: Transcript = A1, connection: int = 0, *, answer_pings: bool = True) -> None:
        self.transcript = t
        self.steps = script(t, connection)
        self.answer_pings = answer_pings
        self.actions: list[Message] = []
        self.connections = 0
        self.new_connection = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> ReplayAmi:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        await self.server.wait_closed()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.connections += 1
        self.new_connection.set()
        used: dict[str, int] = {}
        frames = AmiReader(expect_banner=False)
        try:
            writer.write(b"Asterisk Call Manager/11.0.0\r\n")
            while data := await reader.read(65536):
                for msg in frames.feed(data):
                    self.actions.append(msg)
                    if await self.respond(msg, writer, used):
                        return
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def respond(self, msg: Message, writer: asyncio.StreamWriter, used: dict[str, int]) -> bool:
        """Answer one action; True to hang up."""
        name = msg["Action"].lower()
        steps = self.steps.get(name)
        if name == "ping":
            if not self.answer_pings:
                return False
            steps = steps or [PONG]
        if not steps:
            return False  # an action the recording never answered: say nothing
        step = steps[min(used.get(name, 0), len(steps) - 1)]
        used[name] = used.get(name, 0) + 1
        old = f"ActionID: {step.action_id}\r\n".encode()
        new = f"ActionID: {msg['ActionID']}\r\n".encode()
        for block in step.replies:
            if block.direction == "recv":
                writer.write(block.wire.replace(old, new))
        await writer.drain()
        return step.closes


class Recorder:
    """on_event target: keeps (message, receive time) in order."""

    def __init__(self) -> None:
        self.events: list[tuple[Message, float]] = []
        self.changed = asyncio.Event()

    def __call__(self, msg: Message, at: float) -> None:
        self.events.append((msg, at))
        self.changed.set()

    def names(self) -> list[str]:
        return [m.name for m, _ in self.events]


async def until(cond: Callable[[], bool], limit: float = 5.0) -> None:
    """Wait for a condition; the limit only guards against a hang."""
    # Polling, because the conditions span client, server and stats; no event covers them all.
    async with asyncio.timeout(limit):
        while True:
            if cond():
                return
            await asyncio.sleep(0.002)


def client(port: int, on_event: Callable[[Message, float], object], **kw: object) -> AmiClient:
    opts: dict[str, object] = {
        "action_timeout": 2.0,
        "ping_interval": 30.0,
        "ping_timeout": 2.0,
        "reconnect_min": 0.01,
        "reconnect_max": 0.05,
        "connect_timeout": 2.0,
    }
    opts.update(kw)
    return AmiClient("127.0.0.1", port, "cc", SECRET, on_event=on_event, **opts)  # type: ignore[arg-type]


def assert_no_secret(caplog: pytest.LogCaptureFixture, ami: AmiClient) -> None:
    assert SECRET not in caplog.text
    assert SECRET not in repr(ami)
    assert SECRET not in repr(ami.stats)
    assert SECRET not in str(ami.last_error) and SECRET not in repr(ami.last_error)
    assert SECRET not in repr(ami.__dict__)


# ---------------------------------------------------------------- tests


async def test_a1_login_ping_unknown_action(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ticks = itertools.count(100)
    rec = Recorder()
    async with ReplayAmi(A1) as server, client(server.port, rec, clock=lambda: float(next(ticks))) as ami:
        await ami.wait_connected()
        assert ami.stats.connected and ami.banner == "Asterisk Call Manager/11.0.0"
        pong = await ami.action("Ping")
        assert pong["Ping"] == "Pong"
        with pytest.raises(AmiActionError) as err:
            await ami.action("FooBarBaz")
        assert err.value.message.startswith("Invalid/unknown command: FooBarBaz")
        response, items = await ami.list_action("CoreShowChannels")
        assert response["EventList"] == "start" and items == []
        await until(lambda: "SuccessfulAuth" in rec.names())
        login = server.actions[0]
        assert [k for k, _ in login.headers] == ["Action", "Username", "Secret", "Events", "ActionID"]
        assert login["Secret"] == SECRET and login["Events"] == "on"
        ids = [m["ActionID"] for m in server.actions]
        assert len(set(ids)) == len(ids)
    assert rec.names() == ["FullyBooted", "SuccessfulAuth"]
    times = [t for _, t in rec.events]
    assert times == sorted(times) and times[0] >= 100  # the injected clock is used
    assert ami.stats.events == 3  # + CoreShowChannelsComplete, kept for list_action
    assert ami.stats.reconnects == 0 and ami.stats.callback_errors == 0
    assert_no_secret(caplog, ami)


async def test_list_action_collects_items_e1_queuestatus() -> None:
    rec = Recorder()
    async with ReplayAmi(E1) as server, client(server.port, rec) as ami:
        await ami.wait_connected()
        response, items = await ami.list_action("QueueStatus")
    assert response["Message"] == "Queue status will follow"
    assert [m.name for m in items] == ["QueueParams", "QueueMember", "QueueMember"]
    assert items[1]["Name"] == "Agent 1001"
    assert "QueueMember" not in rec.names()  # list items are not broadcast


async def test_b1_end_to_end_originate_and_tracker() -> None:
    """Replay a whole recorded call: async Originate, Setvar, Redirect; facts come out in order."""
    tracker = CallTracker()
    facts: list[CallFact] = []
    originate_events: list[Message] = []
    t0 = datetime(2026, 11, 28, tzinfo=UTC)

    async def on_event(msg: Message, at: float) -> None:
        if msg.name == "OriginateResponse":
            originate_events.append(msg)
        facts.extend(f for f in tracker.feed(msg, t0 + timedelta(seconds=at)) if isinstance(f, CallFact))

    async with ReplayAmi(B1) as server, client(server.port, on_event) as ami:
        await ami.wait_connected()
        response = await ami.action(
            "Originate",
            [
                ("Channel", "Local/s@cc-caller"),
                ("Context", "cc-incoming"),
                ("Exten", "s"),
                ("Priority", 1),
                ("Async", "true"),
                ("Variable", "CALLER_DTMF=12#"),
                ("Variable", "CALLER_PATIENCE=60"),
            ],
        )
        assert response.name == "Success"
        await until(lambda: any(type(f).__name__ == "CallerHeld" for f in facts))
        caller = facts[0].uniqueid
        channel = tracker.channels[caller].name
        await ami.action("Setvar", {"Channel": channel, "Variable": "__AGENT_TALK", "Value": 3})
        redirect = {"Channel": channel, "Context": "cc-route", "Exten": 1001, "Priority": 1}
        await ami.action("Redirect", redirect)
        await until(lambda: any(type(f).__name__ == "CallHungUp" for f in facts))
        _, channels = await ami.list_action("CoreShowChannels")
        assert channels == []
    sent = server.actions[1]
    assert sent.getall("Variable") == ["CALLER_DTMF=12#", "CALLER_PATIENCE=60"]
    assert [o["ActionID"] for o in originate_events] == [sent["ActionID"]]
    assert [type(f).__name__ for f in facts] == [
        "CallStarted",
        "CallerHeld",
        "AgentDialed",
        "AgentAnswered",
        "RouteResult",
        "CallHungUp",
    ]
    assert tracker.channels == {}


async def test_a2_wrong_secret_is_logged_without_secret_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with ReplayAmi(A2) as server, client(server.port, Recorder()) as ami:
        await until(lambda: ami.stats.auth_failures >= 2)
        with pytest.raises(AmiNotConnected):
            await ami.action("Ping")
    assert server.connections >= 2  # it kept trying, with backoff
    assert isinstance(ami.last_error, AmiAuthError)
    assert "Authentication failed" in str(ami.last_error)
    assert "'cc'" in str(ami.last_error)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "Authentication failed" in errors[0].getMessage()
    assert not ami.stats.connected
    assert_no_secret(caplog, ami)


async def test_dead_peer_detected_by_ping_watchdog(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    async with (
        ReplayAmi(A1, answer_pings=False) as server,
        client(server.port, rec, ping_interval=0.05, ping_timeout=0.1, action_timeout=30.0) as ami,
    ):
        await ami.wait_connected()
        # An action the server never answers: it must fail when the connection is declared dead,
        # long before its own 30 s timeout.
        with pytest.raises(AmiNotConnected):
            await ami.action("Redirect", {"Channel": "Local/x", "Context": "cc-route", "Exten": 1001})
        await until(lambda: server.connections >= 2 and ami.stats.connected)
    assert ami.stats.ping_timeouts >= 1
    assert ami.stats.reconnects >= 1
    assert ami.stats.action_timeouts == 0
    assert "declared dead" in caplog.text


async def test_unanswered_action_times_out_and_connection_stays() -> None:
    async with ReplayAmi(A1) as server, client(server.port, Recorder(), action_timeout=0.1) as ami:
        await ami.wait_connected()
        with pytest.raises(AmiTimeout) as err:
            await ami.action("Redirect", {"Channel": "Local/x"})
        assert err.value.action == "Redirect"
        assert ami.stats.action_timeouts == 1
        assert (await ami.action("Ping"))["Ping"] == "Pong"
        assert ami.stats.connected and server.connections == 1


class MalformedAmi(ReplayAmi):
    async def respond(self, msg: Message, writer: asyncio.StreamWriter, used: dict[str, int]) -> bool:
        if msg["Action"] == "Ping":
            writer.write(b"Event: Before\r\n\r\nthis line has no colon\r\nX: 1\r\n\r\nEvent: After\r\n\r\n")
        return await super().respond(msg, writer, used)


async def test_malformed_frame_counted_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    async with MalformedAmi(A1) as server, client(server.port, rec) as ami:
        await ami.wait_connected()
        await ami.action("Ping")
        await until(lambda: "After" in rec.names())
    assert rec.names()[-2:] == ["Before", "After"]
    assert ami.stats.bad_frames == 1
    assert ami.stats.reconnects == 0
    assert "malformed frame" in caplog.text


class ChineseSplitAmi(ReplayAmi):
    EVENT = (
        "Event: Newchannel\r\nChannel: PJSIP/trunk-00000001\r\nCallerIDNum: 13800138000\r\n"
        "CallerIDName: 张三 市民\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\nContext: cc-incoming\r\n\r\n"
    ).encode()

    async def respond(self, msg: Message, writer: asyncio.StreamWriter, used: dict[str, int]) -> bool:
        if msg["Action"] == "Ping":
            cut = self.EVENT.index("张".encode()) + 1  # inside the first character
            writer.write(self.EVENT[:cut])
            await writer.drain()
            await asyncio.sleep(0.02)  # let the first half arrive as a read of its own
            writer.write(self.EVENT[cut:])
            await writer.drain()
        return await super().respond(msg, writer, used)


async def test_chinese_name_split_across_writes() -> None:
    rec = Recorder()
    async with ChineseSplitAmi(A1) as server, client(server.port, rec) as ami:
        await ami.wait_connected()
        await ami.action("Ping")
        await until(lambda: "Newchannel" in rec.names())
    event = next(m for m, _ in rec.events if m.name == "Newchannel")
    assert event["CallerIDName"] == "张三 市民"
    assert ami.stats.bad_frames == 0


async def test_failing_callback_is_counted_and_connection_survives(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    async def on_event(msg: Message, at: float) -> None:
        seen.append(msg.name)
        if msg.name == "FullyBooted":
            raise RuntimeError("consumer bug")

    async with ReplayAmi(A1) as server, client(server.port, on_event) as ami:
        await ami.wait_connected()
        await until(lambda: "SuccessfulAuth" in seen)
        assert (await ami.action("Ping"))["Ping"] == "Pong"
    assert seen[:2] == ["FullyBooted", "SuccessfulAuth"]
    assert ami.stats.callback_errors == 1
    assert ami.stats.reconnects == 0 and server.connections == 1
    assert "consumer bug" in caplog.text


async def test_server_hangs_up_then_reconnect() -> None:
    rec = Recorder()
    async with ReplayAmi(A1) as server, client(server.port, rec) as ami:
        await ami.wait_connected()
        await ami.action("Logoff")  # the recording: Goodbye, then the server closes
        await until(lambda: server.connections >= 2 and ami.stats.connected)
        assert (await ami.action("Ping"))["Ping"] == "Pong"
    assert ami.stats.reconnects == 1
    assert rec.names().count("FullyBooted") == 2


class NotAmi(ReplayAmi):
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        await writer.drain()
        await reader.read(100)
        writer.close()


async def test_wrong_banner_is_refused() -> None:
    async with NotAmi(A1) as server, client(server.port, Recorder()) as ami:
        await until(lambda: server.connections >= 2)
    assert isinstance(ami.last_error, AmiConnectionError)
    assert "not an AMI server" in str(ami.last_error)


class HugeFrameAmi(ReplayAmi):
    async def respond(self, msg: Message, writer: asyncio.StreamWriter, used: dict[str, int]) -> bool:
        closes = await super().respond(msg, writer, used)
        if msg["Action"] == "Login" and self.connections == 1:
            writer.write(b"Event: Huge\r\nX: " + b"y" * 5000 + b"\r\n\r\n")
        return closes


async def test_oversized_frame_is_dropped_and_the_connection_stays() -> None:
    async with HugeFrameAmi(A1) as server, client(server.port, Recorder(), max_message=2048) as ami:
        await until(lambda: ami.stats.oversized_frames == 1)
        assert (await ami.action("Ping"))["Ping"] == "Pong"
    assert (ami.stats.reconnects, ami.stats.bad_frames) == (0, 1)


async def test_not_connected_and_close_while_retrying() -> None:
    async with ReplayAmi(A1) as server:
        port = server.port
    # nothing listens on `port` any more
    ami = client(port, Recorder())
    with pytest.raises(AmiNotConnected):
        await ami.action("Ping")
    async with ami:
        await until(lambda: ami.stats.reconnects >= 2)
        assert isinstance(ami.last_error, OSError)
    with pytest.raises(AmiNotConnected):
        await ami.wait_connected()


async def test_run_as_a_task_and_actionid_is_ours() -> None:
    async with ReplayAmi(A1) as server:
        ami = client(server.port, Recorder())
        async with asyncio.TaskGroup() as tg:
            tg.create_task(ami.run())
            await ami.wait_connected()
            with pytest.raises(ValueError):
                await ami.action("Ping", {"ActionID": "mine"})
            with pytest.raises(RuntimeError):
                await ami.run()
            await ami.close()
    assert not ami.stats.connected


def test_backoff_full_jitter_grows_and_is_capped() -> None:
    ami = AmiClient(
        "h", 1, "u", SECRET, on_event=Recorder(), reconnect_min=0.5, reconnect_max=30.0, rng=random.Random(7)
    )
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (50, 30.0)]:
        delays = [ami._backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # it really spreads over the whole range
    assert SECRET not in repr(ami)
