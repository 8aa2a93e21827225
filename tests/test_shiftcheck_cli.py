"""`callcenter shifts check`: the example roster meets its minimums; a roster with a gap is reported
(local time, queue, planned vs minimum) and exits 1; holiday overrides; config errors exit 2."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.shifts import check_week
from callcenter.cli import main
from callcenter.engine_config import roster_from, shift_rules_from
from config.loader import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"


def example_data() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "cc.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def small(tmp_path: Path, **changes: Any) -> Path:
    """Two agents of team A on a weekday office shift; general needs 2 agents 09:00-17:00 on workdays."""
    data: dict[str, Any] = {
        "centre": {"name": "12345", "language": "en"},
        "ami": {"username": "callcenter", "secret": "x"},
        "queues": [{"name": "general", "label_zh": "综合咨询", "label_en": "General enquiries"}],
        "agents": [
            {"id": "1", "name": "A1", "endpoint": "PJSIP/1", "team": "A", "queues": ["general"]},
            {"id": "2", "name": "A2", "endpoint": "PJSIP/2", "team": "A", "queues": ["general"]},
        ],
        "shifts": [{"name": "office", "team": "A", "start": "09:00", "end": "17:00", "days": "workdays"}],
        "staffing": [{"queue": "general", "minimum": 2, "start": "09:00", "end": "17:00", "days": "workdays"}],
    }
    data.update(changes)
    return write(tmp_path, data)


def test_example_meets_its_minimums(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shifts", "check", "--config", str(EXAMPLE), "--week", "2026-W48"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["2026-W48：排班满足全部 5 条最低在岗要求（时区 Asia/Shanghai）"]


def test_example_roster_rotates_teams_weekly_with_staggered_breaks() -> None:
    cfg = load_config(EXAMPLE, environ={})
    roster = roster_from(cfg)
    teams = {t.name: t for t in roster.teams}
    early = [roster.template_for(teams[name], date(2026, 11, 23)) for name in ("甲班", "乙班", "丙班")]
    later = [roster.template_for(teams[name], date(2026, 11, 30)) for name in ("甲班", "乙班", "丙班")]
    assert sorted(t.name for t in early if t) == sorted(t.name for t in later if t) == ["中班", "夜班", "早班"]
    assert [t.name for t in early if t] != [t.name for t in later if t]
    # Lunch in four waves: the four agents of a team never break together.
    rules = shift_rules_from(cfg)
    assert rules is not None
    day = next(t for t in ("甲班", "乙班", "丙班") if (x := roster.template_for(teams[t], date(2026, 11, 23))) and
               x.name == "早班")
    breaks = {roster.starting_on(a, date(2026, 11, 23))[0].breaks[0] for a in teams[day].agents}
    assert len(breaks) == 4


def test_a_gap_is_reported_with_local_time_queue_and_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = example_data()
    data["staffing"][1]["minimum"] = 4  # general at night: 4 of a team of 4, but one is on a break
    assert main(["shifts", "check", "--config", str(write(tmp_path, data)), "--week", "2026-W48"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "周一 2026-11-23 03:00-05:00  综合咨询 (general)  排班 3 人 / 最低 4 人"
    assert len(out) == 8 and out[-1] == "2026-W48：1 个队列共 7 个时段低于最低在岗人数（时区 Asia/Shanghai）"


def test_gap_report_in_english(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    agents = [{"id": "1", "name": "A1", "endpoint": "PJSIP/1", "team": "A", "queues": ["general"]}]
    assert main(["shifts", "check", "--config", str(small(tmp_path, agents=agents)), "--week", "2026-W48"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "Mon 2026-11-23 09:00-17:00  General enquiries (general)  planned 1 / minimum 2"
    assert out[-1] == "2026-W48: 5 intervals under minimum staffing in 1 queue (Asia/Shanghai)"


def test_holiday_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 2026-W40: the National Day week, Thursday 2026-10-01 .. off by the built-in calendar.
    # An override makes Monday 2026-11-23 a day off and Saturday 2026-11-28 a working day: the office
    # shift follows the calendar, so does the staffing rule, and there is no gap either way.
    path = small(tmp_path, holidays={"days_off": ["2026-11-23"], "working_days": ["2026-11-28"]})
    cfg = load_config(path, environ={})
    roster = roster_from(cfg)
    assert not roster.calendar.is_workday(date(2026, 11, 23)) and roster.calendar.is_workday(date(2026, 11, 28))
    assert not roster.calendar.is_workday(date(2026, 10, 1))
    assert check_week(roster, "2026-W48") == []
    # Staffing on every weekday while the shift follows the (overridden) calendar: Monday is a gap.
    path = small(tmp_path, holidays={"days_off": ["2026-11-23"]},
                 staffing=[{"queue": "general", "minimum": 2, "start": "09:00", "end": "17:00", "days": "mon-fri"}])
    assert main(["shifts", "check", "--config", str(path), "--week", "2026-W48"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["Mon 2026-11-23 09:00-17:00  General enquiries (general)  planned 0 / minimum 2",
                   "2026-W48: 1 intervals under minimum staffing in 1 queue (Asia/Shanghai)"]


def test_config_and_week_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = small(tmp_path, staffing=[{"queue": "nope", "minimum": 1}],
                 teams=[{"name": "A", "rotation": ["office", "late"]}])
    assert main(["shifts", "check", "--config", str(path), "--week", "2026-W48"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert "staffing[0].queue: unknown queue 'nope'" in err
    assert "teams[0].rotation[1]: unknown shift 'late'" in err
    assert main(["shifts", "check", "--config", str(small(tmp_path)), "--week", "2026-48"]) == 2
    assert "expected YYYY-Www" in capsys.readouterr().err


def test_rotation_and_breaks_from_config(tmp_path: Path) -> None:
    path = small(
        tmp_path,
        shifts=[{"name": "day", "start": "08:00", "end": "16:00", "breaks": [{"start": "12:00", "minutes": 30,
                                                                             "waves": 2}]},
                {"name": "night", "start": "22:00", "end": "06:00"}],
        teams=[{"name": "A", "rotation": ["day", "night", "off"]}],
        shift_rules={"rotation_start": "2026-W47", "ready_grace_minutes": 15},
        staffing=[],
    )
    cfg = load_config(path, environ={})
    roster = roster_from(cfg)
    team = roster.teams[0]
    assert [getattr(roster.template_for(team, date(2026, 11, d)), "name", None) for d in (16, 23, 30)] == [
        "day", "night", None]
    b1 = roster.starting_on("1", date(2026, 11, 16))[0].breaks[0]
    b2 = roster.starting_on("2", date(2026, 11, 16))[0].breaks[0]
    assert (b2[0] - b1[0]).total_seconds() == 30 * 60
    rules = shift_rules_from(cfg)
    assert rules is not None and rules.ready_grace.total_seconds() == 15 * 60
    assert time(22) == roster.shifts[1].start


def test_one_team_one_shift_a_week(tmp_path: Path) -> None:
    from config.loader import ConfigError

    path = small(tmp_path, shifts=[{"name": "a", "team": "A", "start": "08:00", "end": "12:00"},
                                   {"name": "b", "team": "A", "start": "13:00", "end": "17:00"}])
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "shifts[1].teams[0]" in str(caught.value) and "one shift a week" in str(caught.value)
