"""Screen-pops on the real Mosquitto (127.0.0.1:1883): offer (QoS 1) and retained state, valid per schema;
the in-process hub the desktop's SSE reads; the history source; pure payload helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest

from callcenter.screenpop import (
    AgentHub,
    RingingCall,
    ScreenPop,
    history_from_records,
    ivr_choices,
    offer_payload,
    store_history_source,
)
from config.models import MqttConfig
from records.model import CallRecordData, Outcome
from records.store import Store

SCHEMAS = Path(__file__).resolve().parents[1] / "monitoring" / "schemas"
HOST, PORT = "127.0.0.1", 1883
GUARD = 20.0  # against a hang only
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text())


def call(agent: str = "1001", number: str = "13800138000") -> RingingCall:
    return RingingCall(call_id="1700000000.1", agent_id=agent, caller_number=number, caller_name="张三",
                       ivr_path="welcome>main:2>to-complaints", language="zh", queue="complaints",
                       queue_label="投诉举报", queued_at=T0, rang_at=T0 + timedelta(seconds=12.3))


def record(call_id: str, number: str, ended: datetime) -> CallRecordData:
    return CallRecordData(
        call_id=call_id, linkedid=call_id, caller_number=number, caller_name="", channel="PJSIP/trunk-1",
        ivr_path="welcome>main:1", language="zh", queue="general", agent_id="1002", entered_at=ended - timedelta(
            minutes=5), queued_at=ended - timedelta(minutes=4), offered_at=ended - timedelta(minutes=4),
        answered_at=ended - timedelta(minutes=3), ended_at=ended, wait_seconds=60.0, talk_seconds=180.0, offers=1,
        outcome=Outcome.ANSWERED, hangup_cause=16,
    )


def test_ivr_choices_are_the_menu_answers() -> None:
    assert ivr_choices("welcome>main:2>to-complaints") == [{"menu": "main", "digits": "2"}]
    assert ivr_choices("welcome>hours=main>main:timeout>main:1") == [
        {"menu": "main", "digits": "timeout"}, {"menu": "main", "digits": "1"}]
    assert ivr_choices("") == []


def test_offer_payload_is_valid_and_complete(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        store.write_batch([record(f"c{i}", "13800138000", T0 - timedelta(days=i + 1)) for i in range(7)])
        store.write(record("other", "13900000000", T0 - timedelta(days=1)))
        history = store_history_source(store)("13800138000")
    payload = offer_payload(call(), history, published_at=1.0)
    jsonschema.validate(payload, schema("screenpop-offer.json"))
    assert payload["waited_seconds"] == 12.3
    assert payload["ivr_choices"] == [{"menu": "main", "digits": "2"}]
    calls = payload["history"]["last_calls"]
    assert [c["call_id"] for c in calls] == ["c0", "c1", "c2", "c3", "c4"]  # newest first, 5 of 7, not 'other'
    assert payload["history"]["open_tickets"] == []


def test_history_from_records_keeps_outcome_text() -> None:
    h = history_from_records([record("x", "1", T0)])
    assert h["last_calls"][0]["outcome"] == "answered"
    assert h["source"] == "call_records"


async def test_hub_keeps_state_and_ringing_offer_for_late_pages() -> None:
    hub = AgentHub()
    with hub.subscribe("1001") as sub:
        hub.publish("1001", "state", {"state": "reserved"})
        hub.publish("1001", "offer", {"call_id": "a"})
        hub.publish("1002", "offer", {"call_id": "b"})
        assert [sub.queue.get_nowait()[0] for _ in range(2)] == ["state", "offer"]
        assert sub.queue.empty()  # nothing of agent 1002
        assert hub.subscribers("1001") == 1
    assert hub.subscribers("1001") == 0
    assert hub.current_offer["1001"]["call_id"] == "a"
    hub.publish("1001", "state", {"state": "wrap_up"})
    assert "1001" not in hub.current_offer  # the call is over: a new page shows no stale pop


@contextlib.asynccontextmanager
async def subscriber(prefix: str) -> AsyncIterator[asyncio.Queue[aiomqtt.Message]]:
    got: asyncio.Queue[aiomqtt.Message] = asyncio.Queue()
    async with aiomqtt.Client(HOST, PORT, identifier=f"sub-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(f"{prefix}/agents/#", qos=1)

        async def pump() -> None:
            async for msg in client.messages:
                got.put_nowait(msg)

        task = asyncio.create_task(pump(), name="screenpop-test-pump")
        try:
            yield got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for topic in (f"{prefix}/agents/1001/state", f"{prefix}/agents/status"):
                await client.publish(topic, b"", qos=1, retain=True)  # leave the shared broker clean


async def next_on(got: asyncio.Queue[aiomqtt.Message], topic: str) -> dict[str, Any]:
    async with asyncio.timeout(GUARD):
        while True:
            msg = await got.get()
            if str(msg.topic) == topic and msg.payload:
                assert isinstance(msg.payload, bytes)
                return dict(json.loads(msg.payload))


@pytest.mark.mqtt
async def test_offer_and_retained_state_reach_a_subscriber_on_the_real_broker() -> None:
    prefix = f"cc-test-{uuid.uuid4().hex[:8]}"
    pop = ScreenPop(MqttConfig(topic_prefix=prefix),
                    lambda number: {"last_calls": [], "open_tickets": [], "source": "call_records"},
                    client_id=f"pop-{uuid.uuid4().hex[:8]}")
    async with subscriber(prefix) as got:
        runner = asyncio.create_task(pop.run(), name="screenpop-under-test")
        try:
            async with asyncio.timeout(GUARD):
                while not pop.counters.connected:  # noqa: ASYNC110 (waits for the broker's CONNACK)
                    await asyncio.sleep(0.01)
            pop.agent_state("1001", "ready", "", T0, by="agent")
            state = await next_on(got, f"{prefix}/agents/1001/state")
            jsonschema.validate(state, schema("screenpop-state.json"))
            assert state["state"] == "ready" and state["by"] == "agent"

            pop.ringing(call())
            offer = await next_on(got, f"{prefix}/agents/1001/offer")
            jsonschema.validate(offer, schema("screenpop-offer.json"))
            assert offer["caller_number"] == "13800138000"  # unmasked on MQTT: the ACL guards the topic
            assert offer["queue_label"] == "投诉举报"
            assert pop.hub.current_offer["1001"]["call_id"] == offer["call_id"]
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    assert pop.counters.published >= 2


@pytest.mark.mqtt
async def test_late_subscriber_gets_the_retained_state() -> None:
    prefix = f"cc-test-{uuid.uuid4().hex[:8]}"
    pop = ScreenPop(MqttConfig(topic_prefix=prefix), lambda n: {}, client_id=f"pop-{uuid.uuid4().hex[:8]}")
    pop.agent_state("1001", "not_ready", "meal", T0, by="1001")  # before the broker connection: kept, sent on connect
    runner = asyncio.create_task(pop.run(), name="screenpop-under-test")
    try:
        async with asyncio.timeout(GUARD):
            while not pop.counters.connected:  # noqa: ASYNC110 (waits for the broker's CONNACK)
                await asyncio.sleep(0.01)
        async with subscriber(prefix) as got:
            state = await next_on(got, f"{prefix}/agents/1001/state")
        assert state["state"] == "not_ready" and state["reason"] == "meal"
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_history_failure_still_pops_without_history() -> None:
    def broken(number: str) -> dict[str, Any]:
        raise RuntimeError("database away")

    pop = ScreenPop(None, broken)
    with pop.hub.subscribe("1001") as sub:
        runner = asyncio.create_task(pop.run(), name="screenpop-under-test")
        try:
            pop.ringing(call())
            async with asyncio.timeout(GUARD):
                kind, payload = await sub.queue.get()
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    assert kind == "offer"
    assert payload["history"]["source"] == "unavailable"
    assert pop.counters.history_errors == 1


@pytest.mark.mqtt
async def test_a_clean_stop_publishes_offline() -> None:
    prefix = f"cc-test-{uuid.uuid4().hex[:8]}"
    pop = ScreenPop(MqttConfig(topic_prefix=prefix), lambda n: {}, client_id=f"pop-{uuid.uuid4().hex[:8]}")
    runner = asyncio.create_task(pop.run(), name="screenpop-under-test")
    try:
        async with asyncio.timeout(GUARD):
            while not pop.counters.connected:  # noqa: ASYNC110 (waits for the broker's CONNACK)
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # "online" is out
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    # The retained status a new subscriber gets is "offline" (the will alone would have left "online").
    async with aiomqtt.Client(HOST, PORT, identifier=f"sub-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(f"{prefix}/agents/status", qos=1)
        async with asyncio.timeout(GUARD):
            msg = await anext(aiter(client.messages))
        await client.publish(f"{prefix}/agents/status", b"", qos=1, retain=True)
    assert msg.payload == b"offline"
