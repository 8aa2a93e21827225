"""The tickets workspace (/tickets) for agents, supervisors, admins and departments.

One page in the style of the agent desk (its stylesheet), every label and value in the centre's
language (callcenter/web/tickets_labels.py), times in the centre's zone. Filters (state, category,
county, department, due: overdue / due today / open, channel), a search over number, title and text,
paging, overdue and due-today rows marked, and a detail view (``?ticket=NUMBER``) with the history
timeline and the workflow actions the viewer's role may take (buttons that post to the ticket API).

Filtering is done here over the tickets the viewer may see (at most ``MAX_TICKETS``, newest first):
enough for a centre's open work and recent weeks; a larger store would move the filters into SQL.
The tickets arrive as dicts (``TicketView.to_dict()``, or a masked copy: see ``Shown``).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from callcenter.web.tickets_labels import ACTIONS, CHANNELS, ROLES, SATISFACTION, STATES, TEXT, lang
from tickets import access
from tickets.access import Viewer
from tickets.service import TicketService, TicketView
from tickets.workflow import Action, TicketState, allowed_actions

PAGE_SIZE = 25
MAX_TICKETS = 2000
DONE_STATES = frozenset({"resolved", "followed_up", "closed", "merged"})
DUE_CHOICES = ("overdue", "today", "open")
#: actions that need a department / a number of days / a ticket number
NEEDS = {"dispatch": "department", "reassign": "department", "request_extension": "days", "merge": "merge_into"}
Shown = Callable[[Viewer, TicketView], dict[str, Any]]


def plain(_viewer: Viewer, ticket: TicketView) -> dict[str, Any]:
    """The default view of a ticket for the page: the service has already redacted what the viewer may
    not see."""
    return ticket.to_dict()


@dataclass(frozen=True, slots=True)
class Filters:
    state: str = ""
    category: str = ""
    county: str = ""
    department: str = ""
    due: str = ""
    channel: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        """Unknown or malformed values are ignored (a filter link is typed by hand at times)."""
        try:
            page = max(1, int(query.get("page", "1") or 1))
        except ValueError:
            page = 1
        due = query.get("due", "")
        return cls(state=query.get("state", "")[:40], category=query.get("category", "")[:40],
                   county=query.get("county", "")[:80], department=query.get("department", "")[:80],
                   due=due if due in DUE_CHOICES else "", channel=query.get("channel", "")[:40],
                   q=query.get("q", "").strip()[:100], page=page)

    def link(self, **changes: Any) -> str:
        """This view's URL with `changes` (ticket=NUMBER opens a detail, page=N another page)."""
        values = {k: getattr(self, k) for k in ("state", "category", "county", "department", "due", "channel",
                                                "q", "page")} | changes
        kept = {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}
        return "/tickets" + (f"?{urlencode(kept)}" if kept else "")


def due_mark(ticket: Mapping[str, Any], now: datetime, tz: ZoneInfo) -> str:
    """'overdue' (past its due time, still open), 'today' (due by the end of today, local), or ''."""
    due = ticket.get("due_at")
    if not due or ticket.get("state") in DONE_STATES:
        return ""
    at = datetime.fromisoformat(due)
    if at <= now:
        return "overdue"
    return "today" if (at - timedelta(seconds=1)).astimezone(tz).date() == now.astimezone(tz).date() else ""


def select(items: Sequence[Mapping[str, Any]], f: Filters, now: datetime, tz: ZoneInfo,
           subtree: Callable[[str], set[str]]) -> tuple[list[Mapping[str, Any]], int, int]:
    """The page of tickets that pass the filters: (rows, how many pass, page shown)."""
    needle = f.q.casefold()
    county = subtree(f.county) if f.county else set()
    department = subtree(f.department) if f.department else set()
    out = []
    for t in items:
        if (f.state and t["state"] != f.state) or (f.category and t["category"] != f.category) \
                or (f.channel and t["channel"] != f.channel) or (county and t["county"] not in county) \
                or (department and t["department"] not in department):
            continue
        if f.due == "open" and t["state"] in DONE_STATES:
            continue
        if f.due in ("overdue", "today") and due_mark(t, now, tz) != f.due:
            continue
        if needle and not any(needle in str(t.get(k) or "").casefold() for k in ("number", "title", "content")):
            continue
        out.append(t)
    pages = max(1, math.ceil(len(out) / PAGE_SIZE))
    page = min(f.page, pages)
    return out[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], len(out), page


