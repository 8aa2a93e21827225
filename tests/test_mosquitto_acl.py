"""Issue 15, finding 8: with the shipped broker config (deploy/mosquitto/), screen-pops reach only their agent.

A private, real Mosquitto runs deploy/mosquitto/callcenter.conf and callcenter.acl as shipped (only the file
paths and the port are changed), with a password file made by mosquitto_passwd as the docs say. The daemon's
own publisher (callcenter/screenpop.py) signs in with its login and publishes offers with full numbers for
agents 1001 and 1002; an anonymous client is refused, agent 1002's client (even using client id "1001")
reads nothing of 1001's, agent 1001's reads its own, and no agent client can publish a fake screen-pop.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest
from pydantic import SecretStr

from callcenter.mqtt_stats import broker_password
from callcenter.screenpop import RingingCall, ScreenPop
from config.loader import load_config
from config.models import MqttConfig
from tests.pair import EXAMPLE
from tests.ports import free_ports

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto"
MOSQUITTO = "/usr/sbin/mosquitto"
PASSWORDS = {"callcenter": "daemon-pw-7f3k", "1001": "agent-1001-pw", "1002": "agent-1002-pw"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GUARD = 20.0


def shipped_conf(tmp_path: Path, port: int) -> Path:
    """deploy/mosquitto/callcenter.conf with this test's paths and port; every other line as shipped."""
    text = (DEPLOY / "callcenter.conf").read_text(encoding="utf-8")
    passwd, acl = tmp_path / "callcenter.passwd", tmp_path / "callcenter.acl"
    shutil.copy(DEPLOY / "callcenter.acl", acl)
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if user == "callcenter" else []), str(passwd), user,
                        password], check=True, capture_output=True)
    passwd.chmod(0o600)
    for shipped, ours in (("password_file /etc/mosquitto/callcenter.passwd", f"password_file {passwd}"),
                          ("acl_file /etc/mosquitto/callcenter.acl", f"acl_file {acl}"),
                          ("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1")):
        assert shipped in text, shipped
        text = text.replace(shipped, ours)
    conf = tmp_path / "mosquitto.conf"
    # As root Mosquitto would switch to the `mosquitto` user, who cannot read the 0600 files of this test.
    conf.write_text(text + f"\nuser {getpass.getuser()}\nlog_dest stderr\n", encoding="utf-8")
    return conf


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    port = free_ports(1)[0]
    conf = shipped_conf(tmp_path, port)
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        import socket
        import time

        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, (tmp_path / "mosquitto.log").read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            assert time.monotonic() < deadline, "mosquitto did not listen"
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def client(port: int, user: str | None, *, client_id: str | None = None,
           password: str | None = None) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=user,
                          password=password or (PASSWORDS[user] if user else None),
                          identifier=client_id or f"test-{user}", timeout=5.0)


@contextlib.asynccontextmanager
async def reading(port: int, user: str, topics: list[str], *, client_id: str | None = None
                  ) -> AsyncIterator[list[aiomqtt.Message]]:
    got: list[aiomqtt.Message] = []
    async with client(port, user, client_id=client_id) as c:
        for topic in topics:
            await c.subscribe(topic, qos=1)

        async def pump() -> None:
            async for msg in c.messages:
                got.append(msg)

        task = asyncio.create_task(pump())
        try:
            yield got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def ringing(agent: str, number: str) -> RingingCall:
    return RingingCall(call_id=f"1700000000.{agent}", agent_id=agent, caller_number=number, caller_name="李先生",
                       ivr_path="welcome>main:1", language="zh", queue="general", queue_label="综合咨询",
                       queued_at=T0, rang_at=T0 + timedelta(seconds=5))


