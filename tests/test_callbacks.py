"""Callbacks (预约回电): kept in the database, queued at the caller's place, dialled when an agent is free,
retried within the limits, and found again after a restart. The engine, call flow and a real SQLite store;
the PBX side is the AMI messages the real Asterisk sends (tests/integration/test_pbx_callbacks.py runs the
same on Asterisk 22 itself)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from asterisk.ami.codec import Message
from callcenter.callbacks import CallbackDialer
from config.models.services import CallbacksConfig
from queueing import CallState
from records import callbacks as callbacks_table
from records import migrate
from records.callbacks import CallbackStore
from records.store import Store
from tests.alembic_check import empty_db, table_names, upgraded
from tests.engine_kit import t
from tests.test_callflow import Flow

__all__ = ["empty_db"]  # the fixture, imported for pytest


@pytest.fixture
def f(tmp_path: Path) -> Iterator[Flow]:
    flow = Flow(tmp_path)
    yield flow
    flow.flow.journal.close()


class Clock:
    def __init__(self) -> None:
        self.now = t(100)

    def __call__(self) -> datetime:
        return self.now


def _dialer(f: Flow, store: CallbackStore, clock: Clock, sent: list[list[tuple[str, object]]],
            **cfg: object) -> CallbackDialer:
    async def originate(fields: list[tuple[str, object]]) -> None:
        sent.append(fields)

    settings = CallbacksConfig.model_validate({"trunk": "Local/{number}@out", "attempts": 2, "interval_seconds": 60,
                                               "hours": ["00:00", "23:59"], **cfg})
    d = CallbackDialer(store, settings, endpoints=f.flow.endpoints, feed=f.flow.feed, originate=originate,
                       now=clock)
    f.flow.place_callback, f.flow.callback_requested = d.place, d.request
    return d


def _user(name: str, **headers: str) -> Message:
    return Message([("Event", "UserEvent"), ("UserEvent", name), *headers.items()])


async def test_a_callback_is_dialled_in_its_place_retried_then_given_up(f: Flow, tmp_path: Path) -> None:
    store = CallbackStore(create_engine(f"sqlite:///{tmp_path / 'cb.db'}"))
    clock, sent = Clock(), list[list[tuple[str, object]]]()
    d = _dialer(f, store, clock, sent)
    f.caller("c1", 50)  # a live caller who joined after the callback's call
    cb = d.request("ivr-1", "13900000000", "main", t(10))
    assert cb is not None and f.flow.engine.call_state(cb.key) is CallState.WAITING
    f.ready("a1")  # the free agent takes the earlier place: the callback, not the caller on hold
    await asyncio.sleep(0)
    assert f.flow.engine.call_state(cb.key) is CallState.RINGING and f.flow.engine.call_state("c1") is CallState.WAITING
    fields = dict(sent[0][:6])
    assert (fields["Channel"], fields["Context"]) == ("PJSIP/a1", "cc-callback-dial")
    assert ("Variable", "CC_CALLBACK_DIAL=Local/13900000000@out") in sent[0]
    d.on_ami(_user("CcCallbackAgent", Callback=cb.key, Agent="a1"), t(101))
    assert f.flow.engine.call_state(cb.key) is CallState.TALKING
    d.on_ami(_user("CcCallbackResult", Callback=cb.key, DialStatus="NOANSWER", Talk=""), t(131))
    row = store.get(cb.id)
    assert row is not None and (row.state, row.attempts, row.last_result) == ("pending", 1, "NOANSWER")
    assert row.next_at == t(191)
    d.tick()  # too early for the retry
    assert f.flow.engine.call_state(cb.key) is None

    # a restart: a new dialer finds the callback in the database and queues it when it is due
    d2 = _dialer(f, store, clock, sent)
    d2.load()
    clock.now = t(200)
    d2.tick()  # back at its place, ahead of the caller c1 who still waits
    f.ready("a2")
    await asyncio.sleep(0)
    assert f.flow.engine.call_state(cb.key) is CallState.RINGING and len(sent) == 2
    d2.on_ami(_user("CcCallbackAgent", Callback=cb.key, Agent="a2"), t(201))
    d2.on_ami(_user("CcCallbackResult", Callback=cb.key, DialStatus="BUSY", Talk=""), t(205))
    row = store.get(cb.id)
    assert row is not None and (row.state, row.attempts, row.finished_at) == ("failed", 2, t(205))
    assert d2.counts(t(0)) == {"pending": 0, "answered": 0, "failed": 1}


async def test_an_answered_callback_records_the_agent_and_the_time(f: Flow, tmp_path: Path) -> None:
    store = CallbackStore(create_engine(f"sqlite:///{tmp_path / 'cb.db'}"))
    clock, sent = Clock(), list[list[tuple[str, object]]]()
    d = _dialer(f, store, clock, sent)
    f.ready("a1")
    cb = d.request("ivr-2", "13900000001", "main", t(90))
    await asyncio.sleep(0)
    assert cb is not None and len(sent) == 1
    # the agent does not answer: OriginateResponse Failure, the engine offers the callback to the next agent
    d.on_ami(Message([("Event", "OriginateResponse"), ("Response", "Failure"), ("Channel", "PJSIP/a1")]), t(115))
    assert f.flow.engine.call_state(cb.key) is CallState.WAITING
    f.ready("a2")
    await asyncio.sleep(0)
    assert dict(sent[1][:1])["Channel"] == "PJSIP/a2"
    d.on_ami(_user("CcCallbackAgent", Callback=cb.key, Agent="a2"), t(117))
    d.on_ami(_user("CcCallbackResult", Callback=cb.key, DialStatus="ANSWER", Talk="40"), t(160))
    row = store.get(cb.id)
    assert row is not None and (row.state, row.agent_id, row.attempts) == ("answered", "a2", 1)
    assert row.answered_at == t(120) and f.flow.engine.call_state(cb.key) is None


async def test_no_callback_is_dialled_outside_the_hours_or_before_the_pbx_is_ready(f: Flow, tmp_path: Path) -> None:
    store = CallbackStore(create_engine(f"sqlite:///{tmp_path / 'cb.db'}"))
    clock, sent = Clock(), list[list[tuple[str, object]]]()
    d = _dialer(f, store, clock, sent, hours=["08:00", "09:00"])  # t(100) is 01:01:40 UTC
    f.ready("a1")
    cb = d.request("ivr-3", "13900000002", "main", t(90))
    assert cb is not None and f.flow.engine.call_state(cb.key) is None and not sent
    clock.now = t(0) + timedelta(hours=7)  # 08:00
    up = False
    d.pbx_ready = lambda: up  # AMI not logged in (or not resynced) yet: nothing is queued
    d.tick()
    assert f.flow.engine.call_state(cb.key) is None
    up = True
    d.tick()
    await asyncio.sleep(0)
    assert len(sent) == 1


def test_alembic_builds_the_callbacks_table_as_declared(empty_db: str) -> None:
    indexes = upgraded(empty_db, ("callbacks",), callbacks_table.metadata)
    assert {"ix_callbacks_state", "ix_callbacks_finished_at"} <= indexes["callbacks"]
    with Store(empty_db, create=False) as store:
        book = CallbackStore(store.engine)
        cb = book.add("c1", "13900000000", "general", t(0), t(0))
        cb.state, cb.attempts, cb.finished_at = "failed", 3, t(50)
        book.save(cb)
        assert book.open() == [] and book.finished_since(t(0)) == {"failed": 1}
        assert "13900000000" not in repr(cb)  # the citizen's number stays out of logs
    migrate.downgrade(empty_db, "0008")
    assert "callbacks" not in table_names(empty_db)
