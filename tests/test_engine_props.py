"""Property tests: the agent table over every (state, input) pair, and the engine's invariants over
random event streams (arrivals, hang-ups at any moment, agent state changes, no-answers, shift ends)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agents.shifts import Roster, ShiftRules, ShiftTemplate, Team
from agents.state import TRANSITIONS, AgentInput, AgentState, IllegalTransition, next_state
from queueing import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentSpec,
    CallbackRequested,
    CallEnded,
    CallLeft,
    CallOutcome,
    CallQueued,
    Command,
    Engine,
    EngineConfig,
    EngineError,
    Event,
    ForceAgentState,
    MoveCall,
    OfferAnswered,
    OfferCall,
    OfferFailed,
    PlaceCallback,
    QueueSpec,
    SetCallPriority,
    Strategy,
)
from queueing.harness import Harness

SH = ZoneInfo("Asia/Shanghai")
START = datetime.combine(date(2026, 3, 2), time(7, 50), tzinfo=SH).astimezone(UTC)
FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@given(st.sampled_from(list(AgentState)), st.sampled_from(list(AgentInput)))
def test_every_pair_is_a_row_or_a_typed_error(state: AgentState, inp: AgentInput) -> None:
    if (state, inp) in TRANSITIONS:
        assert next_state("a", state, inp) is TRANSITIONS[(state, inp)]
    else:
        with pytest.raises(IllegalTransition):
            next_state("a", state, inp)


# ------------------------------------------------------------------------- engine-level table check

QUEUES = ("q1", "q2")
AGENTS = (
    AgentSpec("a1", ("q1",), {"x": 2}),
    AgentSpec("a2", ("q1", "q2"), {"x": 1}),
    AgentSpec("a3", ("q2",)),
    AgentSpec("a4", ("q1", "q2"), {"x": 3}),
)
ROSTER = Roster(
    shifts=(ShiftTemplate("early", time(8), time(9, 30)), ShiftTemplate("late", time(9), time(11))),
    teams=(Team("E", ("a1", "a2"), ("early",)), Team("L", ("a3",), ("late",))),  # a4: no shift
    anchor=date(2026, 3, 2),
)
RULES = ShiftRules(ROSTER)


def snapshot(e: Engine, calls: list[str]) -> Any:
    return (
        [e.agent_state(a.id) for a in AGENTS],
        [(e.waiting_calls(q), e.ready_agents(q)) for q in QUEUES],
        [(e.call_state(c), e.call_agent(c), e.call_queue(c)) for c in calls],
    )


def _to_state(h: Harness, target: AgentState, at: datetime) -> None:
    """Drive a1 (no shift rules here) into ``target``."""
    if target is AgentState.LOGGED_OUT:
        return
    h.send(AgentLoggedIn(at, "a1"))
    if target is AgentState.NOT_READY:
        return
    h.send(AgentReady(at, "a1"))
    if target is AgentState.READY:
        return
    h.send(CallQueued(at, "c1", "q1"))
    if target is AgentState.RESERVED:
        return
    h.send(OfferAnswered(at, "c1", "a1"))
    if target is AgentState.ON_CALL:
        return
    h.send(CallEnded(at, "c1"))


def _agent_events(at: datetime) -> list[Event]:
    return [
        AgentLoggedIn(at, "a1"),
        AgentReady(at, "a1"),
        AgentNotReady(at, "a1", "break"),
        AgentLoggedOut(at, "a1"),
        ForceAgentState(at, "a1", AgentState.READY, "", "sup"),
        ForceAgentState(at, "a1", AgentState.NOT_READY, "meeting", "sup"),
        ForceAgentState(at, "a1", AgentState.LOGGED_OUT, "", "sup"),
        OfferAnswered(at, "c1", "a1"),
        OfferFailed(at, "c1", "a1", "noanswer"),
        CallEnded(at, "c1"),
    ]


@pytest.mark.parametrize("state", list(AgentState))
@pytest.mark.parametrize("index", range(10))
def test_engine_input_in_every_state_is_legal_or_changes_nothing(state: AgentState, index: int) -> None:
    cfg = EngineConfig(tuple(QueueSpec(q, wrapup_seconds=30) for q in QUEUES), AGENTS)
    h = Harness(Engine(cfg), START)
    _to_state(h, state, START)
    assert h.engine.agent_state("a1")[0] is state
    event = _agent_events(START + timedelta(seconds=1))[index]
    before = snapshot(h.engine, ["c1"])
    try:
        h.send(event)
    except (IllegalTransition, EngineError):
        assert snapshot(h.engine, ["c1"]) == before


# ------------------------------------------------------------------------- random event streams

call_ix = st.integers(0, 30)
agent_ix = st.integers(0, 3)
action = st.one_of(
    # the productive actions are listed twice: they make the streams dense in offers and failures
    st.tuples(st.just("arrive"), st.sampled_from(QUEUES), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("arrive"), st.sampled_from(QUEUES), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("ready"), agent_ix),
    st.tuples(st.just("ready"), agent_ix),
    st.tuples(st.just("answer"), call_ix),
    st.tuples(st.just("fail"), call_ix, st.sampled_from(["noanswer", "busy", "congestion"])),
    st.tuples(st.just("fail"), call_ix, st.sampled_from(["noanswer", "busy", "congestion"])),
    st.tuples(st.just("end"), call_ix),
    st.tuples(st.just("end"), call_ix),
    st.tuples(st.just("hangup"), call_ix),
    st.tuples(st.just("login"), agent_ix),
    st.tuples(st.just("notready"), agent_ix),
    st.tuples(st.just("logout"), agent_ix),
    st.tuples(st.just("force"), agent_ix, st.sampled_from(["ready", "not_ready", "logged_out"])),
    st.tuples(st.just("callback"), call_ix),
    st.tuples(st.just("move"), call_ix, st.sampled_from(QUEUES)),
    st.tuples(st.just("priority"), call_ix, st.integers(0, 2)),
    st.tuples(st.just("wait"), st.integers(1, 900)),
)

SKILLS = ((), (("x", 1),), (("x", 2),), (("x", 3),))


class Checker:
    """Follows the commands and checks the invariants after every handle()."""

    def __init__(self, engine: Engine, shifts: ShiftRules | None) -> None:
        self.engine = engine
        self.shifts = shifts
        self.skills: dict[str, tuple[tuple[str, int], ...]] = {}
        self.place: dict[str, tuple[int, float, int]] = {}  # FIFO place: (-priority, entered, n)
        self.calls: list[str] = []
        self.ringing: dict[str, str] = {}  # call -> agent
        self.holding: dict[str, str] = {}  # agent -> call (offer or talk)
        self.outcomes: dict[str, list[str]] = {}
        self.n = itertools.count()

    def arrived(self, call_id: str, priority: int, skills: tuple[tuple[str, int], ...], at: datetime) -> None:
        self.calls.append(call_id)
        self.skills[call_id] = skills
        self.place[call_id] = (-priority, at.timestamp(), next(self.n))

    def after(self, event: Event, out: list[Command]) -> None:
        if isinstance(event, SetCallPriority) and event.call_id in self.place:
            _, ts, n = self.place[event.call_id]
            self.place[event.call_id] = (-event.priority, ts, n)
        if isinstance(event, (OfferAnswered, OfferFailed, CallLeft)):
            self.ringing.pop(event.call_id, None)
        if isinstance(event, (OfferFailed, CallLeft)):
            self.holding.pop(getattr(event, "agent_id", "") or self._holder(event.call_id), None)
        if isinstance(event, CallEnded):
            self.holding.pop(self._holder(event.call_id), None)
        for cmd in out:
            if isinstance(cmd, (OfferCall, PlaceCallback)):
                assert cmd.call_id not in self.ringing, "a call offered to two agents"
                assert cmd.agent_id not in self.holding, "an agent holding two calls"
                self._check_fifo(cmd.call_id, cmd.queue)
                if self.shifts is not None:
                    assert self.shifts.ready_allowed(cmd.agent_id, cmd.at), "offer off shift"
                    close = self.shifts.offers_close_at(cmd.agent_id, cmd.at)
                    assert close is None or cmd.at < close, "offer in the shift's last minutes"
                self.ringing[cmd.call_id] = cmd.agent_id
                self.holding[cmd.agent_id] = cmd.call_id
            elif isinstance(cmd, CallOutcome):
                self.outcomes.setdefault(cmd.call_id, []).append(cmd.outcome)
                assert len(self.outcomes[cmd.call_id]) == 1, "two outcomes for one call"
        self._check_no_idle_match(event.at)

    def _holder(self, call_id: str) -> str:
        for agent, call in self.holding.items():
            if call == call_id:
                return agent
        return ""

    def _check_fifo(self, call_id: str, queue: str) -> None:
        mine = self.place[call_id]
        for other in self.calls:
            if other == call_id or self.engine.call_state(other) != "waiting":
                continue
            if self.engine.call_queue(other) != queue or self.skills[other] != self.skills[call_id]:
                continue
            theirs = self.place[other]
            if theirs[0] == mine[0]:
                assert theirs > mine, f"{other} waited longer than {call_id} with the same priority"

    def _check_no_idle_match(self, at: datetime) -> None:
        e = self.engine
        for agent in AGENTS:
            if e.agent_state(agent.id)[0] is not AgentState.READY:
                continue
            if self.shifts is not None:
                close = self.shifts.offers_close_at(agent.id, at)
                if not self.shifts.ready_allowed(agent.id, at) or (close is not None and at >= close):
                    continue
            for call in self.calls:
                if e.call_state(call) != "waiting" or e.call_queue(call) not in agent.queues:
                    continue
                if all(agent.skills.get(s, 0) >= lvl for s, lvl in self.skills[call]):
                    raise AssertionError(f"{call} waits while {agent.id} is ready for it")


def run_stream(actions: list[tuple[Any, ...]], strategy: Strategy, shifts: bool) -> None:
    cfg = EngineConfig(
        (
            QueueSpec("q1", strategy=strategy, wrapup_seconds=20, skill="x"),
            QueueSpec("q2", strategy=strategy),
        ),
        AGENTS,
    )
    rules = RULES if shifts else None
    engine = Engine(cfg, rules)
    check = Checker(engine, rules)
    h = Harness(engine, START, after=check.after)
    now = START
    agent_ids = [a.id for a in AGENTS]
    for aid in agent_ids:
        h.send(AgentLoggedIn(now, aid))

    def pick(i: int, state: str | None = None) -> str | None:
        pool = [c for c in check.calls if state is None or engine.call_state(c) == state]
        return pool[i % len(pool)] if pool else None

    def send(event: Event) -> None:
        before = snapshot(engine, check.calls)
        try:
            h.send(event)
        except (IllegalTransition, EngineError):
            assert snapshot(engine, check.calls) == before, "a refused event changed the engine"

    for act in actions:
        kind = act[0]
        now += timedelta(seconds=1)
        if kind == "wait":
            now += timedelta(seconds=act[1])
            h.advance(now)
        elif kind == "arrive":
            cid = f"c{len(check.calls)}"
            check.arrived(cid, act[2], SKILLS[act[3]], now)
            send(CallQueued(now, cid, act[1], priority=act[2], skills=SKILLS[act[3]]))
        elif kind == "ready" and engine.agent_state(agent_ids[act[1]])[0] is AgentState.LOGGED_OUT:
            send(AgentLoggedIn(now, agent_ids[act[1]]))
            send(AgentReady(now, agent_ids[act[1]]))
        elif kind in ("login", "ready", "notready", "logout"):
            aid = agent_ids[act[1]]
            if kind == "login":
                send(AgentLoggedIn(now, aid))
            elif kind == "ready":
                send(AgentReady(now, aid))
            elif kind == "logout":
                send(AgentLoggedOut(now, aid))
            else:
                send(AgentNotReady(now, aid, "break"))
        elif kind == "force":
            send(ForceAgentState(now, agent_ids[act[1]], AgentState(act[2]), "meeting", "sup"))
        else:
            state = {"answer": "ringing", "fail": "ringing", "end": "talking"}.get(kind)
            picked = pick(act[1], state)
            if picked is None:
                continue
            cid = picked
            agent = engine.call_agent(cid) or "a1"
            if kind == "hangup":
                send(CallLeft(now, cid))
            elif kind == "answer":
                send(OfferAnswered(now, cid, agent))
            elif kind == "fail":
                send(OfferFailed(now, cid, agent, act[2]))
            elif kind == "end":
                send(CallEnded(now, cid))
            elif kind == "callback":
                send(CallbackRequested(now, cid))
            elif kind == "move":
                send(MoveCall(now, cid, act[2], "sup"))
            elif kind == "priority":
                send(SetCallPriority(now, cid, act[2], "sup"))

    # Drain: everyone still in the ACD leaves (a freed agent may take a virtual-hold call: go again);
    # then each call has exactly one outcome.
    for _ in range(len(check.calls) + 1):
        now += timedelta(seconds=1)
        busy = [c for c in check.calls if engine.call_state(c) in ("talking", "ringing")]
        waiting = [c for c in check.calls if engine.call_state(c) == "waiting"]
        for cid in busy + waiting:
            send(CallEnded(now, cid) if engine.call_state(cid) == "talking" else CallLeft(now, cid))
        if not busy:
            break
    for cid in check.calls:
        if engine.call_state(cid) is None:
            assert len(check.outcomes.get(cid, [])) == 1, f"{cid}: {check.outcomes.get(cid)}"
        else:  # only virtual-hold calls stay (they wait for an agent), and they have no outcome yet
            assert engine.call_state(cid) == "waiting" and cid not in check.outcomes


@FAST
@given(st.lists(action, min_size=10, max_size=80), st.sampled_from(list(Strategy)), st.booleans())
# A call whose ring failed must come back before a later caller of the same kind.
@example(
    [("ready", 0), ("arrive", "q1", 0, 0), ("arrive", "q1", 0, 0), ("fail", 0, "noanswer"), ("ready", 1)],
    Strategy.LONGEST_IDLE,
    False,
)
# A shift end with a call in progress: the call is not cut, no offer after the close.
@example(
    [
        ("ready", 0),
        ("arrive", "q1", 0, 0),
        ("answer", 0),
        ("wait", 900),
        ("wait", 900),
        ("arrive", "q1", 0, 0),
        ("wait", 900),
        ("end", 0),
        ("ready", 0),
        ("wait", 900),
    ],
    Strategy.FEWEST_CALLS,
    True,
)
def test_invariants_over_random_streams(
    actions: list[tuple[Any, ...]], strategy: Strategy, shifts: bool
) -> None:
    run_stream(actions, strategy, shifts)


def test_checker_catches_a_broken_invariant() -> None:
    """The checker is not vacuous: an offer to an agent who holds a call fails it."""
    cfg = EngineConfig((QueueSpec("q1"), QueueSpec("q2")), AGENTS)
    engine = Engine(cfg)
    check = Checker(engine, None)
    at = START
    check.holding["a1"] = "cX"
    with pytest.raises(AssertionError):
        check.after(AgentReady(at, "a1"), [OfferCall("c9", "a1", "q1", at)])
