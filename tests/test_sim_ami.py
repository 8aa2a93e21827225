"""The simulator's AMI replies compared with the recordings of a real Asterisk 22 (a1, a2, a3)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr

from asterisk.ami.transcripts import TRANSCRIPT_DIR
from asterisk.sim import AmiUser, PbxSimulator, SimConfig
from asterisk.sim.testing import RawAmi, recorded_messages

REC = TRANSCRIPT_DIR

VOLATILE = {
    "timestamp",
    "sessionid",
    "eventtv",
    "sessiontv",
    "localaddress",
    "remoteaddress",
    "uptime",
    "lastreload",
}


def norm(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, "*" if k.lower() in VOLATILE else v) for k, v in headers]


def config(**kw: object) -> SimConfig:
    users = (
        AmiUser(username="cc", secret=SecretStr("ccsecret")),
        AmiUser(username="ro", secret=SecretStr("rosecret"), read=("all",), write=()),
    )
    return SimConfig(ami_port=0, users=users, speed=100, start=datetime(2026, 11, 28, tzinfo=UTC), **kw)  # type: ignore[arg-type]


def recorded_replies(name: str) -> list[list[tuple[str, str]]]:
    return [norm(h) for d, h in recorded_messages(str(REC / name)) if d == "<<<" and h[0][0] == "Response"]


async def test_banner_login_ping_unknown_logoff_match_a1() -> None:
    async with PbxSimulator(config()) as sim:
        ami = await RawAmi.connect(sim.ami_port)
        try:
            assert await ami.banner() == b"Asterisk Call Manager/11.0.0\r\n"
            ami.send("Login", Username="cc", Secret="ccsecret", Events="on", ActionID="cc-1")
            ami.send("Ping", ActionID="cc-2")
            ami.send("Ping")
            ami.send("CoreShowChannels", ActionID="cc-3")
            ami.send("FooBarBaz", ActionID="cc-6")
            ami.send("Logoff", ActionID="cc-7")
            got = []
            events = {}
            while True:
                msg = await ami.next()
                if msg.is_response:
                    got.append(norm(msg.headers))
                else:
                    events[msg.name] = norm(msg.headers)
                if msg.name == "Goodbye":
                    break
            await ami.eof()
        finally:
            await ami.close()
    want = [
        r for r in recorded_replies("a1-login-ping-unknown-action.txt") if r[1][1] not in ("cc-4", "cc-5")
    ]
    assert got == want
    recorded = {
        h[0][1]: norm(h)
        for d, h in recorded_messages(str(REC / "a1-login-ping-unknown-action.txt"))
        if d == "<<<" and h[0][0] == "Event"
    }
    assert events["FullyBooted"] == recorded["FullyBooted"]
    assert events["CoreShowChannelsComplete"] == recorded["CoreShowChannelsComplete"]
    for name in ("SuccessfulAuth", "RequestBadFormat"):
        assert [k for k, _ in events[name]] == [k for k, _ in recorded[name]]


async def test_before_login_and_wrong_secret_match_a2() -> None:
    async with PbxSimulator(config()) as sim:
        ami = await RawAmi.connect(sim.ami_port)
        try:
            await ami.banner()
            ami.send("Ping", ActionID="bad1-1")
            first = await ami.next()
            ami.send("Login", Username="cc", Secret="wrongsecret", ActionID="bad1-2")
            second = await ami.next()
            assert await ami.eof()
        finally:
            await ami.close()
        ami = await RawAmi.connect(sim.ami_port)
        try:
            await ami.banner()
            ami.send("Login", Username="nosuchuser", Secret="x", ActionID="bad2-1")
            third = await ami.next()
            assert await ami.eof()
        finally:
            await ami.close()
    assert [first.headers, second.headers, third.headers] == recorded_replies("a2-login-failure.txt")


async def test_read_only_user_permission_denied_matches_a3() -> None:
    async with PbxSimulator(config()) as sim:
        ami = await RawAmi.connect(sim.ami_port)
        try:
            reply = await ami.login("ro", "rosecret")
            assert reply.get("Message") == "Authentication accepted"
            ami.send(
                "Originate",
                Channel="Local/s@cc-caller",
                Context="cc-hold",
                Exten="s",
                Priority="1",
                Async="true",
                ActionID="ro-3",
            )
            r1 = await ami.until(lambda m: m.is_response)
            denied = await ami.until(lambda m: m.name == "RequestNotAllowed")
            ami.send("CoreShowChannels", ActionID="ro-9")
            r2 = await ami.until(lambda m: m.is_response)
        finally:
            await ami.close()
    rec = recorded_replies("a3-ro-permission-denied.txt")
    assert r1.headers in rec and r2.headers in rec
    assert r1.headers == [("Response", "Error"), ("ActionID", "ro-3"), ("Message", "Permission denied")]
    recorded = next(
        h
        for d, h in recorded_messages(str(REC / "a3-ro-permission-denied.txt"))
        if h[0] == ("Event", "RequestNotAllowed")
    )
    assert [k for k, _ in denied.headers] == [k for k, _ in recorded]
    assert denied["RequestType"] == "Action: Originate"


async def test_events_off_at_login_sends_no_events() -> None:
    async with PbxSimulator(config()) as sim:
        ami = await RawAmi.connect(sim.ami_port)
        try:
            await ami.login(events="off")
            await sim.place_call("13800000000", patience=1)
            await sim.drain()
            ami.send("Ping", ActionID="p")
            msg = await ami.next()
        finally:
            await ami.close()
    assert msg.is_response and msg.get("Ping") == "Pong"
