"""The agents' autopilot (``centre.auto_ready_agents``): the daemon stands in for agents nobody sits in for.

- At start, agents on shift log in and go ready (on a break: logged in, not ready); the others when their
  shift comes. One timer per agent (``RosterTimer``) at the next moment of their roster (ready grace
  before a shift, a break's start or end). The engine logs them out at the shift's end plus grace.
- An agent put in not-ready by a missed or refused ring is made ready again after ``AUTO_READY_AFTER``
  (simulated) seconds (``AutoReadyTimer``), as a real one would press "ready" again.

An agent whose desktop sends a command (callcenter/desk.py) joins ``manual_agents``: the autopilot leaves
them alone from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from agents.shifts import ShiftRules
from queueing import AgentLoggedIn, AgentNotReady, AgentReady, AgentState, AgentStateChanged, Engine
from queueing.events import Event

AUTO_READY_AFTER = 20.0
AUTO_READY_REASONS = frozenset({"missed", "busy", "unreachable"})


@dataclass(frozen=True, slots=True)
class AutoReadyTimer:
    """Make the agent ready again after a missed ring."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class RosterTimer:
    """The next moment of the agent's roster."""

    agent_id: str


AutopilotTimer = AutoReadyTimer | RosterTimer


class AutopilotTimers(Protocol):
    def start(self, key: AutopilotTimer, due: datetime) -> None: ...


class Autopilot:
    def __init__(self, *, enabled: bool, agents: Iterable[str], engine: Engine, shift_rules: ShiftRules | None,
                 feed: Callable[[Event], None], timers: AutopilotTimers, manual_agents: set[str]) -> None:
        """``feed``: an event into the engine (the call flow's, refusals counted and dropped)."""
        self.enabled = enabled
        self.agents = list(agents)
        self.engine, self.shift_rules, self.feed, self.timers = engine, shift_rules, feed, timers
        self.manual_agents = manual_agents

    def login_agents(self, now: datetime) -> None:
        """Agents on shift now log in and go ready; the others when their shift comes (``RosterTimer``)."""
        if not self.enabled:
            return
        for agent_id in self.agents:
            if agent_id not in self.manual_agents:
                self._follow_roster(agent_id, now)

    def state_changed(self, cmd: AgentStateChanged) -> None:
        if (self.enabled and cmd.new is AgentState.NOT_READY and cmd.reason in AUTO_READY_REASONS
                and cmd.agent_id not in self.manual_agents):
            # Nobody sits at a desktop to press "ready" again after a missed ring: stand in for
            # the agent after a pause, as a real one would.
            self.timers.start(AutoReadyTimer(cmd.agent_id), cmd.at + timedelta(seconds=AUTO_READY_AFTER))

    def timer_fired(self, key: AutopilotTimer, at: datetime) -> None:
        if isinstance(key, RosterTimer):
            self._follow_roster(key.agent_id, at)
            return
        on_shift = self.shift_rules is None or self.shift_rules.ready_allowed(key.agent_id, at)
        if on_shift and self.engine.agent_state(key.agent_id)[0] is AgentState.NOT_READY:
            self.feed(AgentReady(at=at, agent_id=key.agent_id))

    def _follow_roster(self, agent_id: str, at: datetime) -> None:
        rules = self.shift_rules
        state, reason = self.engine.agent_state(agent_id)
        if rules is None or rules.ready_allowed(agent_id, at):
            if state is AgentState.LOGGED_OUT:
                self.feed(AgentLoggedIn(at=at, agent_id=agent_id))
                state, reason = AgentState.NOT_READY, "login"
            if state is AgentState.NOT_READY and reason in ("login", "break"):
                self.feed(AgentReady(at=at, agent_id=agent_id))
        elif rules.break_until(agent_id, at) is not None:
            if state is AgentState.LOGGED_OUT and rules.current(agent_id, at) is not None:
                self.feed(AgentLoggedIn(at=at, agent_id=agent_id))  # ready when the break is over
            elif state is AgentState.READY:
                self.feed(AgentNotReady(at=at, agent_id=agent_id, reason="break"))
            # busy: the engine puts the agent on the break once the call and wrap-up are over
        if rules is not None:
            due = rules.next_change(agent_id, at)
            if due is not None:
                self.timers.start(RosterTimer(agent_id), due)
