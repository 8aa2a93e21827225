"""`report seed-month`: a seeded simulated month of call records, agent state intervals AND tickets (工单)
written into one store, so that the daily report, the department ranking and the hot topics all read it.

The calls come from month.py. A share of the answered calls becomes a ticket, created by the agent as the
call ends, with a life through the real workflow (tickets/workflow.py): answered on the spot, or dispatched
to a department, signed, resolved (on time or late, by the department's seeded quality), followed up and
archived; an unsatisfied citizen reopens it. Each step is a `ticket_events` line as the service writes it.
In the second half of the month one county's ride-hailing complaints climb (the hot-topics report must
surface them).

Bulk on purpose: the service creates one ticket per transaction (right for agents, hours for a month), so
this writes the same rows with Core executemany in a few statements; ticket numbers continue the daily
counters, and a call that already has a ticket gets none, so seeding twice adds nothing.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import func, select

from callcenter.reports.bulk import insert_rows, next_ids
from callcenter.reports.month import SimulatedMonth
from callcenter.reports.tickets import pick_unit
from records.model import CallRecordData, Outcome
from tickets.deadlines import WorkCalendar, due_at
from tickets.tables import TICKET_TABLES, Ticket, TicketCall, TicketCounter, TicketEvent
from tickets.workflow import OPEN_STATES, TicketState

T = Ticket.__table__  # type: ignore[attr-defined]
EVENTS = TicketEvent.__table__  # type: ignore[attr-defined]
CALLS = TicketCall.__table__  # type: ignore[attr-defined]
COUNTERS = TicketCounter.__table__  # type: ignore[attr-defined]
CHUNK = 5000

# topic code (config/example.yaml) -> (department code(s) (config/departments.csv), category weights, contents);
# with two departments a ticket goes to one of them (callcenter/reports/tickets.py pick_unit), so that each
# ranking group (city departments, public-service units) has enough units for a red and a black list.
TOPICS: dict[str, tuple[str | tuple[str, ...], dict[str, float], tuple[str, ...]]] = {
    "urban.streetlight": ("city.cgj", {"help": 0.7, "complaint": 0.3},
                          ("小区门口路灯不亮，晚上出行不便", "路灯白天一直亮着，浪费电", "主干道路灯损坏多日无人维修")),
    "urban.road": ("city.jtj", {"complaint": 0.5, "help": 0.5},
                   ("道路坑洼积水，电动车容易摔倒", "人行道地砖松动翘起", "道路施工围挡占道时间过长")),
    "urban.noise": ("city.sthj", {"complaint": 0.9, "suggestion": 0.1},
                    ("夜间工地施工噪音扰民，影响休息", "楼下商铺音响噪音太大", "广场舞噪音扰民，晚上十点后仍未停止")),
    "utilities.water": (("psu.water", "psu.sewage"), {"help": 0.6, "complaint": 0.4},
                        ("小区突然停水，没有提前通知", "自来水水质发黄", "水管爆裂，请求抢修")),
    "utilities.power": ("psu.power", {"help": 0.7, "complaint": 0.3},
                        ("小区频繁停电，影响生活", "电表计量异常，电费突然增加", "电线老化存在安全隐患")),
    "utilities.gas": ("psu.gas", {"help": 0.5, "consultation": 0.5},
                      ("燃气费缴费咨询", "闻到燃气味，请求上门检查", "燃气表故障")),
    "social.pension": ("city.sbj", {"consultation": 0.8, "help": 0.2},
                       ("咨询灵活就业人员养老保险缴费标准", "养老保险断缴后如何补缴", "咨询退休手续办理流程")),
    "social.medical": ("city.ybj", {"consultation": 0.7, "complaint": 0.3},
                       ("咨询异地就医医保报销比例", "医保卡无法正常结算", "门诊慢特病报销材料咨询")),
    "social.wages": ("city.ldjc", {"complaint": 0.8, "help": 0.2},
                     ("工地老板拖欠农民工工资三个月", "公司倒闭拖欠员工工资", "装修公司拖欠工人工资不给")),
    "market.food": ("city.scjg", {"complaint": 0.7, "consultation": 0.3},
                    ("餐馆后厨卫生状况差", "超市出售过期食品", "外卖食品中发现异物")),
    "market.consumer": ("city.scjg", {"complaint": 0.8, "consultation": 0.2},
                        ("健身房收款后跑路，要求退费", "网购商品质量问题商家拒绝退货", "预付卡消费纠纷")),
    "traffic.bus": (("psu.bus", "psu.metro"), {"suggestion": 0.5, "complaint": 0.5},
                    ("建议增加早高峰公交班次", "公交司机不到站就开走", "公交线路调整后出行不便")),
    "traffic.taxi": ("city.jtj", {"complaint": 0.8, "consultation": 0.2},
                     ("网约车司机绕路多收费，要求退款", "网约车平台乱收费，司机态度恶劣",
                      "投诉网约车司机拒载，并辱骂乘客", "网约车司机中途甩客，平台不处理")),
}
TOPIC_WEIGHTS = {"urban.streetlight": 0.06, "urban.road": 0.08, "urban.noise": 0.12, "utilities.water": 0.08,
                 "utilities.power": 0.06, "utilities.gas": 0.05, "social.pension": 0.1, "social.medical": 0.1,
                 "social.wages": 0.07, "market.food": 0.07, "market.consumer": 0.09, "traffic.bus": 0.07,
                 "traffic.taxi": 0.05}
COUNTIES = ("shangcheng", "gongshu", "xihu", "binjiang", "xiaoshan", "yuhang", "linping", "fuyang", "tonglu",
            "chunan")
SURGE_COUNTY, SURGE_TOPIC = "tonglu", "traffic.taxi"
TICKET_SHARE = 0.6  # answered calls that become a ticket (the rest are settled on the phone, no ticket)
ANSWER_ON_SPOT = 0.5  # consultations answered during the call (直接办结)
DEFAULT_WORKING_DAYS = {"consultation": 1, "help": 3, "complaint": 13, "suggestion": 13, "praise": 3}


@dataclass
class SeededTickets:
    tickets: list[dict[str, Any]] = field(default_factory=list)  # rows of `tickets` (no id yet)
    events: list[list[dict[str, Any]]] = field(default_factory=list)  # per ticket, rows of ticket_events
    calls: list[str] = field(default_factory=list)  # per ticket, the call it was created in
    counters: dict[str, int] = field(default_factory=dict)  # local day -> last sequence number


def _quality(seed: int) -> dict[str, tuple[float, float, float]]:
    """department / county code -> (on-time probability, satisfied, basically satisfied)."""
    rng = random.Random(f"quality:{seed}")
    names = sorted({d for ds, _, _ in TOPICS.values() for d in ((ds,) if isinstance(ds, str) else ds)}
                   | set(COUNTIES))
    return {n: (rng.uniform(0.72, 0.99), rng.uniform(0.5, 0.8), rng.uniform(0.05, 0.2)) for n in names}


def _event(at: datetime, actor: str, role: str, action: str, from_state: str | None, to_state: str,
           department: str | None, note: str = "") -> dict[str, Any]:
    return {"at": at, "actor": actor, "role": role, "action": action, "from_state": from_state,
            "to_state": to_state, "department": department, "note": note}


def seeded_tickets(records: Sequence[CallRecordData], calendar: WorkCalendar, seed: int = 1, *,
                   prefix: str = "12345", counters: dict[str, int] | None = None,
                   working_days: dict[str, int] | None = None, skip: frozenset[str] = frozenset()) -> SeededTickets:
    """Ticket rows for the answered calls of `records` (deterministic in records and seed). `counters`: the
    store's last sequence number per local day (numbers continue them); calls in `skip` get no ticket."""
    quality = _quality(seed)
    days = dict(DEFAULT_WORKING_DAYS, **(working_days or {}))
    out = SeededTickets(counters=dict(counters or {}))
    answered = sorted((r for r in records if r.outcome is Outcome.ANSWERED), key=lambda r: (r.ended_at, r.call_id))
    if not answered:
        return out
    mid = answered[0].ended_at + (answered[-1].ended_at - answered[0].ended_at) / 2
    topics, weights = list(TOPIC_WEIGHTS), list(TOPIC_WEIGHTS.values())
    S = TicketState
    due_cache: dict[tuple[date, int], datetime] = {}

    def due(at: datetime, n: int) -> datetime:  # deadlines.due_at, once per (local day, working days)
        key = (calendar.local_day(at), n)
        found = due_cache.get(key)
        if found is None:
            found = due_cache[key] = due_at(calendar, at, n)
        return found

    for rec in answered:
        if rec.call_id in skip:
            continue
        # One generator per call: a call's ticket does not depend on which other calls were skipped.
        rng = random.Random(f"store-tickets:{seed}:{rec.call_id}")
        make = rng.random() < TICKET_SHARE
        county = rng.choice(COUNTIES)
        topic = rng.choices(topics, weights=weights)[0]
        if rec.ended_at >= mid and rng.random() < 0.06:
            county, topic = SURGE_COUNTY, SURGE_TOPIC
        units, cats, contents = TOPICS[topic]
        dept = pick_unit(units, rec.call_id)
        category = rng.choices(list(cats), weights=list(cats.values()))[0]
        if rec.queue == "complaints" and "complaint" in cats:
            category = "complaint"
        content = rng.choice(contents)
        u = [rng.random() for _ in range(8)]
        if not make:
            continue
        created = rec.ended_at
        day = calendar.local_day(created).strftime("%Y%m%d")
        seq = out.counters[day] = out.counters.get(day, 0) + 1
        agent = rec.agent_id or "system"
        row: dict[str, Any] = {
            "number": f"{prefix}-{day}-{seq:06d}", "channel": "phone", "category": category, "topic": topic,
            "caller_number": rec.caller_number, "caller_name": rec.caller_name, "contact": rec.caller_number,
            "county": county, "township": "", "address": "", "title": content[:20],
            "content": content if u[0] < 0.5 else f"{content}（来电人反映）", "reply": "", "department": None,
            "confidential": False, "merged_into": None, "created_at": created, "created_by": agent,
            "dispatched_at": None, "due_at": None, "resolved_at": None, "closed_at": None, "extension_days": 0,
            "extension_requested_days": 0, "reminders": 0, "supervised": False, "follow_up_next_at": None,
            "follow_up_attempts": 0, "satisfaction": None,
        }
        events = [_event(created, agent, "agent", "create", None, S.ACCEPTED, None)]
        state, at = S.ACCEPTED, created
        if category == "consultation" and u[1] < ANSWER_ON_SPOT:
            at = created + timedelta(seconds=30 + 300 * u[2])
            row.update(reply="已在通话中答复来电人", resolved_at=at)
            events.append(_event(at, agent, "agent", "answer", state, S.RESOLVED, None, row["reply"]))
            state = S.RESOLVED
        else:
            at = created + timedelta(minutes=5 + 115 * u[2])
            deadline = due(at, days.get(category, 3))
            row.update(department=dept, dispatched_at=at, due_at=deadline)
            events.append(_event(at, agent, "agent", "dispatch", state, S.DISPATCHED, dept))
            at += timedelta(hours=0.5 + 7.5 * u[3])
            events.append(_event(at, dept, "department", "sign", S.DISPATCHED, S.IN_PROGRESS, dept))
            state = S.IN_PROGRESS
            on_time = u[4] < quality[dept][0] * (0.6 + 0.4 * quality[county][0])
            if on_time:
                done: datetime | None = max(at, at + (deadline - at) * (0.1 + 0.85 * u[5]))
            else:
                done = deadline + timedelta(days=0.2 + 6 * u[5]) if u[6] < 0.8 else None
            if done is not None:
                row.update(reply="经核实已处理，并向来电人反馈", resolved_at=done)
                events.append(_event(done, dept, "department", "resolve", state, S.RESOLVED, dept, row["reply"]))
                state, at = S.RESOLVED, done
        if state is S.RESOLVED:
            at = calendar.start_of(calendar.local_day(at) + timedelta(days=1)) + timedelta(hours=10 + 8 * u[6])
            sat_q, basic_q = quality[row["department"] or county][1:]
            if u[7] < 0.15:
                outcome, action = "unreached", "follow_up_unreached"
            else:
                v = rng.random()
                outcome = "satisfied" if v < sat_q else "basically_satisfied" if v < sat_q + basic_q else "unsatisfied"
                action = "follow_up_unsatisfied" if outcome == "unsatisfied" else "follow_up_satisfied"
            row["satisfaction"] = outcome
            if outcome == "unsatisfied" and row["department"] is not None:
                # Reopened to the department with a fresh deadline.
                row.update(resolved_at=None, due_at=due(at, days.get(category, 3)))
                events.append(_event(at, "followup", "system", action, state, S.IN_PROGRESS, row["department"],
                                     outcome))
                state = S.IN_PROGRESS
            else:
                events.append(_event(at, "followup", "system", action, state, S.FOLLOWED_UP, row["department"],
                                     outcome))
                state = S.FOLLOWED_UP
                if rng.random() < 0.9:
                    at += timedelta(days=1)
                    row["closed_at"] = at
                    events.append(_event(at, "centre", "supervisor", "close", state, S.CLOSED, row["department"]))
                    state = S.CLOSED
        row.update(state=state.value, is_open=state in OPEN_STATES, updated_at=events[-1]["at"],
                   version=len(events))
        for e in events:
            e["to_state"] = str(e["to_state"])
            e["from_state"] = None if e["from_state"] is None else str(e["from_state"])
        out.tickets.append(row)
        out.events.append(events)
        out.calls.append(rec.call_id)
    return out


