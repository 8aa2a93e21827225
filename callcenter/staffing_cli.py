"""`callcenter staffing seed|forecast|plan|roster`: workforce planning from the store's call records.

    callcenter staffing seed     --from 2026-01-05 --days 91      a quarter of history through the ACD engine
    callcenter staffing forecast --from 2026-04-06 --days 7       offered calls per interval, accuracy backtest
    callcenter staffing plan     --from 2026-04-06 --days 7       Erlang-A need, roster, proof by simulation
    callcenter staffing roster   --from 2026-04-06 --out frag.yaml  the roster as a config fragment

Every command prints a table in the centre's language; --json prints the figures instead; --chart FILE
(.png or .html) draws calls, need and agents per interval.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from records.private import write_private

DEFAULT_CONFIG = "config/example.yaml"
HISTORY_DAYS = 91


def add_staffing_commands(sub: Any) -> None:
    st = sub.add_parser("staffing", help="forecast, Erlang-A staffing, roster suggestion (and a seeded quarter)")
    ssub = st.add_subparsers(dest="staffing_command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", default=DEFAULT_CONFIG)
        p.add_argument("--database", default=None, help="SQLAlchemy URL (default: the config's)")
        p.add_argument("--from", dest="first", required=True, help="first planned day YYYY-MM-DD (local)")
        p.add_argument("--days", type=int, default=7)
        p.add_argument("--history-days", type=int, default=HISTORY_DAYS, help="days of records before --from")
        p.add_argument("--json", action="store_true", help="print JSON figures instead of the table")
        p.add_argument("--language", choices=["zh", "en"], default=None, help="default: centre.language")
        p.add_argument("--chart", default=None, help="write a chart (.png or .html)")
        p.add_argument("--service-level", type=float, default=0.0, help="share answered within "
                       "centre.service_level_seconds (default 0: no such target)")
        p.add_argument("--occupancy-max", type=float, default=0.9)
        p.add_argument("--shrinkage", type=float, default=0.0, help="paid time off the phones beyond the "
                       "roster's breaks (meetings, absence), e.g. 0.1")

    s = ssub.add_parser("seed", help="a seeded quarter of calls played through the ACD engine into the store")
    s.add_argument("--config", default=DEFAULT_CONFIG)
    s.add_argument("--database", default=None)
    s.add_argument("--from", dest="first", required=True, help="first day YYYY-MM-DD")
    s.add_argument("--days", type=int, default=91)
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(func=seed_main)
    f = ssub.add_parser("forecast", help="offered calls per 30-minute interval and the accuracy backtest")
    common(f)
    f.add_argument("--weeks-back", type=int, default=3, help="held-back weeks for the accuracy table")
    f.add_argument("--save-history", default=None, help="write the centre's offered calls (days x 48) as .npy "
                   "(bench/forecast_vs_statsforecast.py reads it)")
    f.set_defaults(func=forecast_main)
    p = ssub.add_parser("plan", help="Erlang-A agents per interval, the roster, and the proof by simulation")
    common(p)
    p.add_argument("--replications", type=int, default=10, help="simulated runs of the planned days")
    p.set_defaults(func=plan_main)
    r = ssub.add_parser("roster", help="the suggested roster as a config fragment")
    common(r)
    r.add_argument("--out", required=True, help="YAML fragment to write (agents, shifts, teams, staffing)")
    r.add_argument("--write-config", default=None, help="also write the whole config with the fragment applied")
    r.set_defaults(func=roster_main)


def _config(args: argparse.Namespace) -> Any:
    from callcenter.reports.cli import _config as load

    return load(args)


def _day(text: str) -> date:
    from callcenter.reports.cli import _parse_day

    return _parse_day(text)


def seed_main(args: argparse.Namespace) -> int:
    from callcenter.engine_config import engine_config_from, shift_rules_from
    from callcenter.staffing_seed import quarter_rates
    from records.agentlog import AgentLog
    from records.store import Store
    from staffing.simulate import simulate, utc_midnight

    cfg = _config(args)
    first = _day(args.first)
    rates, surge = quarter_rates(first, args.days, args.seed)
    rules = shift_rules_from(cfg)
    if rules is None:
        raise SystemExit("error: the config has no shifts to play")
    ring = {q.name: float(q.ring_timeout) for q in cfg.queues}
    res = simulate(engine_config_from(cfg), rules, utc_midnight(first, cfg.centre.timezone), rates,
                   seed=args.seed, ring_timeout=ring)
    with Store(cfg.database.url) as store:
        new = 0
        for i in range(0, len(res.records), 5000):
            new += store.write_batch(res.records[i : i + 5000])
        AgentLog(store.engine).write(res.intervals)
    print(json.dumps({"records": len(res.records), "new": new, "agent_intervals": len(res.intervals),
                      "surge_day": surge.isoformat(), "from": first.isoformat(), "days": args.days}))
    return 0


def _history(args: argparse.Namespace, cfg: Any) -> tuple[dict[str, Any], date, int]:
    from records.store import Store
    from staffing.history import read_history
    from staffing.simulate import utc_midnight

    first = _day(args.first)
    hist_first = first - timedelta(days=args.history_days)
    tz = cfg.centre.timezone
    with Store(cfg.database.url, create=False) as store:
        records = store.records(utc_midnight(hist_first, tz), utc_midnight(first, tz))
    wrapup = {q.name: float(q.wrapup_seconds) for q in cfg.queues}
    history = read_history(records, ZoneInfo(tz), wrapup)
    if not history:
        raise SystemExit(f"error: no queued calls in the store between {hist_first} and {first}")
    return history, hist_first, args.history_days


def _targets(args: argparse.Namespace, cfg: Any) -> Any:
    from staffing.requirements import Targets

    return Targets(cfg.centre.connection_rate_target, args.service_level, cfg.centre.service_level_seconds,
                   args.occupancy_max, args.shrinkage)


def forecast_main(args: argparse.Namespace) -> int:
    from staffing.plan import accuracy_table, forecast_queues

    cfg = _config(args)
    history, hist_first, hist_days = _history(args, cfg)
    first = _day(args.first)
    queues = forecast_queues(history, hist_first, hist_days, first, args.days)
    table = accuracy_table(history, hist_first, hist_days, args.weeks_back)
    if args.save_history:
        from staffing.history import daily_matrix

        np.save(args.save_history, sum((np.array(daily_matrix(h.offered, hist_first, hist_days))
                                        for h in history.values()), start=np.zeros((hist_days, 48))))
    total = sum((q.calls for q in queues), start=np.zeros((args.days, 48)))
    data = {"from": first.isoformat(), "days": args.days,
            "queues": {q.queue: {"calls": round(float(q.calls.sum()), 1), "aht_s": round(q.aht_s, 1),
                                 "patience_mean_s": round(q.patience_s, 1),
                                 "patience_km_median_s": q.km_median_s} for q in queues},
            "calls_per_day": [round(float(v), 1) for v in total.sum(axis=1)],
            "calls_per_interval": [[round(float(v), 2) for v in row] for row in total],
            "accuracy": table}
    if args.chart:
        _chart(args.chart, first, total, None, None, cfg.centre.language)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    from staffing.tables import accuracy_lines, forecast_lines

    print("\n".join(forecast_lines(data, first, total, cfg.centre.language)))
    print("\n".join(accuracy_lines(table, cfg.centre.language)))
    return 0


def _plan_and_roster(args: argparse.Namespace, cfg: Any) -> tuple[Any, Any, list[Any]]:
    from callcenter.engine_config import roster_from
    from staffing.plan import make_plan, suggest, templates_from

    history, hist_first, hist_days = _history(args, cfg)
    plan = make_plan(history, hist_first, hist_days, _day(args.first), args.days, _targets(args, cfg))
    templates = templates_from(cfg)
    rplan = suggest(plan, templates, roster_from(cfg), len(cfg.agents))
    return plan, rplan, templates


def plan_main(args: argparse.Namespace) -> int:
    from staffing.plan import roster_hours, scaled_rota
    from staffing.tables import plan_lines

    cfg = _config(args)
    plan, rplan, _ = _plan_and_roster(args, cfg)
    fragment_cfg = _fragment_config(args, cfg, rplan, plan)
    proofs = {}
    for label, c in (("current", cfg), ("suggested", fragment_cfg)):
        proofs[label] = _prove(c, plan, args.replications)
    from callcenter.engine_config import roster_from

    current_hours = roster_hours(roster_from(cfg), plan.first, plan.days)
    target = cfg.centre.connection_rate_target
    data = _plan_json(plan, rplan, proofs, current_hours, target)
    # Agents as the config employs them: the current roster's paid hours per agent over the same days.
    per_agent = current_hours / len(cfg.agents) if cfg.agents and current_hours else 0.0
    if per_agent:
        data["roster"]["full_time_equivalent"] = round(rplan.agent_hours / per_agent, 1)
        data["roster"]["more_agents_needed"] = max(0, math.ceil(rplan.agent_hours / per_agent - 1e-9) - len(cfg.agents))
    data["current_rota_at_need"] = scaled_rota(roster_from(cfg), plan)
    if args.chart:
        from staffing.plan import roster_coverage

        cov = roster_coverage(roster_from(fragment_cfg), plan.first, plan.days)
        _chart(args.chart, plan.first, plan.calls, plan.need, cov, cfg.centre.language)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print("\n".join(plan_lines(data, plan, proofs, cfg.centre.language)))
    return 0


def _prove(cfg: Any, plan: Any, replications: int) -> Any:
    from callcenter.engine_config import engine_config_from, roster_from, shift_rules_from
    from staffing.plan import prove, roster_coverage

    rules = shift_rules_from(cfg)
    if rules is None:
        raise SystemExit("error: the config has no shifts: nothing to play")
    coverage = roster_coverage(roster_from(cfg), plan.first, plan.days)
    ring = {q.name: float(q.ring_timeout) for q in cfg.queues}
    return prove(engine_config_from(cfg), rules, plan, coverage, cfg.centre.timezone, replications, ring_timeout=ring)


def _plan_json(plan: Any, rplan: Any, proofs: dict[str, Any], current_hours: float, target: float) -> dict[str, Any]:
    def proof(p: Any) -> dict[str, Any]:
        return {"connection_rate": round(p.overall, 4),
                "intervals_at_or_above_target": round(p.share_at_or_above(target), 4),
                "simulated_rate": [[round(float(v), 4) for v in row] for row in p.rate],
                "predicted_rate": [[round(float(v), 4) for v in row] for row in p.predicted]}

    return {"from": plan.first.isoformat(), "days": plan.days, "target": target,
            "aht_s": round(plan.aht_s, 1), "patience_mean_s": round(plan.patience_s, 1),
            "calls": round(float(plan.calls.sum()), 1),
            "need": plan.need.tolist(),
            "roster": {"teams": {f"{t}/{p}": n for (t, p), n in rplan.teams.items()},
                       "agents": rplan.agents, "available": rplan.available, "shortfall": rplan.shortfall,
                       "agent_hours": rplan.agent_hours, "solve_seconds": round(rplan.solve_seconds, 4),
                       "status": rplan.status},
            "current_agent_hours": current_hours,
            "agent_hours_saved": round(current_hours - rplan.agent_hours, 1),
            "proof": {k: proof(p) for k, p in proofs.items()}}


def _fragment_config(args: argparse.Namespace, cfg: Any, rplan: Any, plan: Any) -> Any:
    """The config with the suggested roster in place (read back through the loader, as an admin would)."""
    import tempfile

    from staffing.fragment import roster_fragment
    from staffing.plan import templates_from

    fragment = roster_fragment(cfg, rplan, plan.need, plan.first, templates_from(cfg))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        _write_merged(args, fragment, path)
        ns = argparse.Namespace(config=str(path), database=args.database, language=None)
        return _config(ns)


def _write_merged(args: argparse.Namespace, fragment: dict[str, Any], path: Path) -> None:
    import yaml

    from staffing.fragment import apply_fragment

    raw = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    merged = apply_fragment(raw, json.loads(json.dumps(fragment)))
    # the whole config, users' password hashes included: 0600
    write_private(path, yaml.safe_dump(merged, allow_unicode=True, sort_keys=False))


def roster_main(args: argparse.Namespace) -> int:
    import yaml

    from staffing.fragment import roster_fragment

    cfg = _config(args)
    plan, rplan, templates = _plan_and_roster(args, cfg)
    fragment = roster_fragment(cfg, rplan, plan.need, plan.first, templates)
    text = yaml.safe_dump(fragment, allow_unicode=True, sort_keys=False)
    Path(args.out).write_text(text, encoding="utf-8")
    if args.write_config:
        _write_merged(args, fragment, Path(args.write_config))
    week = plan.first.isocalendar()
    data = {"fragment": args.out, "teams": {f"{t}/{p}": n for (t, p), n in rplan.teams.items()},
            "agents": rplan.agents, "shortfall": rplan.shortfall, "agent_hours": rplan.agent_hours,
            "solve_seconds": round(rplan.solve_seconds, 4), "check": f"callcenter shifts check --config "
            f"{args.write_config or 'CONFIG'} --week {week.year}-W{week.week:02d}"}
    print(json.dumps(data, ensure_ascii=False) if args.json else "\n".join(f"{k}: {v}" for k, v in data.items()))
    return 0


CHART_LABELS = {"zh": ("来电（每 30 分钟）", "所需坐席（Erlang-A）", "排班坐席", "自 {d} 起的天数"),
                "en": ("calls / 30 min", "agents needed (Erlang-A)", "agents rostered", "days from {d}")}


def _chart(path: str, first: date, calls: Any, need: Any, coverage: Any, lang: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from callcenter.reports.chart import CJK_FONT, _font_family

    zh = lang == "zh" and CJK_FONT.exists()  # without the CJK font the labels stay English (no empty boxes)
    labels = CHART_LABELS["zh" if zh else "en"]
    with plt.rc_context({"font.family": _font_family("zh" if zh else "en")}):
        fig, ax = plt.subplots(figsize=(12, 4))
        x = np.arange(calls.size) / 48.0
        ax.plot(x, calls.ravel(), label=labels[0])
        if need is not None:
            ax.step(x, need.ravel(), where="post", label=labels[1])
        if coverage is not None:
            ax.step(x, coverage.ravel(), where="post", label=labels[2])
        ax.set_xlabel(labels[3].format(d=first.isoformat()))
        ax.legend(loc="upper right")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
    if path.endswith(".html"):
        img = base64.b64encode(buf.getvalue()).decode()
        Path(path).write_text(f"<!doctype html><meta charset=utf-8><title>staffing</title>"
                              f"<img alt='staffing chart' src='data:image/png;base64,{img}'>", encoding="utf-8")
    else:
        Path(path).write_bytes(buf.getvalue())
    print(f"chart: {path}", file=sys.stderr)
