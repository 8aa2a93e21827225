"""The daemon's incident desk: the usual rate from the store, the IVR's and the ticket form's signals
(place names from the agent's first fields), the tickets' hook."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from callcenter.ivr_service import IvrService
from config.loader import load_config
from incidents.desk import IncidentDesk, topic_of_path
from records.store import Store
from tests.test_agi_ivr_dialogues import MONDAY_10
from tests.test_tickets_service import DIRECTORY, new
from tickets.deadlines import WorkCalendar
from tickets.service import TicketService
from tickets.settings import TicketsConfig

ROOT = Path(__file__).resolve().parents[1]


def desk_on(tmp_path: Path, store: Store) -> tuple[IncidentDesk, TicketService, IvrService]:
    cfg = load_config(ROOT / "config" / "example.yaml", environ={})
    cfg = cfg.model_copy(update={"mqtt": None})
    ivr = IvrService(cfg, tmp_path, lambda: MONDAY_10)
    tickets = TicketService(store, TicketsConfig(), WorkCalendar.china(), DIRECTORY)
    desk = IncidentDesk(cfg, store, ivr, lambda: MONDAY_10, CollectorRegistry(), tickets=tickets,
                        gazetteer={"阳光花园": ["阳光小区"]})
    return desk, tickets, ivr


def test_tickets_naming_one_estate_raise_a_candidate_there(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        desk, tickets, _ = desk_on(tmp_path, store)
        for i in range(12):
            new(tickets, caller=f"1390000{i:04d}", content=f"阳光小区{i}栋停电", at=MONDAY_10 + timedelta(seconds=i))
        (incident,) = desk.board.active()
        assert incident.candidate.where == "阳光花园" and incident.candidate.calls >= 10
        assert desk.snapshot()[0]["candidate"]["where"] == "阳光花园"


def test_ivr_signals_and_topics_from_paths(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        desk, _, ivr = desk_on(tmp_path, store)
        menu = ivr.current().menu
        assert topic_of_path(menu, "welcome>language:1>hours=main>main:2") == "投诉举报"
        assert topic_of_path(menu, "welcome>language:1>hours=main>main:0") == ""
        for i in range(12):
            session = SimpleNamespace(uniqueid=f"u{i}", env={"agi_callerid": "13900000000"})
            result = SimpleNamespace(data=SimpleNamespace(topic="投诉举报", vars={"district": "西湖区"}))
            desk.on_ivr(session, result)
        desk.on_ivr(SimpleNamespace(uniqueid="", env={}), None)  # no call id, no result: nothing
        (incident,) = desk.board.active()
        assert incident.candidate.what == "投诉举报" and incident.candidate.where == "西湖区"


async def test_a_ticket_filed_in_a_worker_thread_reaches_the_board_on_the_loop(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        desk, tickets, _ = desk_on(tmp_path, store)
        desk.loop, desk.loop_thread = asyncio.get_running_loop(), threading.get_ident()
        seen: list[int] = []
        real = desk.board.observe

        def observe(signal: object) -> list:
            seen.append(threading.get_ident())
            return real(signal)  # type: ignore[arg-type]

        desk.board.observe = observe  # type: ignore[method-assign]
        await asyncio.to_thread(new, tickets, content="阳光小区停电")
        await asyncio.sleep(0)
        assert seen == [threading.get_ident()]


def test_the_daemon_takes_number_areas_and_gazetteer_from_the_config(tmp_path: Path) -> None:
    from callcenter.daemon import Daemon
    from config.models import DatabaseConfig
    from incidents.places import area_of_number

    cfg = load_config(ROOT / "config" / "example.yaml", environ={})
    cfg = cfg.model_copy(update={"mqtt": None, "database": DatabaseConfig(url=f"sqlite:///{tmp_path / 'd.db'}")})
    daemon = Daemon(cfg, spool_dir=tmp_path)
    try:
        assert area_of_number("0571-88123456", daemon.incidents.number_areas) == "拱墅区"
        assert daemon.incidents.gazetteer.find("阳光小区3栋停电") == ["阳光花园"]
    finally:
        daemon.store.close()


def test_incidents_config_refuses_a_prefix_that_is_not_digits(tmp_path: Path) -> None:
    import pytest

    from config.loader import ConfigError, load_config_text

    text = (ROOT / "config" / "example.yaml").read_text(encoding="utf-8")
    bad = text.replace('"057188": 拱墅区', '"0571-88": 拱墅区')
    with pytest.raises(ConfigError) as caught:
        load_config_text(bad, environ={})
    assert "number_areas" in str(caught.value)
