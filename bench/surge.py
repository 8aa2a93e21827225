"""Surge detection on seeded load: detection delay, false alarms a week, the connection rate in the surge
hour with and without the announcement.

    .venv/bin/python bench/surge.py                 # figures as text (about a minute)
    .venv/bin/python bench/surge.py --json          # the same as JSON on stdout
    .venv/bin/python bench/surge.py --chart docs/img/surge.png

What it does (all seeded; the calls are the PBX simulator's own generator, asterisk/sim/load.py and
surge.py, replayed through incidents/replay.py's queue model and the live detector):

1. The usual rate: 4 ordinary weeks (seeds 1001-1004, from Monday 2026-02-02, Asia/Shanghai) learned
   by topic, place and hour of day.
2. False alarms: ordinary weeks (seeds 1..--weeks, each the week from Monday 2026-03-02), every
   candidate opened counts as a false alarm (there is no surge in them).
3. Detection delay: --surges days, each an ordinary day (2026-03-02 + k days, seed k) with a power cut:
   300 extra calls in 20 minutes from 阳光花园, 80 % choosing the utilities topic (menu digit 3), the rate
   rising over the first 5 minutes; the surge starts at 08:00 + (7k mod 13) hours + 17 minutes.
   The delay is the time from the surge's start to the candidate about utilities or 阳光花园.
4. The surge hour (from the surge's start), without an announcement and with it: the supervisor confirms
   --confirm-seconds after detection; surge callers choosing utilities then hear the message and press 2
   for an agent with probability --press2 (and sensitivity at 0.1 / 0.5).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asterisk.sim.config import LoadProfile, Surge
from asterisk.sim.load import generate
from incidents.detect import Baseline, Detector, Settings
from incidents.replay import Replay, detect, staffing

TZ = ZoneInfo("Asia/Shanghai")
TOPICS = {"1": "咨询", "2": "投诉举报", "3": "水电气", "4": "交通出行", "0": ""}
DIGITS = {"1": 0.40, "2": 0.25, "3": 0.10, "4": 0.15, "0": 0.10}
PLACES = [f"{a}{b}" for a in ("阳光", "幸福", "和平", "翠湖", "金桥", "滨江", "龙湾", "建设", "光明", "春华")
          for b in ("花园", "小区", "家园", "新村", "苑", "路")]
SURGE_PLACE = "阳光花园"
TRAIN_START = datetime(2026, 2, 2, tzinfo=TZ)
TEST_START = datetime(2026, 3, 2, tzinfo=TZ)
PROFILE = LoadProfile(menu_digits=DIGITS)
TALK_MEAN = PROFILE.talk_median * 1.1331  # lognormal mean: median * exp(sigma^2 / 2), sigma 0.5


def day_calls(profile: LoadProfile, seed: int, start: datetime, days: float) -> list[Any]:
    expected = sum(profile.hourly_rate) * days
    calls = generate(profile, seed, start, int(expected * 1.3))  # arrivals run past the end: cut below
    return [c for c in calls if c.arrival < days * 86400]


def replay(calls: list[Any], start: datetime, seed: int, **kw: Any) -> Replay:
    r = Replay(start, TOPICS, PLACES, staffing(PROFILE.hourly_rate, TALK_MEAN))
    r.run(calls, seed=seed, **kw)
    return r


def learn() -> Baseline:
    signals = []
    for w in range(4):
        start = TRAIN_START + timedelta(weeks=w)
        signals += [s for s in replay(day_calls(PROFILE, 1001 + w, start, 7), start, 1001 + w).signals]
    return Baseline.learn(signals, days=28, tz=TZ, windows=len(Settings().windows))


def false_alarms(baseline: Baseline, weeks: int) -> list[dict[str, Any]]:
    out = []
    for seed in range(1, weeks + 1):
        start = TEST_START
        r = replay(day_calls(PROFILE, seed, start, 7), start, seed)
        det = Detector(baseline, TZ)
        opened = [n.candidate for n in detect(det, r.signals) if n.kind == "opened"]
        out.append({"seed": seed, "week": f"{start:%Y-%m-%d}..{start + timedelta(days=6):%Y-%m-%d}",
                    "calls": len(r.outcomes), "tests": det.tests, "false_alarms": len(opened),
                    "alarms": [f"{c.what or '*'}@{c.where or '*'} {c.since.astimezone(TZ):%a %H:%M}" for c in opened]})
    return out


def surge_day(baseline: Baseline, k: int, press2: tuple[float, ...], confirm: float) -> dict[str, Any]:
    day = TEST_START + timedelta(days=k)
    offset = (8 + (7 * k) % 13) * 3600 + 17 * 60
    surge = Surge(start=offset, place=SURGE_PLACE, digit="3", topic_share=0.8)
    profile = PROFILE.model_copy(update={"surges": (surge,)})
    calls = day_calls(profile, k, day, 1)  # the ordinary day and the surge on top
    base = replay(calls, day, k)
    start = day + timedelta(seconds=offset)
    det = Detector(baseline, TZ)
    found = None
    for news in detect(det, base.signals):
        c = news.candidate
        if news.kind == "opened" and (c.what == "水电气" or c.where == SURGE_PLACE) and c.last >= start:
            found = c
            break
    hour = (start, start + timedelta(hours=1))
    result: dict[str, Any] = {"day": f"{day:%Y-%m-%d}", "surge_start": f"{start:%H:%M}",
                              "surge_calls": sum(1 for c in calls if c.place), "detected": found is not None}
    rate, offered, answered, _ = base.connection_rate(*hour)
    result["without"] = {"rate": round(rate, 4), "offered": offered, "answered": answered}
    if found is None:
        return result
    result |= {"delay_s": round((found.last - start).total_seconds(), 1), "what": found.what, "where": found.where,
               "calls_at_detection": found.calls}
    announce = found.last + timedelta(seconds=confirm)
    for p in press2:
        r = replay(calls, day, k, announce_at=announce, announce_topic="水电气", press2=p)
        rate, offered, answered, informed = r.connection_rate(*hour)
        result[f"with_press2_{p}"] = {"rate": round(rate, 4), "offered": offered, "answered": answered,
                                      "informed": informed}
    return result


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "n": len(values)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", nargs="?", const="-", help="print the figures as JSON (or write them to a file)")
    ap.add_argument("--weeks", type=int, default=10, help="ordinary weeks for the false-alarm rate")
    ap.add_argument("--surges", type=int, default=20, help="surge days for the detection delay")
    ap.add_argument("--press2", type=float, default=0.3, help="share of surge callers who still want an agent")
    ap.add_argument("--confirm-seconds", type=float, default=120.0, help="detection to the supervisor's click")
    ap.add_argument("--chart", help="write a PNG chart of the surge-hour connection rates")
    args = ap.parse_args(argv)
    press2 = tuple(sorted({0.1, args.press2, 0.5}))
    baseline = learn()
    det = Detector(baseline, TZ)
    weeks = false_alarms(baseline, args.weeks)
    days = [surge_day(baseline, k, press2, args.confirm_seconds) for k in range(args.surges)]
    delays = [d["delay_s"] for d in days if d["detected"]]
    key = f"with_press2_{args.press2}"
    out = {
        "alpha_per_test": det.alpha, "tests_per_week_planned": round(baseline.tests_per_week),
        "false_alarms_per_week_target": det.settings.false_alarms_per_week,
        "false_alarms": {"weeks": len(weeks), "total": sum(w["false_alarms"] for w in weeks),
                         "per_week": sum(w["false_alarms"] for w in weeks) / len(weeks),
                         "week_seed_1": weeks[0], "by_week": [w["false_alarms"] for w in weeks]},
        "detection_delay_s": summary(delays) | {"detected": len(delays), "surges": len(days)},
        "surge_hour_rate_without": summary([d["without"]["rate"] for d in days]),
        "surge_hour_rate_with": {f"press2_{p}": summary([d[f"with_press2_{p}"]["rate"] for d in days if d["detected"]])
                                 for p in press2},
        "press2": args.press2, "confirm_seconds": args.confirm_seconds, "days": days,
    }
    if args.chart:
        chart(days, key, args.press2, args.chart)
    if args.json:
        text = json.dumps(out, ensure_ascii=False, indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text, encoding="utf-8")
    if args.json != "-":
        print_text(out)
    return 0


def print_text(out: dict[str, Any]) -> None:
    fa = out["false_alarms"]
    d = out["detection_delay_s"]
    print(f"alpha per test {out['alpha_per_test']:.2e} (target {out['false_alarms_per_week_target']} false alarms a "
          f"week / {out['tests_per_week_planned']} tests a week)")
    print(f"false alarms: {fa['total']} in {fa['weeks']} ordinary weeks ({fa['per_week']:.2f} a week); "
          f"week {fa['week_seed_1']['week']} seed 1: {fa['week_seed_1']['false_alarms']}")
    print(f"detection delay: median {d.get('median')} s, min {d.get('min')} s, max {d.get('max')} s "
          f"({d['detected']}/{d['surges']} surges detected)")
    print(f"surge-hour connection rate without announcement: {out['surge_hour_rate_without']}")
    for k, v in out["surge_hour_rate_with"].items():
        print(f"  with announcement, {k}: {v}")


def chart(days: list[dict[str, Any]], key: str, press2: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [d for d in days if d["detected"]]
    xs = range(len(shown))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.bar([x - 0.2 for x in xs], [100 * d["without"]["rate"] for d in shown], 0.4, label="without announcement")
    ax.bar([x + 0.2 for x in xs], [100 * d[key]["rate"] for d in shown], 0.4,
           label=f"with announcement ({press2:.0%} press 2)")
    ax.axhline(97, color="grey", lw=0.8, ls="--")
    ax.set_xticks(list(xs), [f"{d['day'][5:]}\n{d['surge_start']}" for d in shown], fontsize=7)
    ax.set_ylabel("connection rate in the surge hour (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Power cut: 300 extra calls in 20 min (seeded days)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
