"""AMI faults injected mid-burst: connection dropped, Asterisk hung (ping watchdog), Asterisk restarted.

After each, the daemon resyncs from CoreShowChannels + Getvar, and closes the calls that ended while it
could not see them with what Asterisk's CDRs say (the simulator writes Master.csv as cdr_csv does); then
the store and the simulator's ledger must agree call by call: none lost, none recorded twice, none stuck,
and a call the CDRs show answered is recorded answered by the same agent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from callcenter.resync import Kind, Known, KnownCall, Live, LiveChannel, plan
from config.loader import load_config
from config.models import CdrConfig
from tests.pair import EXAMPLE, running_pair
from tests.test_fault_check import EPOCH, busy_load, in_flight, settle, verdict, wait_for

SPEED = 100.0


async def _burst_with(tmp_path: Path, fault: str, times: int, calls: int = 60,
                      speed: float = SPEED) -> tuple[int, int]:
    """Run ``calls`` calls, inject ``fault`` ``times`` times while calls are in flight; check the store.
    Returns (the most calls in flight at a fault, the calls closed from their CDR)."""
    cfg = load_config(EXAMPLE, environ={})
    master = tmp_path / "cdr-csv" / "Master.csv"
    cfg = cfg.model_copy(update={"ami": cfg.ami.model_copy(update={"ping_interval": 0.1}),
                                 "cdr": CdrConfig(master_csv=str(master))})
    sim_changes = {**busy_load(), "cdr_csv": str(master)}
    async with running_pair(tmp_path, speed=speed, seed=23, sim_changes=sim_changes, cfg=cfg) as pair:
        d, sim = pair.daemon, pair.sim
        d.ami.ping_interval, d.ami.ping_timeout, d.ami.reconnect_min = 0.1, 0.2, 0.05
        d.ami.action_timeout = 0.5
        load = asyncio.create_task(sim.run_load(calls=calls))
        flying = 0
        try:
            for i in range(times):
                await wait_for(lambda i=i: len(sim.ledger) >= (i + 1) * calls // (times + 1))
                runs = d.resync.stats.runs
                flying = max(flying, in_flight(sim))
                if fault == "drop":
                    assert sim.drop_ami() == 1
                elif fault == "freeze":
                    sim.freeze_ami(True)
                    await wait_for(lambda i=i: d.ami.stats.ping_timeouts > i)
                    sim.freeze_ami(False)
                elif fault == "restart":
                    sim.restart()
                await wait_for(lambda runs=runs: d.resync.stats.runs > runs and d.resync.synced.is_set())
            await load
        finally:
            if not load.done():
                load.cancel()
        await settle(d, sim)
        v = verdict(d, sim)
        v.assert_clean(f"AMI {fault}", times, flying)
        assert v.calls == calls
        assert d.resync.stats.runs >= times + 1  # the first login resyncs too
        assert d.resync.stats.failures == 0
        assert d.resync.stats.cdr_missing == 0  # every gone call was closed from its CDR, none guessed
        assert d.resync.stats.cdr_bad_lines == 0
        for rec in d.store.records(EPOCH):  # closed from a CDR or not: the agent who answered is the agent
            t = sim.ledger[rec.call_id]
            assert (rec.agent_id if rec.outcome.value == "answered" else None) == t.answered_by, (rec, t)
        return flying, d.resync.stats.cdr_closed


async def test_ami_connection_dropped_three_times_mid_burst(tmp_path: Path) -> None:
    flying, _ = await _burst_with(tmp_path, "drop", 3)
    assert flying > 0


async def test_asterisk_stops_answering_watchdog_reconnects_and_resyncs(tmp_path: Path) -> None:
    # Slower simulated time: a hang of ~0.3 s real must not span a whole call.
    flying, _ = await _burst_with(tmp_path, "freeze", 2, speed=30.0)
    assert flying > 0


async def test_asterisk_restart_closes_every_cut_call_once(tmp_path: Path) -> None:
    # The calls cut by the restart end with no event the daemon can hear: each is closed from its CDR,
    # including one whose agent answered just before (its AgentConnect was lost with the connection).
    flying, from_cdr = await _burst_with(tmp_path, "restart", 2)
    assert flying > 0
    assert from_cdr > 0


# ---------------------------------------------------------------- the pure plan


def _ch(uid: str, context: str, **kw: str) -> LiveChannel:
    bridge = kw.pop("bridge", "")
    return LiveChannel(uid, uid, f"PJSIP/trunk-{uid}", context, bridge_id=bridge,
                       variables={"CC_INCOMING": "1", **kw})


def test_plan_closes_gone_adopts_unknown_and_moves_known() -> None:
    known = {
        "gone": KnownCall("gone", Known.WAITING),
        "held": KnownCall("held", Known.IVR),
        "rang": KnownCall("rang", Known.OFFERED, agent="1001"),
        "fly": KnownCall("fly", Known.OFFERED, agent="1002", offer_in_flight=True),
        "talk": KnownCall("talk", Known.OFFERED, agent="1003"),
        "same": KnownCall("same", Known.WAITING),
    }
    live = [
        _ch("held", "cc-hold"), _ch("rang", "cc-hold"), _ch("fly", "cc-hold"),
        _ch("talk", "cc-route", bridge="b1", CC_AGENT="1003"), _ch("same", "cc-hold"),
        _ch("new", "cc-hold", CC_ENTERED="1700000000"),
        LiveChannel("agent-leg", "talk", "PJSIP/1003-1", "cc-agents"),
    ]
    steps = {(s.kind, s.call_id) for s in plan(known, live)}
    assert steps == {
        (Kind.CLOSE, "gone"), (Kind.QUEUE, "held"), (Kind.RING_FAILED, "rang"),
        (Kind.ANSWERED, "talk"), (Kind.ADOPT, "new"),
    }


def test_caller_caught_before_it_is_marked_incoming_is_adopted() -> None:
    """[cc-incoming] runs NoOp and Answer before Set(CC_INCOMING=1): a snapshot taken then still shows a
    caller (its fallback and hang-up must be recorded); an agent leg in [cc-route] without the mark is not."""
    early = LiveChannel("early", "early", "PJSIP/trunk-9", "cc-incoming", variables={"CC_QUEUE": ""})
    leg = LiveChannel("leg", "talk", "PJSIP/1003-1", "cc-route", variables={"CC_QUEUE": ""})
    assert early.stage is Live.IVR and leg.stage is None
    assert {(s.kind, s.call_id) for s in plan({}, [early, leg])} == {(Kind.ADOPT, "early")}


def test_plan_never_leaves_a_known_call_unaccounted() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    stages = st.sampled_from(list(Known))
    lives = st.sampled_from([None, *Live])
    contexts = {Live.IVR: "cc-incoming", Live.HOLD: "cc-hold", Live.RINGING: "cc-route",
                Live.TALKING: "cc-route", Live.AFTER: "cc-survey", Live.FALLBACK: "cc-fallback"}

    @given(st.dictionaries(st.text("abc", min_size=1, max_size=3), st.tuples(stages, lives), max_size=8),
           st.lists(st.sampled_from(list(Live)), max_size=4))
    def check(calls: dict[str, tuple[Known, Live | None]], unknown: list[Live]) -> None:
        known = {cid: KnownCall(cid, k) for cid, (k, _) in calls.items()}
        live = [_ch(cid, contexts[lv], bridge="b" if lv is Live.TALKING else "")
                for cid, (_, lv) in calls.items() if lv is not None]
        live += [_ch(f"new{i}", contexts[lv], bridge="b" if lv is Live.TALKING else "")
                 for i, lv in enumerate(unknown)]
        steps = plan(known, live)
        closed = {s.call_id for s in steps if s.kind is Kind.CLOSE}
        adopted = [s.call_id for s in steps if s.kind is Kind.ADOPT]
        assert closed == {cid for cid, (_, lv) in calls.items() if lv is None}
        assert sorted(adopted) == sorted(f"new{i}" for i in range(len(unknown)))
        assert all(s.call_id in known for s in steps if s.kind is not Kind.ADOPT)

    check()


async def test_channel_gone_between_list_and_getvar_is_not_live() -> None:
    """A caller that hangs up after CoreShowChannels lists it and before its Getvar answers is gone: left out
    of the live list, so its CDR is read for it (taken as live, with empty variables, it was neither adopted
    nor looked for in the CDRs, and its record was lost)."""
    from types import SimpleNamespace

    from asterisk.ami.client import AmiActionError
    from asterisk.ami.codec import Message
    from callcenter.resync import Resyncer

    def show(uid: str) -> Message:
        return Message([("Event", "CoreShowChannel"), ("Channel", f"PJSIP/trunk-{uid}"), ("Uniqueid", uid),
                        ("Linkedid", uid), ("Context", "cc-fallback"), ("Exten", "s")])

    class Ami:  # Asterisk's answers, in AMI messages, for the two actions the snapshot sends
        async def list_action(self, name: str) -> tuple[Message, list[Message]]:
            return Message([("Response", "Success")]), [show("stays"), show("gone")]

        async def action(self, name: str, headers: dict[str, str]) -> Message:
            if headers["Channel"].endswith("gone"):
                raise AmiActionError(name, Message([("Response", "Error"), ("Message", "No such channel")]))
            return Message([("Response", "Success"), ("Value", "1" if headers["Variable"] == "CC_INCOMING" else "")])

    r = Resyncer(Ami(), SimpleNamespace())  # the snapshot asks nothing of the call flow
    live = await r._snapshot()
    assert [(ch.uniqueid, ch.stage) for ch in live] == [("stays", Live.FALLBACK)]
    assert r.stats.getvar_failures > 0
