"""Terminal tables for `callcenter staffing` in the centre's language."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

WEEKDAYS = {"zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
            "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def _hour_rows(first: date, days: int, lang: str) -> list[str]:
    return [f"{(first + timedelta(days=d)).isoformat()} {WEEKDAYS[lang][(first + timedelta(days=d)).weekday()]}"
            for d in range(days)]


def forecast_lines(data: dict[str, Any], first: date, calls: NDArray[np.float64], lang: str) -> list[str]:
    zh = lang == "zh"
    out = ["来电预测（每 30 分钟，按两小时汇总）" if zh else "Forecast offered calls (30-min intervals, per 2 hours)"]
    out.append(f"{'':16}" + "".join(f"{h:>5}" for h in range(0, 24, 2)) + f"{'合计' if zh else 'total':>8}")
    for label, row in zip(_hour_rows(first, calls.shape[0], lang), calls, strict=True):
        two_hours = row.reshape(12, 4).sum(axis=1)
        out.append(f"{label:16}" + "".join(f"{v:5.0f}" for v in two_hours) + f"{row.sum():8.0f}")
    for q, f in data["queues"].items():
        km = f["patience_km_median_s"]
        out.append(f"  {q}: {'预计来电' if zh else 'calls'} {f['calls']:.0f}, AHT {f['aht_s']:.0f}s, "
                   f"{'平均耐心' if zh else 'mean patience'} {f['patience_mean_s']:.0f}s"
                   f" (Kaplan-Meier {'中位数' if zh else 'median'} {km if km is None else round(km)}s)")
    return out


def accuracy_lines(table: list[dict[str, Any]], lang: str) -> list[str]:
    zh = lang == "zh"
    head = ("保留周" if zh else "held-back week", "WAPE/30min", "MAPE/30min", "WAPE/day", "MAPE/day")
    out = ["", ("预测准确度（模型 vs 季节性朴素法）" if zh else "Accuracy (model vs seasonal-naive)"),
           f"{head[0]:14}" + "".join(f"{h:>22}" for h in head[1:])]
    for row in table:
        m, n = row["model"], row["seasonal_naive"]
        cells = "".join(f"{m[k]:>10.1%} vs {n[k]:>7.1%}" for k in ("wape_interval", "mape_interval", "wape_day",
                                                                   "mape_day"))
        out.append(f"{row['week_from']:14}{cells}")
    return out


def plan_lines(data: dict[str, Any], plan: Any, proofs: dict[str, Any], lang: str) -> list[str]:
    zh = lang == "zh"
    r = data["roster"]
    out = ["每 30 分钟所需坐席（Erlang-A，按小时取最大）" if zh else "Agents needed (Erlang-A, max per hour)",
           f"{'':16}" + "".join(f"{h:>4}" for h in range(24))]
    for label, row in zip(_hour_rows(plan.first, plan.days, lang), plan.need, strict=True):
        out.append(f"{label:16}" + "".join(f"{v:4d}" for v in row.reshape(24, 2).max(axis=1)))
    teams = ", ".join(f"{k} × {n}" for k, n in r["teams"].items())
    if zh:
        fte = f"，折合全职 {r['full_time_equivalent']} 人" if "full_time_equivalent" in r else ""
        more = r.get("more_agents_needed", r["shortfall"])
        out += [f"建议排班：{teams}；共 {r['agents']} 个岗位{fte}（现有 {r['available']} 人"
                + (f"，还需 {more} 人）" if more else "）"),
                f"工时：建议 {r['agent_hours']:.0f} 小时 / 现行 {data['current_agent_hours']:.0f} 小时"
                f"（节省 {data['agent_hours_saved']:.0f} 小时）；求解 {r['solve_seconds']:.3f} 秒"]
    else:
        fte = f", {r['full_time_equivalent']} full-time" if "full_time_equivalent" in r else ""
        more = r.get("more_agents_needed", r["shortfall"])
        out += [f"Suggested roster: {teams}; {r['agents']} positions{fte} ({r['available']} agents configured"
                + (f", {more} more needed)" if more else ")"),
                f"Agent-hours: suggested {r['agent_hours']:.0f} / current {data['current_agent_hours']:.0f} "
                f"(saved {data['agent_hours_saved']:.0f}); solved in {r['solve_seconds']:.3f} s"]
    grown = data.get("current_rota_at_need") or {}
    if grown.get("team_size"):
        out.append((f"现行轮班要满足需求：每班组 {grown['team_size']} 人（现 {grown['configured_team_size']} 人），"
                    f"共 {grown['agents']} 人、{grown['agent_hours']:.0f} 小时") if zh else
                   (f"The current rota meets the need with teams of {grown['team_size']} "
                    f"(now {grown['configured_team_size']}): {grown['agents']} agents, "
                    f"{grown['agent_hours']:.0f} agent-hours"))
    for label, p in data["proof"].items():
        name = {"current": "现行排班", "suggested": "建议排班"}[label] if zh else f"{label} roster"
        out.append(f"{name}: {'仿真接通率' if zh else 'simulated connection rate'} {p['connection_rate']:.2%}, "
                   f"{'达标时段' if zh else 'intervals at target'} {p['intervals_at_or_above_target']:.1%}")
    out.append("逐时段：仿真 / Erlang-A 预测（建议排班，第一天）" if zh else
                "Per interval: simulated / Erlang-A predicted (suggested roster, first day)")
    p = proofs["suggested"]
    for s in range(48):
        if p.offered[0, s] > 0:
            out.append(f"  {s // 2:02d}:{s % 2 * 30:02d}  {p.rate[0, s]:.1%} / {p.predicted[0, s]:.1%}"
                       f"  ({p.offered[0, s]:.0f} {'通' if zh else 'calls'})")
    return out