def _chunks(n: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    for i in range(0, n, size):
        yield i, min(n, i + size)


class Progress:
    """A one-line progress bar on a terminal (stderr); plain step lines otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(1, total)
        self.done = 0
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()

    def advance(self, n: int, what: str) -> None:
        self.done = min(self.total, self.done + n)
        filled = self.width * self.done // self.total
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {100 * self.done // self.total:3d}% {what}"
        if self.tty:
            self.stream.write("\r" + line.ljust(self.width + 40))
            if self.done >= self.total:
                self.stream.write("\n")
        elif self.done >= self.total or n >= CHUNK:
            self.stream.write(line + "\n")
        self.stream.flush()


@dataclass(frozen=True, slots=True)
class SeedResult:
    records: int
    new_records: int
    intervals: int
    tickets: int
    events: int


def write_month(store: Any, sim: SimulatedMonth, calendar: WorkCalendar, seed: int, *,
                prefix: str = "12345", working_days: dict[str, int] | None = None,
                progress: Callable[[int], Progress] | None = None) -> SeedResult:
    """Write the simulated month's records, agent state intervals and tickets into `store` (a
    records.store.Store), in one transaction. A record or interval already stored is skipped."""
    from records.agentlog import TABLE as INTERVALS
    from records.agentlog import AgentLog
    from records.table import CallRecordRow

    records = CallRecordRow.__table__  # type: ignore[attr-defined]
    AgentLog(store.engine)  # creates its table when missing, like the ticket tables below
    Ticket.metadata.create_all(store.engine, tables=TICKET_TABLES)
    with store.engine.connect() as conn:
        counters = {d: int(n) for d, n in conn.execute(select(COUNTERS.c.day, COUNTERS.c.last))}
        start = min((r.ended_at for r in sim.records), default=None)
        linked: set[str] = set()
        if start is not None:  # the month's calls that already have a ticket (an earlier seeding)
            query = select(CALLS.c.call_id).join(T, T.c.id == CALLS.c.ticket_id).where(T.c.created_at >= start)
            linked = {c for (c,) in conn.execute(query)}
    seeded = seeded_tickets(sim.records, calendar, seed, prefix=prefix, counters=counters,
                            working_days=working_days, skip=frozenset(linked))
    n_events = sum(len(e) for e in seeded.events)
    bar = (progress or Progress)(len(sim.records) + len(sim.intervals) + len(seeded.tickets))
    columns = [c.name for c in records.columns]
    new = 0
    with store.engine.begin() as conn:
        for a, b in _chunks(len(sim.records)):
            rows = [{c: getattr(r, c) for c in columns} for r in sim.records[a:b]]
            new += insert_rows(conn, records, rows, skip_existing=["call_id"])
            bar.advance(b - a, "call records")
        for a, b in _chunks(len(sim.intervals)):
            rows = [{"agent_id": i.agent_id, "start": i.start, "end": i.end, "state": i.state,
                     "reason": i.reason[:64]} for i in sim.intervals[a:b]]
            insert_rows(conn, INTERVALS, rows, skip_existing=["agent_id", "start"])
            bar.advance(b - a, "agent state intervals")
        for a, b in _chunks(len(seeded.tickets)):
            ids = next_ids(conn, T, b - a)
            insert_rows(conn, T, [dict(row, id=i) for i, row in zip(ids, seeded.tickets[a:b], strict=True)])
            insert_rows(conn, CALLS, [{"ticket_id": i, "call_id": c}
                                      for i, c in zip(ids, seeded.calls[a:b], strict=True)])
            insert_rows(conn, EVENTS, [dict(e, ticket_id=i)
                                       for i, evs in zip(ids, seeded.events[a:b], strict=True) for e in evs])
            bar.advance(b - a, "tickets")
        _save_counters(conn, store.dialect, {d: n for d, n in seeded.counters.items() if counters.get(d) != n})
    return SeedResult(len(sim.records), new, len(sim.intervals), len(seeded.tickets), n_events)


def _save_counters(conn: Any, dialect: str, counters: dict[str, int]) -> None:
    if not counters:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = ins(COUNTERS)
    stmt = stmt.on_conflict_do_update(index_elements=["day"], set_={"last": func.max(COUNTERS.c.last,
                                                                                     stmt.excluded.last)}
                                      if dialect == "sqlite" else {"last": func.greatest(COUNTERS.c.last,
                                                                                         stmt.excluded.last)})
    conn.execute(stmt, [{"day": d, "last": n} for d, n in sorted(counters.items())])
