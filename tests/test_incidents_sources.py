"""同源件: tickets about one incident are linked (suggested, then one click each), dispatched once,
answered once, every caller followed up; the month counts the incident once with all its callers.
On SQLite and the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from incidents.sources import IncidentRef, IncidentTickets, SourceError, follow_up_all, looks_like
from tests.test_tickets_service import AGENT, SUP, T0, new
from tests.test_tickets_service import svc as svc  # the fixture: SQLite and PostgreSQL
from tickets.access import Viewer
from tickets.service import TicketService

REF = IncidentRef("水电气@阳光花园#202609281017", "水电气", "阳光花园")


@pytest.fixture
def desk(svc: TicketService) -> Iterator[tuple[TicketService, IncidentTickets]]:  # noqa: F811 (the fixture)
    yield svc, IncidentTickets(svc)


def test_one_dispatch_one_answer_every_caller_followed_up(desk: tuple[TicketService, IncidentTickets],
                                                          tmp_path: Path) -> None:
    tickets, inc = desk
    about = [new(tickets, caller=f"1390000{i:04d}", content=f"阳光花园{i}号楼停电了", at=T0 + timedelta(minutes=i))
             for i in range(5)]
    other = new(tickets, caller="13911112222", content="路灯不亮", at=T0 + timedelta(minutes=2))
    suggested = inc.suggest(REF, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert set(suggested) == set(about) and other not in suggested
    leads = [inc.link(REF, n, "a1001", T0 + timedelta(minutes=10)) for n in about]
    assert leads == [True, False, False, False, False]
    with pytest.raises(SourceError) as err:
        inc.link(REF, about[1], "a1001", T0)
    assert err.value.slug == "already_linked"
    assert inc.suggest(REF, T0 - timedelta(hours=1), T0 + timedelta(hours=1)) == []

    lead = inc.dispatch(REF.key, "xihu.gaj", "s1", T0 + timedelta(minutes=20))
    with pytest.raises(SourceError):
        inc.answer_all(REF.key, T0 + timedelta(minutes=21))  # the lead has no answer yet
    police = Viewer.for_department("xihu.gaj")
    tickets.transition(lead, "sign", police, T0 + timedelta(minutes=30))
    tickets.transition(lead, "resolve", police, T0 + timedelta(hours=2), note="线路故障已修复，18:05恢复供电。")
    answered = inc.answer_all(REF.key, T0 + timedelta(hours=2, minutes=1))
    assert sorted(answered) == sorted(about[1:])
    for number in about:
        t = tickets.get(number, SUP)
        assert t.state == "resolved" and "18:05恢复供电" in t.reply
    assert sum(tickets.get(n, SUP).dispatched_at is not None for n in about) == 1
    assert follow_up_all(tickets, about, dict.fromkeys(about, "satisfied"), T0 + timedelta(hours=3)) == 5
    assert {tickets.get(n, SUP).state for n in about} == {"followed_up"}

    month = inc.report(T0 - timedelta(days=1), T0 + timedelta(days=1))
    (entry,) = month["incidents"]
    assert entry == {"incident": REF.key, "what": "水电气", "where": "阳光花园", "tickets": 5, "callers": 5,
                     "followed_up": 5, "dispatched": 1}
    assert month["tickets"] == 6 and month["matters"] == 2  # the incident once, the street lamp once


def test_looks_like_by_topic_or_place() -> None:
    class T:
        topic, category, township, address, title, content = "", "help", "", "", "", "幸福小区停水"

    assert not looks_like(REF, T())
    T.content = "阳光花园停电"
    assert looks_like(REF, T())
    T.content, T.topic = "", "水电气"
    assert looks_like(REF, T())


def test_a_closed_ticket_cannot_join(desk: tuple[TicketService, IncidentTickets]) -> None:
    tickets, inc = desk
    number = new(tickets, content="阳光花园停电")
    tickets.transition(number, "answer", AGENT, T0, note="已告知")
    tickets.record_follow_up(number, "satisfied", T0 + timedelta(hours=1))
    tickets.transition(number, "close", AGENT, T0 + timedelta(hours=2))
    with pytest.raises(SourceError) as err:
        inc.link(REF, number, "a1001", T0)
    assert err.value.slug == "ticket_closed"


def test_the_month_report_counts_each_incident_once_with_all_its_callers(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from callcenter.cli import main
    from config.loader import load_config
    from config.models import DatabaseConfig
    from records.store import Store

    root = Path(__file__).resolve().parents[1]
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = load_config(root / "config" / "example.yaml", environ={})
    cfg = cfg.model_copy(update={"database": DatabaseConfig(url=url)})
    with Store(url) as store:
        tickets = TicketService.from_config(store, cfg, root / "config")
        inc = IncidentTickets(tickets)
        about = [new(tickets, caller=f"1390000{i:04d}", content=f"阳光花园{i}号楼停电了", at=T0 + timedelta(minutes=i))
                 for i in range(4)]
        about.append(new(tickets, caller="13900000000", content="阳光花园又停电", at=T0 + timedelta(minutes=5)))
        new(tickets, caller="13911112222", content="路灯不亮", at=T0 + timedelta(minutes=2))
        for n in about:
            inc.link(REF, n, "a1001", T0 + timedelta(minutes=10))
        inc.dispatch(REF.key, "xihu.gaj", "s1", T0 + timedelta(minutes=20))
    args = ["report", "departments", "--month", "2026-09", "--config", str(root / "config" / "example.yaml"),
            "--database", url, "--min-tickets", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "同源件" in out
    # 6 tickets, 5 about the power cut from 4 distinct callers (one called twice): 2 matters.
    assert "工单 6 件，其中 5 件来自 1 个事件的 4 位来电人；按事项计 2 件" in out
    assert "水电气@阳光花园：工单 5 件，来电人 4 位，派单 1 次" in out
    page = tmp_path / "d.html"
    assert main([*args, "--format", "html", "-o", str(page)]) == 0
    assert "<td class='l'>水电气@阳光花园</td><td>5</td><td>4</td><td>1</td>" in page.read_text(encoding="utf-8")
