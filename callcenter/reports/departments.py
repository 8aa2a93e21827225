"""The monthly department ranking (红黑榜): on-time closure, reply and satisfaction per unit, a weighted
score, the top three (红榜) and bottom three (黑榜) of each of three groups, as 12345 centres rank them:
- counties (区县): each county over the tickets of its territory (the ticket's county);
- city departments (市级部门) and public-service units (公共服务单位): each over the tickets dispatched to it
  (or to a unit under it). Which of the two a department is comes from the department directory
  (config/departments.csv, tickets/departments.py: the `group` of its top unit), never from its name.
  A department the directory does not know, or a county's own department or township, is not in these
  two groups (its ticket still counts for its county); unknown names are counted and listed under
  `unmatched` so they are seen, not silently dropped.

Over tickets created in the month (any `TicketSource`):
- on-time closure rate = tickets closed no later than their due time / tickets judged, where a ticket
  still open whose due time is after `as_of` is not judged yet (pending);
- reply rate = tickets with a reply to the citizen / tickets;
- a ticket counts for the units it names: one answered on the spot (no department) is not in the
  department ranking, one without a county not in the district ranking;
- satisfaction rate = (satisfied + basically satisfied) / tickets surveyed;
- score = sum of weight x rate (a rate with no data counts 0); weights are printed in the report.
Units with fewer than `min_tickets` tickets are listed but not ranked. The same month and `as_of`
give the same figures: nothing depends on when the report runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from callcenter.reports.tickets import TicketRow
from metrics.kpi import rate
from tickets import departments as directory_mod

WEIGHTS = {"on_time": 0.4, "reply": 0.2, "satisfaction": 0.4}
# The groups printed, in this order: directory groups (tickets/departments.py GROUPS).
GROUPS = ("county", "city_department", "public_service")
# The older names of the two ranking keys, still accepted by `rank`.
KEYS = ("department", "district")
MIN_TICKETS = 20
TOP_N = 3


@dataclass(frozen=True, slots=True)
class UnitRow:
    name: str
    tickets: int
    judged: int
    on_time: int
    replied: int
    surveyed: int
    satisfied: int  # satisfied + basically satisfied
    score: float
    ranked: bool

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.on_time, self.judged)

    @property
    def reply_rate(self) -> float | None:
        return rate(self.replied, self.tickets)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.satisfied, self.surveyed)


@dataclass(frozen=True, slots=True)
class GroupRanking:
    group: str
    rows: tuple[UnitRow, ...]  # ranked units by score (best first), then the unranked

    @property
    def ranked(self) -> list[UnitRow]:
        return [r for r in self.rows if r.ranked]

    @property
    def top(self) -> list[UnitRow]:
        return self.ranked[:TOP_N]

    @property
    def bottom(self) -> list[UnitRow]:
        """The last three ranked, worst first; never a unit of the red list (with 4 units: one)."""
        ranked = self.ranked
        return list(reversed(ranked[max(TOP_N, len(ranked) - TOP_N):]))


@dataclass(frozen=True, slots=True)
class DepartmentReport:
    month: str
    as_of: datetime
    weights: dict[str, float]
    min_tickets: int
    tickets: int
    groups: tuple[GroupRanking, ...]
    unmatched: tuple[str, ...] = ()  # department names the directory does not know (not ranked)


class UnitGroups:
    """Department name or code -> the directory group of its top unit (county, city_department, ...)."""

    def __init__(self, directory: directory_mod.Directory) -> None:
        self.group_of: dict[str, str] = {}
        for dep in directory:
            top = directory.ancestors(dep.code)[-1] if dep.parent else dep.code
            group = directory.get(top).group
            for key in (dep.code, dep.name_zh, dep.name_en):
                self.group_of.setdefault(key, group)

    def __call__(self, name: str) -> str | None:
        return self.group_of.get(name)


@cache
def default_groups() -> UnitGroups:
    """The groups of the shipped directory (config/departments.csv)."""
    return UnitGroups(directory_mod.build(directory_mod.read_csv(directory_mod.CONFIG_DIR / "departments.csv")))


def _key_of(group: str, groups: Callable[[str], str | None]) -> Callable[[TicketRow], str]:
    if group in ("county", "district"):
        return lambda t: t.district
    if group == "department":
        return lambda t: t.department
    return lambda t: t.department if t.department and groups(t.department) == group else ""


def rank(tickets: Iterable[TicketRow], group: str, as_of: datetime, weights: dict[str, float] = WEIGHTS,
         min_tickets: int = MIN_TICKETS, groups: Callable[[str], str | None] | None = None) -> GroupRanking:
    if group not in GROUPS + KEYS:
        raise ValueError(f"group must be one of {GROUPS + KEYS}")
    key_of = _key_of(group, groups or default_groups())
    acc: dict[str, list[int]] = {}
    for t in tickets:
        key = key_of(t)
        if not key:  # not given to a unit of this group (answered on the spot, no county): not ranked here
            continue
        a = acc.setdefault(key, [0, 0, 0, 0, 0, 0])
        a[0] += 1
        # No deadline (never dispatched): judged once closed, and then in time.
        closed_in_time = t.closed_at is not None and (t.due_at is None or t.closed_at <= t.due_at)
        if t.closed_at is not None or (t.due_at is not None and t.due_at <= as_of):  # else pending
            a[1] += 1
            a[2] += closed_in_time
        a[3] += t.replied_at is not None
        if t.satisfaction is not None:
            a[4] += 1
            a[5] += t.satisfaction in ("satisfied", "basically_satisfied")
    rows = []
    for name, (n, judged, on_time, replied, surveyed, satisfied) in acc.items():
        score = (weights["on_time"] * (rate(on_time, judged) or 0.0) + weights["reply"] * (rate(replied, n) or 0.0)
                 + weights["satisfaction"] * (rate(satisfied, surveyed) or 0.0))
        rows.append(UnitRow(name, n, judged, on_time, replied, surveyed, satisfied, round(score, 6),
                            n >= min_tickets))
    rows.sort(key=lambda r: (not r.ranked, -r.score, r.name))
    return GroupRanking(group, tuple(rows))


def department_report(tickets: Iterable[TicketRow], month: str, as_of: datetime,
                      weights: dict[str, float] = WEIGHTS, min_tickets: int = MIN_TICKETS,
                      groups: Callable[[str], str | None] | None = None) -> DepartmentReport:
    """`groups` maps a department to its directory group (default: the shipped directory)."""
    if abs(sum(weights.values()) - 1.0) > 1e-9 or set(weights) != set(WEIGHTS):
        raise ValueError(f"weights must be {sorted(WEIGHTS)} summing to 1")
    rows = list(tickets)
    group_of = groups or default_groups()
    unmatched = tuple(sorted({t.department for t in rows if t.department and group_of(t.department) is None}))
    return DepartmentReport(month, as_of, dict(weights), min_tickets, len(rows),
                            tuple(rank(rows, g, as_of, weights, min_tickets, group_of) for g in GROUPS), unmatched)
