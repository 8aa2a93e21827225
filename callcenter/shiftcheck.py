"""`callcenter shifts check --config FILE --week 2026-W48`: every interval of the week where the roster
leaves a queue under its minimum staffing, in the centre's language and time zone.

Exit 0: every minimum is met; 1: at least one gap; 2: the config or the week cannot be used.
"""

from __future__ import annotations

import sys
from typing import TextIO

from agents.shifts import Gap, ShiftError, check_week
from callcenter.engine_config import roster_from
from config.models import Config

WEEKDAYS = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def format_gap(gap: Gap, cfg: Config) -> str:
    lang = cfg.centre.language
    day = WEEKDAYS[lang][gap.start.weekday()]
    end = f"{gap.end:%H:%M}" if gap.end.date() == gap.start.date() or gap.end.hour or gap.end.minute else "24:00"
    label = cfg.queue(gap.queue).label(lang)
    if lang == "zh":
        return (f"{day} {gap.start:%Y-%m-%d %H:%M}-{end}  {label} ({gap.queue})  "
                f"排班 {gap.scheduled} 人 / 最低 {gap.required} 人")
    return (f"{day} {gap.start:%Y-%m-%d %H:%M}-{end}  {label} ({gap.queue})  "
            f"planned {gap.scheduled} / minimum {gap.required}")


def summary(gaps: list[Gap], cfg: Config, week: str) -> str:
    tz = cfg.centre.timezone
    rules = len(cfg.staffing)
    queues = len({g.queue for g in gaps})
    if cfg.centre.language == "zh":
        if not rules:
            return f"{week}：未配置最低在岗要求（staffing），无需检查（时区 {tz}）"
        if not gaps:
            return f"{week}：排班满足全部 {rules} 条最低在岗要求（时区 {tz}）"
        return f"{week}：{queues} 个队列共 {len(gaps)} 个时段低于最低在岗人数（时区 {tz}）"
    if not rules:
        return f"{week}: no minimum staffing (staffing) configured, nothing to check ({tz})"
    if not gaps:
        return f"{week}: the roster meets all {rules} minimum staffing rules ({tz})"
    return f"{week}: {len(gaps)} intervals under minimum staffing in {queues} queue{'s' if queues != 1 else ''} ({tz})"


def shifts_check(cfg: Config, week: str, out: TextIO) -> int:
    """Print the gaps of ``week`` and the summary; 1 if any gap, else 0. Raises ShiftError."""
    gaps = check_week(roster_from(cfg), week)
    for gap in gaps:
        print(format_gap(gap, cfg), file=out)
    print(summary(gaps, cfg, week), file=out)
    return 1 if gaps else 0


def shifts_check_main(config_path: str, week: str) -> int:
    from config.loader import ConfigError, load_config

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        print(exc.format_errors(), file=sys.stderr)
        return 2
    try:
        return shifts_check(cfg, week, sys.stdout)
    except ShiftError as exc:
        print(f"{config_path}: {exc}", file=sys.stderr)
        return 2