@dataclass(frozen=True, slots=True)
class Names:
    """Codes -> names in the page's language."""

    language: str
    categories: dict[str, str]
    topics: dict[str, str]
    units: dict[str, str]
    tz: ZoneInfo

    @classmethod
    def of(cls, service: TicketService, language: str) -> Names:
        topics = {code: label.rsplit(" / ", 1)[-1] for code, label in service.cfg.topic_names(language).items()}
        return cls(lang(language), {c.code: c.name.get(language) for c in service.cfg.categories}, topics,
                   {d.code: d.name(language) for d in service.directory}, service.calendar.tz)

    def state(self, code: str | None) -> str:
        return STATES[self.language].get(code or "", code or "")

    def action(self, code: str) -> str:
        return ACTIONS[self.language].get(code, code)

    def channel(self, code: str) -> str:
        return CHANNELS[self.language].get(code, code)

    def unit(self, code: str | None) -> str:
        return self.units.get(code or "", code or "")

    def time(self, iso: str | datetime | None) -> str:
        if not iso:
            return ""
        at = iso if isinstance(iso, datetime) else datetime.fromisoformat(iso)
        return at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def due_day(self, iso: str | None) -> str:
        if not iso:
            return ""
        return (datetime.fromisoformat(iso).astimezone(self.tz) - timedelta(seconds=1)).strftime("%Y-%m-%d")


def _options(pairs: Sequence[tuple[str, str]], chosen: str, everything: str) -> str:
    e = html.escape
    return f'<option value="">{e(everything)}</option>' + "".join(
        f'<option value="{e(code)}"{" selected" if code == chosen else ""}>{e(name)}</option>' for code, name in pairs)


def filters_html(f: Filters, n: Names, service: TicketService, tx: dict[str, str]) -> str:
    e = html.escape
    groups = ("county", "city_department", "public_service")
    units = sorted(((d.code, d.name(n.language)) for d in service.directory if d.group in groups), key=lambda x: x[0])
    counties = [(d.code, d.name(n.language)) for d in service.directory if d.group == "county"]
    fields = [
        ("state", _options(list(STATES[n.language].items()), f.state, tx["all"])),
        ("category", _options(list(n.categories.items()), f.category, tx["all"])),
        ("county", _options(counties, f.county, tx["all"])),
        ("department", _options(units, f.department, tx["all"])),
        ("due", _options([("overdue", tx["overdue"]), ("today", tx["due_today"]), ("open", tx["open_only"])],
                         f.due, tx["due_any"])),
        ("channel", _options([(c, n.channel(c)) for c in service.cfg.channels], f.channel, tx["all"])),
    ]
    selects = "".join(f'<label><span>{e(tx[name])}</span><select name="{name}" id="f-{name}">{opts}</select></label>'
                      for name, opts in fields)
    return (f'<form class="card filters" method="get" action="/tickets" id="filters">{selects}'
            f'<label><span>{e(tx["search"])}</span><input type="search" name="q" id="f-q" value="{e(f.q)}" '
            f'placeholder="{e(tx["search_hint"])}"></label>'
            f'<div class="row"><button type="submit">{e(tx["filter"])}</button>'
            f'<a href="/tickets">{e(tx["clear"])}</a></div></form>')


def rows_html(rows: Sequence[Mapping[str, Any]], n: Names, f: Filters, now: datetime, tx: dict[str, str]) -> str:
    e = html.escape
    heads = ("number", "created", "category", "topic", "county", "department", "state", "due", "channel", "content")
    out = [f'<tr>{"".join(f"<th class=c-{h}>{e(tx[h])}</th>" for h in heads)}</tr>']
    for t in rows:
        mark = due_mark(t, now, n.tz)
        badge = f' <span class="badge due-{mark}">{e(tx["overdue" if mark == "overdue" else "due_today"])}</span>' \
            if mark else ""
        link = f.link(ticket=t["number"], page=f.page)
        out.append(
            f'<tr class="{("due-" + mark) if mark else ""}" data-number="{e(t["number"])}">'
            f'<td><a href="{e(link)}">{e(t["number"])}</a></td><td class="c-created">{e(n.time(t["created_at"]))}</td>'
            f'<td>{e(n.categories.get(t["category"], t["category"]))}</td>'
            f'<td>{e(n.topics.get(t["topic"], t["topic"]))}</td><td>{e(n.unit(t["county"]))}</td>'
            f'<td>{e(n.unit(t["department"]))}</td><td class="c-state">{e(n.state(t["state"]))}</td>'
            f'<td>{e(n.due_day(t["due_at"]))}{badge}</td><td class="c-channel">{e(n.channel(t["channel"]))}</td>'
            f'<td class="c-content">{e(str(t["content"])[:60])}</td></tr>')
    return f'<table class="tickets" id="tickets">{"".join(out)}</table>'


