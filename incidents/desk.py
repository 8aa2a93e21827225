"""The incident board inside the daemon (asyncio shell side): what the daemon hands it, and what it hands
back (web routes, a Prometheus collector, an MQTT publisher, a periodic tick).

The daemon's hooks, each one line (callcenter/daemon.py, marked ``# incidents``): build the desk,
run ``desk.run()`` as a task, call ``desk.on_ivr(session, result)`` after each IVR session, mount
``desk.routes()``, and put ``desk.snapshot()`` on the wallboard's snapshot.

The usual rate is learned at start from the store's last 28 days of calls (the IVR topic of each, from
its path through the current menu); a centre with less history gets the detector's floor, which only
makes it more cautious about small topics.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.registry import CollectorRegistry

from incidents.board import IncidentBoard
from incidents.detect import Baseline, DetectError, Detector, Signal
from incidents.journal import IncidentJournal
from incidents.places import Gazetteer, area_of_number, extract_places, load_segmenter
from incidents.prom import register
from ivr.model import Menu, MenuNode, PlayNode, SetNode

log = logging.getLogger(__name__)

HISTORY = timedelta(days=28)


def topic_of_path(menu: Menu, path: str) -> str:
    """The topic the caller's choices led to ('welcome>main:2' -> the topic the node behind 2 sets)."""
    topic = ""
    for step in path.split(">"):
        name, _, digits = step.partition(":")
        node = menu.nodes.get(name)
        target = node.target_for(digits) if isinstance(node, MenuNode) and digits else None
        for _ in range(8):  # follow play/set nodes to the next input
            nxt = menu.nodes.get(target) if target else None
            if isinstance(nxt, SetNode):
                topic = nxt.topic or topic
                target = nxt.next
            elif isinstance(nxt, PlayNode):
                target = nxt.next
            else:
                break
    return topic


class IncidentDesk:
    def __init__(self, cfg: Any, store: Any, ivr: Any, now: Callable[[], datetime], registry: CollectorRegistry,
                 *, tickets: Any = None, number_areas: dict[str, str] | None = None,
                 gazetteer: dict[str, list[str]] | None = None,
                 tick_seconds: float = 15.0) -> None:
        self.cfg = cfg
        self.now = now
        self.tz = ZoneInfo(cfg.centre.timezone)
        self.number_areas = number_areas or {}
        self.gazetteer = Gazetteer(gazetteer or {})
        self.tick_seconds = tick_seconds
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread = 0
        baseline = self._learn(store, ivr.current().menu)
        self.board = IncidentBoard(Detector(baseline, self.tz), ivr, cfg.centre.language)
        # confirmed incidents (and their announcements' expiry) survive a restart
        IncidentJournal(store.engine, now).attach(self.board)
        register(registry, self.board)
        self.tickets: Any = None  # 同源件 and work alerts, on the tickets' store
        self.alerts: Any = None
        if tickets is not None:
            from incidents.alerts import WorkAlerts
            from incidents.sources import IncidentTickets

            self.tickets, self.alerts = IncidentTickets(tickets), WorkAlerts(tickets.store.engine)
            tickets.on_created.append(self.on_ticket)
        self.publisher: Any = None
        if cfg.mqtt is not None:
            from incidents.mqtt import incident_publisher

            self.publisher = incident_publisher(cfg.mqtt, self.board)

    def _learn(self, store: Any, menu: Menu) -> Baseline:
        since = self.now() - HISTORY
        signals = []
        for r in store.records(since):
            topic = topic_of_path(menu, r.ivr_path)
            if topic:
                signals.append(Signal(r.call_id, r.entered_at, topic=topic,
                                      area=area_of_number(r.caller_number, self.number_areas)))
        days = max(1.0, min(28.0, (self.now() - min((s.at for s in signals), default=self.now())).days))
        log.info("incidents: usual rates learned from %d calls over %.0f days", len(signals), days)
        return Baseline.learn(signals, days, self.tz)

    def on_ivr(self, session: Any, result: Any) -> None:
        """A caller left the IVR: their topic (and area, where the number or the IVR says it) now."""
        if result is None or not session.uniqueid:
            return
        data = result.data
        area = str(dict(data.vars).get("district", "")) or area_of_number(
            session.env.get("agi_callerid", ""), self.number_areas)
        try:
            self.board.observe(Signal(session.uniqueid, self.now(), topic=data.topic or "", area=area))
        except DetectError as exc:
            self.board.dropped += 1
            log.warning("incidents: call signal dropped: %s", exc)

    def on_ticket(self, ticket: Any) -> None:
        """An agent filed a ticket: its topic (or category) and the places its first fields name."""
        text = " ".join(str(getattr(ticket, f, "") or "") for f in ("township", "address", "title", "content"))
        try:
            places = extract_places(text, self.gazetteer)
            call_id = ticket.calls[0] if ticket.calls else f"ticket:{ticket.number}"
            signal = Signal(call_id, self.now(), topic=ticket.topic or ticket.category, places=places,
                            source="ticket")
        except (DetectError, ValueError) as exc:  # a ticket is never refused for this
            self.board.dropped += 1
            log.warning("incidents: ticket signal dropped: %s", exc)
            return
        # tickets are filed in worker threads; the board belongs to the event loop's thread
        loop = self.loop
        if loop is not None and threading.get_ident() != self.loop_thread:
            loop.call_soon_threadsafe(self.board.observe, signal)
        else:
            self.board.observe(signal)

    def snapshot(self) -> list[dict[str, Any]]:
        return self.board.snapshot()

    def routes(self) -> list[Any]:
        from incidents.web import incident_routes
        from incidents.web_tickets import incident_ticket_routes

        routes = incident_routes(self.board, self.now, language=self.cfg.centre.language,
                                 centre_name=self.cfg.centre.name)
        if self.tickets is not None:
            routes += incident_ticket_routes(self.board, self.tickets, self.alerts, self.now)
        return routes

    async def run(self) -> None:
        """Tick the board (quiet candidates, expired announcements) and publish over MQTT, until cancelled."""
        self.loop, self.loop_thread = asyncio.get_running_loop(), threading.get_ident()
        await asyncio.to_thread(load_segmenter)  # jieba's dictionary (about a second) off the event loop, once
        async with asyncio.TaskGroup() as tg:
            if self.publisher is not None:
                tg.create_task(self.publisher.run(), name="incidents-mqtt")
            while True:
                self.board.tick(self.now())
                await asyncio.sleep(self.tick_seconds)
