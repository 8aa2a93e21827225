"""The month's incidents (同源件) beside the department ranking: each incident counted once, with all its callers.

Read from the ticket store (`incidents.sources.IncidentTickets.report`); nothing when the store has no incident
links (a centre that never linked a ticket, or a report from a CSV or a seeded month).
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any

S = {
    "zh": {"title": "同源件（一事多诉）", "none": "本月没有关联到事件的工单。",
           "sum": "工单 {tickets} 件，其中 {linked} 件来自 {n} 个事件的 {callers} 位来电人；"
                  "按事项计 {matters} 件（每个事件计一次）。",
           "row": "{what}@{where}：工单 {tickets} 件，来电人 {callers} 位，派单 {dispatched} 次，"
                  "已回访 {followed_up} 件",
           "what": "事件", "tickets": "工单", "callers": "来电人", "dispatched": "派单", "followed_up": "已回访",
           "anywhere": "全市"},
    "en": {"title": "Incidents (one matter, many callers)", "none": "No ticket was linked to an incident this month.",
           "sum": "{tickets} tickets; {linked} of them from {callers} callers about {n} incidents; {matters} matters "
                  "(each incident counted once).",
           "row": "{what} @ {where}: {tickets} tickets, {callers} callers, dispatched {dispatched}×, "
                  "{followed_up} followed up",
           "what": "Incident", "tickets": "Tickets", "callers": "Callers", "dispatched": "Dispatched",
           "followed_up": "Followed up", "anywhere": "city-wide"},
}


def load_incidents(cfg: Any, config_path: str, since: datetime, until: datetime) -> dict[str, Any] | None:
    """The incidents summary of [since, until) from the config's store, or None when it has no links table."""
    from sqlalchemy import inspect

    from incidents.sources import LINKS, IncidentTickets
    from records.store import Store
    from tickets.service import TicketService

    with Store(cfg.database.url, create=False) as store:
        if not inspect(store.engine).has_table(LINKS.name):
            return None
        service = TicketService.from_config(store, cfg, Path(config_path).resolve().parent)
        return IncidentTickets(service).report(since, until)


def _strings(language: str) -> dict[str, str]:
    return S["zh" if language == "zh" else "en"]


def _summary(rep: dict[str, Any], s: dict[str, str]) -> str:
    found = rep["incidents"]
    return s["sum"].format(tickets=rep["tickets"], linked=sum(e["tickets"] for e in found), n=len(found),
                           callers=sum(e["callers"] for e in found), matters=rep["matters"])


def _row(e: dict[str, Any], s: dict[str, str]) -> dict[str, Any]:
    return {**e, "what": e["what"] or s["what"], "where": e["where"] or s["anywhere"]}


def incidents_text(rep: dict[str, Any], language: str) -> str:
    s = _strings(language)
    if not rep["incidents"]:
        return f"== {s['title']} ==\n{s['none']}\n"
    lines = [f"== {s['title']} ==", _summary(rep, s)]
    lines += ["  " + s["row"].format(**_row(e, s)) for e in rep["incidents"]]
    return "\n".join(lines) + "\n"


def incidents_html(rep: dict[str, Any], language: str) -> str:
    s, e = _strings(language), html.escape
    if not rep["incidents"]:
        return f"<h2>{e(s['title'])}</h2><p class='note'>{e(s['none'])}</p>"
    head = "".join(f"<th>{e(s[k])}</th>" for k in ("tickets", "callers", "dispatched", "followed_up"))
    rows = "".join(
        f"<tr><td class='l'>{e(r['what'])}@{e(r['where'])}</td>"
        + "".join(f"<td>{r[k]}</td>" for k in ("tickets", "callers", "dispatched", "followed_up")) + "</tr>"
        for r in (_row(x, s) for x in rep["incidents"]))
    return (f"<h2>{e(s['title'])}</h2><p>{e(_summary(rep, s))}</p>"
            f"<table><tr><th class='l'>{e(s['what'])}</th>{head}</tr>{rows}</table>")
