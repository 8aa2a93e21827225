"""The fewest agent-hours that cover a per-interval requirement, from the config's shift templates, as a
mixed-integer programme solved by HiGHS (highspy).

Model. For each shift template s and day pattern p (``daily``: every day; ``workdays``: the Chinese
working days, adjusted weekends included; ``offdays``: the others), x[s,p] agents work s on every day of
p for the whole planned period (so each keeps one shift: the rest between shifts is 24 h minus the shift,
checked against ``MIN_REST_HOURS``). During a template's break window its team takes the break in
``waves`` turns: at most ceil(x / waves) are away in any one interval, modelled by an integer
y[s,p] >= x[s,p] / waves.

    minimise   Σ x[s,p] × paid hours of s × days p runs in the period
    subject to Σ_{s,p on duty in t} x[s,p] - Σ_{s,p on break window in t} y[s,p] >= need[t]   every interval t
               CALLS_PER_AGENT_DAY × agents working day d >= expected answered calls of day d
               x[s,p] = 0 or x[s,p] >= MIN_TEAM
and the agents it takes are compared with the agents configured (the shortfall is reported, not forced).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time as clock
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import numpy as np
from numpy.typing import NDArray

from staffing.history import SLOT_MINUTES, SLOTS

CALLS_PER_AGENT_DAY = 300  # the centre's ceiling: no agent answers more than this in a day
MIN_REST_HOURS = 11
MIN_TEAM = 2
MIP_GAP = 0.01
TIME_LIMIT_S = 10.0
PATTERNS = ("daily", "workdays", "offdays")


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    start: time
    end: time
    break_start: time | None = None
    break_minutes: int = 0
    waves: int = 1

    @property
    def hours(self) -> float:
        return self.slots * SLOT_MINUTES / 60

    @property
    def slots(self) -> int:
        a = self.start.hour * 2 + self.start.minute // SLOT_MINUTES
        b = self.end.hour * 2 + self.end.minute // SLOT_MINUTES
        return (b - a) % SLOTS or SLOTS

    def cover(self) -> tuple[list[int], list[int]]:
        """Slot offsets from the start day's midnight: on duty, and inside the break window."""
        a = self.start.hour * 2 + self.start.minute // SLOT_MINUTES
        duty = list(range(a, a + self.slots))
        window: list[int] = []
        if self.break_start is not None and self.break_minutes:
            b = self.break_start.hour * 2 + self.break_start.minute // SLOT_MINUTES
            if b < a:
                b += SLOTS  # after midnight of a night shift
            n = math.ceil(self.break_minutes * self.waves / SLOT_MINUTES)
            window = [t for t in range(b, b + n) if t in set(duty)]
        return duty, window


@dataclass
class RosterPlan:
    teams: dict[tuple[str, str], int]  # (template, pattern) -> agents
    agent_hours: float
    agents: int
    available: int
    solve_seconds: float
    status: str
    coverage: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def shortfall(self) -> int:
        return max(0, self.agents - self.available)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS prints its banner to the C stdout when created; keep it off `--json` output."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def solve(need: NDArray[np.int64], first: date, templates: list[Template], runs_on: Callable[[str, date], bool],
          available: int, day_calls: NDArray[np.float64] | None = None) -> RosterPlan:
    """need: agents per interval from `first`'s local midnight (days x SLOTS, flattened or not)."""
    need = np.asarray(need, dtype=np.int64).ravel()
    days = need.size // SLOTS
    # No cap on the agents: the fewest hours, then the shortfall against `available` is reported (a capped
    # model that is infeasible costs HiGHS seconds to prove so, and says less).
    plan = _solve(need, first, days, templates, runs_on, None, day_calls)
    if plan is None:
        raise ValueError("no roster of these shift templates can cover the requirement")
    plan.available = available
    return plan


def _solve(need: NDArray[np.int64], first: date, days: int, templates: list[Template],
           runs_on: Callable[[str, date], bool], available: int | None,
           day_calls: NDArray[np.float64] | None) -> RosterPlan | None:
    import highspy

    started = clock.perf_counter()
    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", TIME_LIMIT_S)
    h.setOptionValue("mip_rel_gap", MIP_GAP)  # agent-hours within 1 % of the optimum are as good a roster
    cap = int(need.max(initial=0)) * 2 + 2
    keys = [(t.name, p) for t in templates for p in PATTERNS]
    x = {k: h.addIntegral(lb=0, ub=cap) for k in keys}
    y = {k: h.addIntegral(lb=0, ub=cap) for k in keys}
    # A team is 0 or at least MIN_TEAM agents: two members of different skill mixes keep every queue
    # served while one of them is on a call or a break.
    used = {k: h.addBinary() for k in keys}
    for k in keys:
        h.addConstr(x[k] >= MIN_TEAM * used[k])
        h.addConstr(x[k] <= cap * used[k])
    on: list[list[tuple[str, str]]] = [[] for _ in range(need.size)]
    off: list[list[tuple[str, str]]] = [[] for _ in range(need.size)]
    working: list[list[tuple[str, str]]] = [[] for _ in range(days)]
    hours_of: dict[tuple[str, str], float] = dict.fromkeys(keys, 0.0)
    for t in templates:
        duty, window = t.cover()
        for p in PATTERNS:
            for d in range(-1, days):
                if not runs_on(p, first + timedelta(days=d)):
                    continue
                if d >= 0:
                    hours_of[(t.name, p)] += t.hours
                    working[d].append((t.name, p))
                for s in duty:
                    if 0 <= d * SLOTS + s < need.size:
                        on[d * SLOTS + s].append((t.name, p))
                for s in window:
                    if 0 <= d * SLOTS + s < need.size:
                        off[d * SLOTS + s].append((t.name, p))
        for p in PATTERNS:
            h.addConstr(t.waves * y[(t.name, p)] >= x[(t.name, p)])
    for i, req in enumerate(need):
        if req > 0:
            h.addConstr(h.qsum([x[k] for k in on[i]]) - h.qsum([y[k] for k in off[i]]) >= float(req))
    if day_calls is not None:
        for d in range(days):
            if working[d]:
                h.addConstr(CALLS_PER_AGENT_DAY * h.qsum([x[k] for k in working[d]]) >= float(day_calls[d]))
    if available is not None:
        h.addConstr(h.qsum([x[k] for k in keys]) <= float(available))
    h.minimize(h.qsum([hours_of[k] * x[k] for k in keys]))
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal and not (
            status == highspy.HighsModelStatus.kTimeLimit and h.getInfo().primal_solution_status == 2):
        return None
    teams = {k: round(h.val(x[k])) for k in keys if round(h.val(x[k])) > 0}
    coverage = np.zeros(need.size, dtype=np.int64)
    for i in range(need.size):
        coverage[i] = sum(teams.get(k, 0) for k in on[i]) - sum(math.ceil(teams.get(k, 0) / _waves(templates, k[0]))
                                                               for k in off[i] if teams.get(k, 0))
    return RosterPlan(teams, sum(hours_of[k] * n for k, n in teams.items()), sum(teams.values()),
                      available or 0, clock.perf_counter() - started, str(status).split(".")[-1], coverage)


def _waves(templates: list[Template], name: str) -> int:
    return next(t.waves for t in templates if t.name == name)


def rest_ok(templates: list[Template]) -> list[str]:
    """Templates whose daily repetition leaves less than MIN_REST_HOURS between shifts."""
    return [t.name for t in templates if 24 - t.hours < MIN_REST_HOURS]