def pager_html(f: Filters, page: int, total: int, tx: dict[str, str]) -> str:
    e = html.escape
    pages = max(1, math.ceil(total / PAGE_SIZE))
    prev = f'<a id="prev" href="{e(f.link(page=page - 1))}">{e(tx["prev"])}</a>' if page > 1 else ""
    nxt = f'<a id="next" href="{e(f.link(page=page + 1))}">{e(tx["next"])}</a>' if page < pages else ""
    return (f'<div class="row pager"><span id="count">{e(tx["results"].format(n=total))}</span>'
            f'<span>{e(tx["page"].format(p=page, n=pages))}</span>{prev}{nxt}</div>')


def detail_html(detail: Mapping[str, Any], n: Names, f: Filters, service: TicketService, tx: dict[str, str]) -> str:
    """The ticket's facts, its history timeline and a form per workflow action the viewer may take."""
    e = html.escape
    t = detail["ticket"]
    facts = [("state", n.state(t["state"])), ("category", n.categories.get(t["category"], t["category"])),
             ("topic", n.topics.get(t["topic"], t["topic"])), ("county", n.unit(t["county"])),
             ("department", n.unit(t["department"])), ("due", n.due_day(t["due_at"])),
             ("channel", n.channel(t["channel"])), ("caller", t.get("caller_number", "")),
             ("address", t.get("address", "")), ("title_field", t["title"]), ("content", t["content"]),
             ("reply", t["reply"]), ("satisfaction", SATISFACTION[n.language].get(t["satisfaction"] or "", "")),
             ("reminders", str(t["reminders"])), ("supervised", tx["yes"] if t["supervised"] else tx["no"])]
    dl = "".join(f"<dt>{e(tx[k])}</dt><dd>{e(str(v))}</dd>" for k, v in facts if v)
    steps = "".join(
        f'<li><time>{e(n.time(h["at"]))}</time> <b>{e(n.action(h["action"]))}</b> '
        f'<span class="muted">{e(ROLES[n.language].get(h["role"], h["role"]))} {e(n.unit(h["actor"]))}</span> '
        f'{e(n.state(h["from_state"]))} → {e(n.state(h["to_state"]))}'
        f'{" · " + e(n.unit(h["department"])) if h["department"] else ""}'
        f'{"<div class=note>" + e(h["note"]) + "</div>" if h["note"] else ""}</li>' for h in detail["history"])
    forms = "".join(_action_form(a, t, n, service, tx) for a in detail["actions"]) or \
        f'<p class="muted">{e(tx["no_actions"])}</p>'
    reveal = ""
    if detail.get("may_reveal"):  # the audited reveal (callcenter/privacy.py): a reason, then the number
        reveal = (f'<form id="reveal" class="reveal"><input name="reason" required maxlength="200" '
                  f'placeholder="{e(tx["reveal_reason"])}"><button type="submit">{e(tx["reveal"])}</button>'
                  '</form><p id="revealed" class="revealed"></p>')
    return (f'<section class="card detail" id="detail" data-number="{e(t["number"])}" data-version="{t["version"]}">'
            f'<div class="row"><h2>{e(tx["title"])} {e(t["number"])}</h2>'
            f'<a href="{e(f.link())}">{e(tx["close"])}</a></div><dl class="facts">{dl}</dl>{reveal}'
            f'<h3>{e(tx["history"])}</h3><ol class="timeline" id="timeline">{steps}</ol>'
            f'<h3>{e(tx["actions"])}</h3><div id="actions">{forms}</div>'
            f'<div id="action-result" role="status"></div></section>')


