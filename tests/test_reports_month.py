"""The three reports on a seeded simulated month written to a real store: figures agree with each other
and with the store."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.cli import main
from callcenter.reports.daily import day_span, load_daily, records_attributed
from callcenter.reports.departments import WEIGHTS, department_report
from callcenter.reports.month import month_bounds, simulate_month
from callcenter.reports.render import daily_html, daily_text, departments_text, topics_text
from callcenter.reports.tickets import CsvTicketSource, ListTicketSource, Ticket, seeded_tickets, write_csv
from callcenter.reports.topics import NoBaseline, bigrams, topics_report, words
from config.loader import load_config
from metrics.kpi import intervals, kpi
from records.agentlog import AgentLog
from records.model import Outcome
from records.store import Store

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
TZ = ZoneInfo("Asia/Shanghai")
Month = tuple[Any, Any, Store, AgentLog, str]


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    cfg = load_config(EXAMPLE, environ={})
    sim = simulate_month(cfg, 2026, 3, seed=1)
    url = f"sqlite:///{tmp_path_factory.mktemp('month') / 'month.db'}"
    store = Store(url)
    store.write_batch(sim.records)
    log = AgentLog(store.engine)
    log.write(sim.intervals)
    yield cfg, sim, store, log, url
    store.close()


def test_the_month_is_seeded_and_plausible(month: Month) -> None:
    cfg, sim, store, _, _ = month
    again = simulate_month(cfg, 2026, 3, seed=1)
    assert [r.call_id for r in again.records[:50]] == [r.call_id for r in sim.records[:50]]
    assert again.records == sim.records and len(again.intervals) == len(sim.intervals)
    assert simulate_month(cfg, 2026, 3, seed=2).records != sim.records
    assert store.count() == len(sim.records) > 10_000
    k = kpi(sim.records)
    assert 0.9 < (k.connection_rate or 0) < 0.995  # a centre near its target, with bad hours
    start, end = month_bounds(2026, 3, "Asia/Shanghai")
    assert all(start <= r.attributed_at < end for r in sim.records)
    # An agent is in one state at a time: per agent, intervals do not overlap.
    by_agent: dict[str, list[tuple[datetime, datetime]]] = {}
    for iv in sim.intervals:
        by_agent.setdefault(iv.agent_id, []).append((iv.start, iv.end))
    for spans in by_agent.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_daily_report_agrees_with_the_store_and_names_the_incidents(month: Month) -> None:
    cfg, sim, store, log, _ = month
    kinds = {i.kind: i for i in sim.incidents}
    for kind, reason in (("surge", "volume"), ("absence", "staffing"), ("long_calls", "handle_time"),
                         ("meeting", "not_ready")):
        inc = kinds[kind]
        rep = load_daily(cfg, inc.day, store, log)
        start, end = day_span(inc.day, "Asia/Shanghai")
        day_records = records_attributed(store, start, end)
        k = kpi(day_records)
        # The report's figures are the store's: the day and the sum of its hours.
        assert (rep.day_kpi.offered, rep.day_kpi.answered) == (k.offered, k.answered)
        assert sum(h.kpi.offered for h in rep.hours) == k.offered
        assert sum(h.kpi.answered for h in rep.hours) == k.answered
        assert len(rep.hours) == 24 and len(rep.history_days) >= 1
        hours = [h for h in rep.short_hours if inc.start_hour <= h.start.hour < inc.end_hour]
        assert hours, f"{kind}: no hour under target on {inc.day}"
        found = {r.kind for h in hours for r in h.reasons}
        assert reason in found, (kind, found, [(h.start.hour, h.reasons) for h in hours])
    # A quiet ordinary hour is not flagged, and has no reasons.
    rep = load_daily(cfg, date(2026, 3, 4), store, log)
    assert all(not h.reasons for h in rep.hours if not h.short)
    text = daily_text(rep)
    assert "接通率" in text and "2026-03-04" in text
    # 放弃 is the offered calls lost, and its parts add up to it; IVR hang-ups are a line of their own.
    k = rep.day_kpi
    assert k.abandoned_by_stage["ivr"] > 0 and k.abandoned > 0
    assert (f"放弃: {k.abandoned}（排队中 {k.abandoned_by_stage['queue']}，振铃中 "
            f"{k.abandoned_by_stage['ringing']}）") in text
    assert k.abandoned == k.abandoned_by_stage["queue"] + k.abandoned_by_stage["ringing"]
    assert f"语音导航中挂机（未进入人工）: {k.abandoned_by_stage['ivr']}" in text
    page = daily_html(rep, chart=b"\x89PNG")
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page


def test_daily_cli_writes_text_html_and_png(month: Month, tmp_path: Path) -> None:
    _, sim, _, _, url = month
    day = next(i for i in sim.incidents if i.kind == "surge").day.isoformat()
    png = tmp_path / "daily.png"
    assert main(["report", "daily", "--date", day, "--config", str(EXAMPLE), "--database", url,
                 "--format", "png", "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    out = tmp_path / "daily.txt"
    assert main(["report", "daily", "--date", day, "--config", str(EXAMPLE), "--database", url,
                 "--language", "en", "-o", str(out)]) == 0
    assert "more calls than usual" in out.read_text()


def test_tickets_come_from_answered_calls_and_survive_csv(month: Month, tmp_path: Path) -> None:
    _, sim, store, _, _ = month
    tickets = seeded_tickets(sim.records, seed=1)
    answered = {r.call_id for r in sim.records if r.outcome is Outcome.ANSWERED}
    assert tickets and all(t.call_id in answered for t in tickets)
    assert all(isinstance(t, Ticket) for t in tickets)
    assert tickets[0].call_id is not None and store.get(tickets[0].call_id) is not None
    path = tmp_path / "t.csv"
    assert write_csv(tickets, path) == len(tickets)
    start, end = month_bounds(2026, 3, "Asia/Shanghai")
    back = CsvTicketSource(path).tickets(start, end + (end - start))
    assert list(back) == sorted(tickets, key=lambda t: (t.created_at, t.ticket_id))


def test_department_ranking_weights_and_red_black_lists(month: Month) -> None:
    _, sim, _, _, _ = month
    tickets = seeded_tickets(sim.records, seed=1)
    as_of = datetime(2026, 5, 1, tzinfo=UTC)
    rep = department_report(tickets, "2026-03", as_of)
    assert rep.tickets == len(tickets) and rep.weights == WEIGHTS
    # Three groups (区县, 市级部门, 公共服务单位), each department's group from the directory.
    assert [g.group for g in rep.groups] == ["county", "city_department", "public_service"]
    county, city, public = rep.groups
    assert sum(r.tickets for r in county.rows) == len(tickets)  # every ticket counted once for its county
    assert sum(r.tickets for r in city.rows) + sum(r.tickets for r in public.rows) == len(tickets)
    assert {r.name for r in public.rows} == {"水务集团", "排水有限公司", "公交集团", "地铁集团", "燃气集团", "热电集团"}
    assert all(r.name.startswith("市") for r in city.rows) and rep.unmatched == ()
    for g in rep.groups:
        ranked = g.ranked
        assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
        assert len(g.top) == 3 and len(g.bottom) == 3 and not {r.name for r in g.top} & {r.name for r in g.bottom}
        for r in ranked:
            expected = (0.4 * (r.on_time / r.judged) + 0.2 * (r.replied / r.tickets)
                        + 0.4 * (r.satisfied / r.surveyed))
            assert r.score == pytest.approx(expected, abs=1e-6)
    # Reproducible: the same month and cut-off give the same ranking.
    assert department_report(list(reversed(tickets)), "2026-03", as_of) == rep
    text = departments_text(rep, "zh")
    assert "红榜" in text and "黑榜" in text and "40%" in text
    assert [line for line in text.splitlines() if line.startswith("==")] == ["== 区县 ==", "== 市级部门 ==",
                                                                           "== 公共服务单位 =="]
    # The table lines up in a terminal: every row has the header's display width (Chinese is two columns).
    from callcenter.reports.render import width

    table = [line for line in text.splitlines() if line[4:6] == "  "]  # rank (4 columns), two spaces, unit
    assert len({width(line) for line in table}) == 1


def test_the_pending_tickets_are_not_judged() -> None:
    t0 = datetime(2026, 3, 30, tzinfo=UTC)
    open_ticket = Ticket("1", None, t0, "投诉", "网约车", "临江县", "市交通运输局", "网约车绕路",
                         t0.replace(day=31), None, None, None)
    early = department_report([open_ticket], "2026-03", as_of=t0, min_tickets=1)
    late = department_report([open_ticket], "2026-03", as_of=datetime(2026, 4, 5, tzinfo=UTC), min_tickets=1)
    assert early.groups[0].rows[0].judged == 0 and late.groups[0].rows[0].judged == 1
    assert late.groups[0].rows[0].on_time == 0


def test_hot_topics_surface_the_countys_ride_hailing_complaints(month: Month) -> None:
    _, sim, _, _, _ = month
    source = ListTicketSource(seeded_tickets(sim.records, seed=1))
    mid = datetime(2026, 3, 16, tzinfo=TZ).astimezone(UTC)
    start, end = month_bounds(2026, 3, "Asia/Shanghai")
    now, before = source.tickets(mid, end), source.tickets(start, mid)
    rep = topics_report(now, before, mid, end)
    assert rep.rises["topic"][0].key == "网约车"
    assert rep.rises["district"][0].key == "临江县"
    assert rep.rises["district_topic"][0].key == "临江县 · 网约车"
    # Words from a segmenter: 网约车 is one word (once 网约 / 约车 bigrams).
    assert "网约车" in {r.key for r in rep.rises["words"][:5]}
    # Counts agree with the tickets.
    top = rep.rises["district_topic"][0]
    assert top.now == sum(1 for t in now if (t.district, t.topic) == ("临江县", "网约车"))
    assert rep.tickets_now + rep.tickets_before == len(source.tickets(start, end))
    assert "网约车" in topics_text(rep, "zh", TZ)
    assert bigrams("网约车司机abc绕路") == {"网约", "约车", "车司", "司机", "绕路"}


def test_topics_and_departments_cli_on_the_seeded_month(month: Month, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _, _, _, _, url = month
    assert main(["report", "topics", "--from", "2026-03-16", "--to", "2026-04-01", "--seed", "1",
                 "--config", str(EXAMPLE), "--database", url]) == 0
    out = capsys.readouterr().out
    assert "临江县 · 网约车" in out
    html_out = tmp_path / "d.html"
    assert main(["report", "departments", "--month", "2026-03", "--seed", "1", "--as-of", "2026-05-01T00:00:00+08:00",
                 "--config", str(EXAMPLE), "--database", url, "--format", "html", "-o", str(html_out)]) == 0
    assert "红榜" in html_out.read_text()


def test_hourly_figures_of_the_month_sum_to_the_month(month: Month) -> None:
    _, sim, store, _, _ = month
    start, end = month_bounds(2026, 3, "Asia/Shanghai")
    rows = intervals(sim.records, start, end, 60)
    k = kpi(sim.records)
    assert sum(r.kpi.offered for r in rows) == k.offered and sum(r.kpi.answered for r in rows) == k.answered
    outcomes = Counter(r.outcome.value for r in store.records(start, end + (end - start)))
    assert outcomes["answered"] == k.answered


def test_keywords_leave_out_the_template_phrases() -> None:
    t0 = datetime(2026, 3, 20, tzinfo=UTC)
    before = [Ticket(str(i), None, t0.replace(day=2), "投诉", "噪音扰民", "西湖区", "市生态环境局",
                     "楼下商铺音响噪音太大（来电人反映）", t0, None, None, None) for i in range(10)]
    now = [Ticket(str(100 + i), None, t0, "投诉", "网约车", "临江县", "市交通运输局",
                  "来电人反映：网约车司机绕路多收费，要求退款（来电人反映）", t0, None, None, None) for i in range(10)]
    rep = topics_report(now, before, datetime(2026, 3, 11, tzinfo=UTC), datetime(2026, 3, 21, tzinfo=UTC))
    keys = {r.key for r in rep.rises["words"]}
    assert {"网约车", "司机", "绕路"} <= keys
    assert not keys & {"来电", "人反", "电人", "来电人", "反映", "要求"}
    assert words("市民来电称：主干道路灯损坏多日无人维修") & {"路灯", "维修"}
    assert not words("市民来电称：主干道路灯损坏多日无人维修") & {"市民", "来电", "民来", "电称"}


def test_hot_topics_need_a_previous_period_with_tickets(month: Month, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, _, _, url = month
    # The seeded month is March: February holds no ticket, so March as a whole has no baseline.
    with pytest.raises(SystemExit, match="no tickets between 2026-02-01 and 2026-02-28"):
        main(["report", "topics", "--from", "2026-03-01", "--to", "2026-03-29", "--seed", "1",
              "--config", str(EXAMPLE), "--database", url])
    with pytest.raises(NoBaseline):
        topics_report([], [], datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