async def test_agents_read_only_their_own_screen_pops(broker: int, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = broker
    # Anonymous clients and wrong passwords are refused at connect.
    for user, password in ((None, None), ("1001", "wrong"), ("callcenter", "wrong")):
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", port, username=user, password=password, timeout=5.0):
                pass
    secret_file = tmp_path / "mqtt-password"
    secret_file.write_text(PASSWORDS["callcenter"] + "\n", encoding="utf-8")
    daemon_login = MqttConfig(host="127.0.0.1", port=port, username="callcenter", password_file=str(secret_file))
    pop = ScreenPop(daemon_login, lambda number: {"last_calls": [], "open_tickets": [], "source": "call_records"},
                    client_id="callcenter-daemon")
    everything = ["callcenter/#"]
    async with reading(port, "1001", everything) as mine, \
            reading(port, "1002", [*everything, "callcenter/agents/1001/#"]) as other, \
            reading(port, "1002", everything, client_id="1001") as spoof, \
            reading(port, "callcenter", everything, client_id="control") as control:
        runner = asyncio.create_task(pop.run())
        try:
            async with asyncio.timeout(GUARD):
                while not pop.counters.connected:  # noqa: ASYNC110 (the broker's CONNACK)
                    await asyncio.sleep(0.01)
            pop.agent_state("1001", "reserved", "", T0)
            pop.ringing(ringing("1001", "13800138000"))
            pop.agent_state("1002", "reserved", "", T0)
            pop.ringing(ringing("1002", "13900139000"))
            # An agent's client tries to fake a screen-pop for 1001: refused by the ACL (dropped for MQTT 3.1.1).
            async with client(port, "1002", client_id="1002-fake") as fake:
                await fake.publish("callcenter/agents/1001/offer", b'{"caller_number": "110"}', qos=1)
            async with asyncio.timeout(GUARD):
                while not any(str(m.topic) == "callcenter/agents/1002/offer" for m in other) \
                        or not any(str(m.topic) == "callcenter/agents/1001/offer" for m in mine):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # anything that should not arrive has had its chance
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    topics = {name: sorted({str(m.topic) for m in got}) for name, got in
              (("1001", mine), ("1002", other), ("spoof", spoof), ("control", control))}
    # The daemon's login publishes everything; the control (the daemon's user) sees both agents.
    assert {"callcenter/agents/1001/offer", "callcenter/agents/1002/offer"} <= set(topics["control"])
    assert pop.counters.published >= 4
    # Each agent's client reads its own topics (and the daemon's online flag) only.
    assert all(t.startswith("callcenter/agents/1001/") or t == "callcenter/agents/status" for t in topics["1001"])
    assert all(t.startswith("callcenter/agents/1002/") or t == "callcenter/agents/status" for t in topics["1002"])
    assert all(t.startswith("callcenter/agents/1002/") or t == "callcenter/agents/status" for t in topics["spoof"])
    assert b"13800138000" in b"".join(bytes(m.payload) for m in mine if isinstance(m.payload, bytes))
    assert not any(b"13800138000" in m.payload for m in [*other, *spoof] if isinstance(m.payload, bytes))
    assert not any(isinstance(m.payload, bytes) and b'"110"' in m.payload for m in [*mine, *control])
    assert not any(p in caplog.text for p in PASSWORDS.values())


def test_the_example_config_signs_in_to_the_broker(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE, environ={"CALLCENTER_MQTT_PASSWORD": "from-the-environment"})
    assert cfg.mqtt is not None and cfg.mqtt.username == "callcenter"
    assert broker_password(cfg.mqtt) == "from-the-environment"
    assert "from-the-environment" not in repr(cfg.mqtt)
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-a-file\nignored\n", encoding="utf-8")
    assert broker_password(MqttConfig(username="callcenter", password_file=str(secret_file))) == "from-a-file"
    with pytest.raises(ValueError, match="not both"):
        MqttConfig(username="callcenter", password=SecretStr("x"), password_file=str(secret_file))


def test_the_shipped_password_file_example_holds_the_users_the_acl_expects(tmp_path: Path) -> None:
    users = [line.split(":", 1)[0] for line in (DEPLOY / "passwd.example").read_text().splitlines()
             if line and not line.startswith("#")]
    assert users == ["callcenter", "1001", "1002", "wallboard"]
    acl = (DEPLOY / "callcenter.acl").read_text()
    assert "%c" not in acl.replace("never use %c", "")  # a client picks its own id: no rule may trust it
    assert "pattern read callcenter/agents/%u/#" in acl