def _action_form(action: str, t: Mapping[str, Any], n: Names, service: TicketService, tx: dict[str, str]) -> str:
    e = html.escape
    need = NEEDS.get(action)
    extra = ""
    if need == "department":
        units = [d for d in service.directory if d.code != t["department"]]
        options = "".join(f'<option value="{e(n.unit(d.code))}" data-code="{e(d.code)}"></option>' for d in units)
        extra = (f'<input name="department" list="units-{action}" required placeholder="{e(tx["pick_department"])}">'
                 f'<datalist id="units-{action}">{options}</datalist>')
    elif need == "days":
        extra = (f'<label><span>{e(tx["days"])}</span>'
                 '<input name="days" type="number" min="1" max="60" required></label>')
    elif need == "merge_into":
        extra = f'<label><span>{e(tx["merge_into"])}</span><input name="merge_into" required></label>'
    # Resolving (办结) or answering on the spot needs the reply given to the citizen: the note carries it.
    note = (f'<input name="note" required placeholder="{e(tx["reply"])}">' if action in ("resolve", "answer")
            else f'<input name="note" placeholder="{e(tx["note"])}">')
    return (f'<form class="action row" data-action="{e(action)}">{extra}{note}'
            f'<button type="submit">{e(n.action(action))}</button></form>')


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def render_workspace(*, service: TicketService, items: Sequence[Mapping[str, Any]], detail: Mapping[str, Any] | None,
                     query: Mapping[str, str], language: str, centre_name: str, csrf: str, now: datetime,
                     may_create: bool, nonce: str = "") -> str:
    tx = TEXT[lang(language)]
    n = Names.of(service, language)
    f = Filters.from_query(query)
    e = html.escape
    rows, total, page = select(items, f, now, n.tz, lambda code: set(service.directory.subtree(code))
                               if code in service.directory else {code})
    f = replace(f, page=page)
    created = query.get("created", "")
    notice = f'<p class="saved" id="notice">{e(tx["created_notice"].format(n=created))}</p>' if created else ""
    new = f'<a class="button" href="/tickets?new=1">{e(tx["new"])}</a>' if may_create else ""
    body = (f"{notice}{filters_html(f, n, service, tx)}"
            + (detail_html(detail, n, f, service, tx) if detail else "")
            + f'<section class="card list">{pager_html(f, page, total, tx)}'
            + (rows_html(rows, n, f, now, tx) if rows else f'<p class="muted" id="empty">{e(tx["none"])}</p>')
            + "</section>")
    config = json.dumps({"csrf": csrf, "text": {k: tx[k] for k in ("done", "failed")}}).replace("<", "\\u003c")
    return (f'<!doctype html><html lang="{"zh-CN" if lang(language) == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(centre_name)} · {e(tx['title'])}</title>"
            f"<style nonce=\"{e(nonce)}\">{_read('desktop/static/desk.css')}\n{_read('tickets_page.css')}"
            "</style></head><body>"
            f'<header class="top"><div>{e(centre_name)} · {e(tx["title"])}</div>'
            f'<div class="muted-top">{e(tx["times"].format(tz=n.tz.key))}</div>{new}</header>'
            f'<main class="workspace{" with-detail" if detail else ""}">{body}</main>'
            f'<script id="tickets-config" type="application/json">{config}</script>'
            f"<script nonce=\"{e(nonce)}\">{_read('tickets_page.js')}</script></body></html>")


async def load_detail(service: TicketService, viewer: Viewer, number: str, run: Callable[..., Any],
                      shown: Shown = plain) -> dict[str, Any]:
    """The ticket, its history and the actions this viewer may take now (role and workflow)."""
    ticket: TicketView = await run(service.get, number, viewer)
    history = await run(service.history, number, viewer)
    actions = [a.value for a in allowed_actions(TicketState(ticket.state)) if access.may_act(viewer, Action(a), ticket)]
    return {"ticket": shown(viewer, ticket), "actions": actions,
            "history": [{"at": h.at, "actor": h.actor, "role": h.role, "action": h.action, "from_state": h.from_state,
                         "to_state": h.to_state, "department": h.department, "note": h.note} for h in history]}
