"""Hot standby, the parts one at a time: SQLite refused, the AMI fence against the simulator over real TCP, the
standby's web answers (307 to the leader from the real lease row, or a page saying a takeover is under way),
the health endpoints and the Prometheus gauges."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from asterisk.ami.client import AmiClient, AmiFenced
from asterisk.sim import PbxSimulator, SimConfig
from callcenter.ha import HaNode, Health, OpsCollector, Role, install_health
from callcenter.ha.lease import LeaseStore
from config.loader import ConfigError, load_config
from config.models import HaConfig
from tests.pair import EXAMPLE
from tests.test_ha_takeover import pg_or_fail


def _now() -> datetime:
    return datetime.now(UTC)


def test_sqlite_refuses_standby_mode_with_a_clear_error(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8") + "\nha:\n  node: a1\n"
    path = tmp_path / "callcenter.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={"CALLCENTER_DATABASE_URL": "sqlite:///x.db"})
    assert "hot standby needs PostgreSQL" in str(err.value) and "ha" in str(err.value)


def test_lease_timings_must_leave_room_for_a_lost_renewal() -> None:
    with pytest.raises(ValueError, match="renew_seconds"):
        HaConfig(node="a", lease_seconds=3, renew_seconds=1.5)


@pytest.mark.postgres
async def test_a_standby_cannot_change_calls_reads_only_and_a_leader_past_its_deadline_neither() -> None:
    with pg_or_fail() as db_url:  # type: ignore[attr-defined]
        node = HaNode(HaConfig(node="b"), db_url, now=_now)
        async with PbxSimulator(SimConfig(ami_port=0, speed=1.0)) as sim:
            uid = await sim.place_call("13800000001", dtmf="1", patience=30, talk=1)
            async with AmiClient("127.0.0.1", sim.ami_port, "cc", "ccsecret", on_event=lambda m, t: None) as ami:
                ami.guard = node.guard
                await ami.wait_connected()
                channel = sim.ledger[uid].channel
                assert (await ami.action("Getvar", {"Channel": channel, "Variable": "CC_ENTERED"})).name == "Success"
                for action, fields in [("Redirect", {"Channel": channel, "Context": "cc-route", "Exten": "1001",
                                                     "Priority": "1"}),
                                       ("Setvar", {"Channel": channel, "Variable": "X", "Value": "1"}),
                                       ("Hangup", {"Channel": channel}), ("QueueAdd", {"Queue": "q"})]:
                    with pytest.raises(AmiFenced):
                        await ami.action(action, fields)
                # a leader whose deadline has passed is fenced the same way, with no database round trip
                await node._setup()
                await node._standby_round()
                assert node.role is Role.LEADER and node.may_act()
                assert (await ami.action("Setvar", {"Channel": channel, "Variable": "X", "Value": "1"})).name \
                    == "Success"
                assert node.term is not None
                node.term.deadline = node.clock() - 0.001
                with pytest.raises(AmiFenced):
                    await ami.action("Setvar", {"Channel": channel, "Variable": "X", "Value": "2"})
            sent = [name for _t, _sid, _user, name in sim.action_log]
        await node.close()
    assert sent.count("Setvar") == 1 and "Redirect" not in sent and "Hangup" not in sent
    assert node.stats.fenced_actions == 5


def _app(node: HaNode | None, health: Health) -> Starlette:
    async def page(request: Request) -> Response:
        return PlainTextResponse("the wallboard")

    async def metrics(request: Request) -> Response:
        return PlainTextResponse("m 1")

    app = Starlette(routes=[Route("/", page), Route("/agent", page, methods=["GET", "POST"]),
                            Route("/metrics", metrics)])
    install_health(app, health, language="zh")
    return app


@pytest.mark.postgres
async def test_the_standby_redirects_to_the_leader_in_the_lease_row_and_answers_health_itself() -> None:
    with pg_or_fail() as db_url:  # type: ignore[attr-defined]
        leader = LeaseStore(db_url, timeout=5)
        node = HaNode(HaConfig(node="b", advertise_url="http://b.example:8080"), db_url, now=_now)
        try:
            await node._setup()
            assert await asyncio.to_thread(leader.try_acquire, "a", "http://a.example:8080", 30.0) is not None
            await node._standby_round()
            assert node.role is Role.STANDBY and node.leader_url() == "http://a.example:8080"
            health = Health(amis={}, db_ping=leader.ping, brokers={}, ha=node, synced=lambda: True, now=_now,
                            timezone="Asia/Shanghai")
            health.database_up = True
            app = _app(node, health)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client:
                r = await client.post("/agent?x=1", content=b"{}")
                assert (r.status_code, r.headers["location"]) == (307, "http://a.example:8080/agent?x=1")
                assert (await client.get("/metrics")).text == "m 1"
                assert (await client.get("/health/leader")).status_code == 503
                assert (await client.get("/health/standby")).status_code == 200
                body = (await client.get("/health")).json()
                assert (body["role"], body["status"], body["ha"]["leader"]["node"]) == ("standby", "ok", "a")
                # the leader's lease expires and nobody has taken it yet: a page saying so, in the centre's language
                await asyncio.to_thread(leader.release, "a", 1)
                node.view = await asyncio.to_thread(node.store.read)
                r = await client.get("/")
                assert r.status_code == 503 and "备用节点" in r.text and "Retry-After" in r.headers
                assert r.headers["x-frame-options"] == "DENY" and "script-src" in r.headers["content-security-policy"]
            text = generate_latest(_registry(health)).decode()
            assert "callcenter_ha_leader 0.0" in text and "callcenter_ha_epoch 1.0" in text
            assert 'callcenter_dependency_up{dependency="database",pbx=""} 1.0' in text
        finally:
            leader.close()
            await node.close()


def _registry(health: Health) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(OpsCollector(health))
    return reg


async def test_a_lone_daemon_is_its_own_leader_once_synced_and_says_what_is_down() -> None:
    synced = False

    def down() -> None:
        raise OSError("no database")

    health = Health(amis={}, db_ping=down, brokers={"mqtt": lambda: False}, ha=None, synced=lambda: synced,
                    now=_now, timezone="Asia/Shanghai")
    app = _app(None, health)
    probe = asyncio.create_task(health.probe())
    try:
        async with asyncio.timeout(5):
            while health.database_up is None:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:
            assert (await client.get("/health/leader")).status_code == 503  # no resync yet
            synced = True
            assert (await client.get("/health/leader")).status_code == 200
            assert (await client.get("/health/database")).status_code == 503
            assert (await client.get("/health/broker")).status_code == 503
            body = (await client.get("/health")).json()
            assert (body["status"], body["down"]) == ("down", ["database", "broker"])
            assert (await client.get("/")).text == "the wallboard"  # no ha: nothing redirected
    finally:
        probe.cancel()
        await asyncio.gather(probe, return_exceptions=True)
    assert health.board() == {"down": ["database", "broker"], "role": "leader", "takeover": None}
    text = generate_latest(_registry(health)).decode()
    assert "callcenter_ha_leader 1.0" in text and 'callcenter_dependency_up{dependency="broker",pbx=""} 0.0' in text
