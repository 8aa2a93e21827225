"""Adherence to the roster (排班遵从): is the agent doing now what the shift plan says? Pure.

What the roster says of an agent at a moment (:func:`scheduled`):

- ``on_shift``: inside a shift, off its breaks: the agent should be working (ready or on a call);
- ``break``: inside a scheduled break: the agent should not be taking calls;
- ``off``: no shift now (the grace before and after a shift counts as off);
- ``unrostered``: the agent is in no team (or there is no roster): nothing to adhere to.

:func:`adherent` compares that with the ACD state. A call in progress is never counted against an agent
(the ACD never cuts one, so a call that runs into a break or past the shift's end is as planned).
"""

from __future__ import annotations

from datetime import datetime

from agents.shifts import ShiftRules

WORKING = frozenset({"ready", "reserved", "on_call", "wrap_up"})
BUSY = frozenset({"reserved", "on_call", "wrap_up"})


def scheduled(rules: ShiftRules | None, agent_id: str, at: datetime) -> str:
    if rules is None or not rules.roster.has_agent(agent_id):
        return "unrostered"
    shift = next((s for s in rules.roster.shifts_around(agent_id, at) if s.start <= at < s.end), None)
    if shift is None:
        return "off"
    if any(b0 <= at < b1 for b0, b1 in shift.breaks):
        return "break"
    return "on_shift"


def adherent(schedule: str, state: str) -> bool | None:
    """True / False, or None when the agent has no roster to adhere to."""
    if schedule == "unrostered":
        return None
    if state in BUSY:
        return True
    if schedule == "on_shift":
        return state in WORKING
    return state in ("not_ready", "logged_out") if schedule == "break" else state == "logged_out"
