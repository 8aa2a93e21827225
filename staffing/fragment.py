"""The suggested roster as a config fragment (the `agents`, `shifts`, `teams` and `staffing` sections) that
an admin puts in place of the config's own; `callcenter shifts check` checks it like any roster.

Each (template, pattern) of the plan becomes a shift listed with one team that works it every week; the
agents are dealt to the teams so that each team mixes the queues its members serve. The plan's need per
interval becomes `staffing` minimums on `general` (which every agent serves), next to the config's own
minimums for the other queues.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from staffing.history import SLOTS
from staffing.roster import RosterPlan, Template

PATTERN_LABEL = {"daily": {"zh": "", "en": ""}, "workdays": {"zh": "·工作日", "en": " (workdays)"},
                 "offdays": {"zh": "·休息日", "en": " (days off)"}}
WEEKDAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hhmm(t: time) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def _slot_time(s: int) -> str:
    return f"{(s * 30) // 60 % 24:02d}:{(s * 30) % 60:02d}"


def need_rules(need: NDArray[np.int64], first: date, queue: str = "general") -> list[dict[str, Any]]:
    """Runs of equal need per planned day as staffing rules on that weekday."""
    rules: list[dict[str, Any]] = []
    for d in range(need.shape[0]):
        day = WEEKDAY[(first + timedelta(days=d)).weekday()]
        s = 0
        while s < SLOTS:
            e = s
            while e < SLOTS and need[d, e] == need[d, s]:
                e += 1
            if need[d, s] > 0:
                rules.append({"queue": queue, "minimum": int(need[d, s]), "start": _slot_time(s),
                              "end": _slot_time(e), "days": day})
            s = e
    return rules


def _deal(agents: list[Any], sizes: list[int]) -> list[list[Any]]:
    """Agents dealt to teams of the given sizes (largest first): each team's first two members come from
    different queue mixes (so together they serve every queue), the rest in turns from the most plentiful."""
    pools: dict[tuple[str, ...], list[Any]] = {}
    for a in agents:
        pools.setdefault(tuple(sorted(a.queues)), []).append(a)
    teams: list[list[Any]] = [[] for _ in sizes]
    for k in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        while len(teams[k]) < sizes[k] and any(pools.values()):
            mixes = {tuple(sorted(m.queues)) for m in teams[k]}
            fresh = [m for m in pools if pools[m] and m not in mixes]
            pick = max(fresh or [m for m in pools if pools[m]], key=lambda m: (len(pools[m]), m))
            teams[k].append(pools[pick].pop(0))
    return teams


def roster_fragment(cfg: Any, plan: RosterPlan, need: NDArray[np.int64], first: date,
                    templates: list[Template]) -> dict[str, Any]:
    lang = cfg.centre.language
    keys = sorted(plan.teams, key=lambda k: (-plan.teams[k], k))
    sizes = [plan.teams[k] for k in keys]
    dealt = _deal(list(cfg.agents), sizes)
    all_queues = [q.name for q in cfg.queues]  # a hire to come is trained on every line
    shifts, agents = [], []
    for (tpl, pattern), members, size in zip(keys, dealt, sizes, strict=True):
        src = next(t for t in templates if t.name == tpl)
        name = f"{tpl}{PATTERN_LABEL[pattern][lang]}"
        team = f"{name}{'组' if lang == 'zh' else ' team'}"
        breaks = ([{"start": _hhmm(src.break_start), "minutes": src.break_minutes, "waves": src.waves}]
                  if src.break_start is not None and src.break_minutes else [])
        shifts.append({"name": name, "start": _hhmm(src.start), "end": _hhmm(src.end), "days": pattern,
                       "breaks": breaks, "teams": [team]})
        for a in members:
            agents.append(a.model_dump(mode="json", exclude_none=True) | {"team": team})
        for k in range(size - len(members)):  # more agents than the config has: placeholders to hire
            n = len(agents) + 1
            agents.append({"id": f"{9000 + n}", "name": f"{'待招' if lang == 'zh' else 'to hire'} {n}",
                           "endpoint": f"PJSIP/{9000 + n}", "team": team, "queues": all_queues})
            del k
    placed = {a["id"] for a in agents}
    for a in cfg.agents:  # not needed on the phones this period: kept, in no team (not bound by shifts)
        if str(a.id) not in placed:
            agents.append(a.model_dump(mode="json", exclude_none=True) | {"team": None})
    others = [{"queue": r.queue, "minimum": r.minimum, "start": _hhmm(r.start), "end": _hhmm(r.end),
               "days": r.days} for r in cfg.staffing if r.queue != "general"]
    return {"agents": agents, "shifts": shifts, "teams": [],
            "staffing": need_rules(need, first) + others}


def apply_fragment(raw: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """The raw config mapping with the fragment's sections in place of its own."""
    out = dict(raw)
    out.update(fragment)
    for a in out["agents"]:
        if a.get("team") is None:
            a.pop("team", None)
    return out
