"""What the department ranking and the hot-topics report need of a ticket (工单), and two sources.

The reports are built against `TicketRow` and `TicketSource` below. Sources:
- the ticket store (tickets/tables.py): `callcenter/reports/store_tickets.py`, the default;
- `CsvTicketSource` reads an export (one row per ticket, the columns of `CSV_COLUMNS`);
- `seeded_tickets` makes tickets from a seeded simulated month of calls (callcenter/reports/month.py)
  without any ticket store (`--seed`): a share of the answered calls become tickets, handled by
  departments of seeded quality, with one county's ride-hailing complaints rising in the second half of
  the month. `report seed-month` writes real tickets into the store instead (callcenter/reports/seed.py).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from records.model import CallRecordData, Outcome
from records.private import open_private

SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")


@runtime_checkable
class TicketRow(Protocol):
    """One ticket as the reports read it. Times are timezone-aware UTC."""

    @property
    def ticket_id(self) -> str: ...
    @property
    def call_id(self) -> str | None: ...  # the call it came from (None: web, app, letter)
    @property
    def created_at(self) -> datetime: ...
    @property
    def category(self) -> str: ...  # 咨询 / 投诉 / 求助 / 建议 / 举报
    @property
    def topic(self) -> str: ...  # e.g. 网约车, 噪音扰民
    @property
    def district(self) -> str: ...  # county / district (区县)
    @property
    def department(self) -> str: ...  # the department it was assigned to (承办单位)
    @property
    def content(self) -> str: ...  # the citizen's request in their words (Chinese)
    @property
    def due_at(self) -> datetime | None: ...  # None: no department deadline (answered on the spot)
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def replied_at(self) -> datetime | None: ...  # the department's reply to the citizen
    @property
    def satisfaction(self) -> str | None: ...  # satisfied | basically_satisfied | unsatisfied | None


class TicketSource(Protocol):
    def tickets(self, since: datetime, until: datetime) -> Iterable[TicketRow]:
        """Tickets created in [since, until)."""
        ...


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket_id: str
    call_id: str | None
    created_at: datetime
    category: str
    topic: str
    district: str
    department: str
    content: str
    due_at: datetime | None
    closed_at: datetime | None
    replied_at: datetime | None
    satisfaction: str | None

    def __post_init__(self) -> None:
        if self.satisfaction is not None and self.satisfaction not in SATISFACTION:
            raise ValueError(f"ticket {self.ticket_id}: unknown satisfaction {self.satisfaction!r}")
        for name in ("created_at", "due_at", "closed_at", "replied_at"):
            t = getattr(self, name)
            if t is not None and t.tzinfo is None:
                raise ValueError(f"ticket {self.ticket_id}: {name} must be timezone-aware")


CSV_COLUMNS = tuple(f.name for f in fields(Ticket))
_TIMES = ("created_at", "due_at", "closed_at", "replied_at")


class ListTicketSource:
    def __init__(self, rows: Iterable[TicketRow]) -> None:
        self.rows = sorted(rows, key=lambda t: (t.created_at, t.ticket_id))

    def tickets(self, since: datetime, until: datetime) -> list[TicketRow]:
        return [t for t in self.rows if since <= t.created_at < until]


class CsvTicketSource(ListTicketSource):
    """A CSV export with a header row naming (at least) the columns of CSV_COLUMNS; empty = None."""

    def __init__(self, path: str | Path) -> None:
        rows: list[TicketRow] = []
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: missing columns {sorted(missing)}")
            for line, raw in enumerate(reader, start=2):
                values: dict[str, object] = {k: (raw[k] or None) for k in CSV_COLUMNS}
                try:
                    for k in _TIMES:
                        v = values[k]
                        values[k] = datetime.fromisoformat(str(v)).astimezone(UTC) if v else None
                    for k in ("category", "topic", "district", "department", "content", "ticket_id"):
                        values[k] = values[k] or ""
                    rows.append(Ticket(**values))  # type: ignore[arg-type]
                except ValueError as exc:
                    raise ValueError(f"{path}:{line}: {exc}") from None
        super().__init__(rows)


def write_csv(rows: Iterable[TicketRow], path: str | Path) -> int:
    n = 0
    with open_private(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for t in rows:
            w.writerow([(v.isoformat() if isinstance(v, datetime) else ("" if v is None else v))
                        for v in (getattr(t, c) for c in CSV_COLUMNS)])
            n += 1
    return n


# --- seeded tickets -----------------------------------------------------------------------------

# topic -> (department(s), category weights, contents); names as in config/departments.csv, so that the
# ranking finds each one's group. With two departments a ticket goes to one of them (its own draw).
TOPICS: dict[str, tuple[str | tuple[str, ...], dict[str, float], tuple[str, ...]]] = {
    "网约车": ("市交通运输局", {"投诉": 0.8, "咨询": 0.2},
            ("网约车司机绕路多收费，要求退款", "网约车平台乱收费，司机态度恶劣", "投诉网约车司机拒载，并辱骂乘客",
             "网约车司机中途甩客，平台不处理")),
    "噪音扰民": ("市生态环境局", {"投诉": 0.9, "举报": 0.1},
             ("夜间工地施工噪音扰民，影响休息", "楼下商铺音响噪音太大", "广场舞噪音扰民，晚上十点后仍未停止")),
    "物业管理": ("市住房和城乡建设局", {"投诉": 0.6, "咨询": 0.4},
             ("小区物业不作为，电梯长期故障", "物业乱收停车费", "小区垃圾清运不及时，物业不处理")),
    "社保缴费": ("市人力资源和社会保障局", {"咨询": 0.8, "求助": 0.2},
             ("咨询灵活就业人员社保缴费标准", "社保断缴后如何补缴", "咨询退休手续办理流程")),
    "医保报销": ("市医疗保障局", {"咨询": 0.7, "投诉": 0.3},
             ("咨询异地就医医保报销比例", "医保卡无法正常结算", "门诊慢特病报销材料咨询")),
    "占道经营": ("市城市管理局", {"投诉": 0.6, "举报": 0.4},
             ("路边摊贩占道经营，影响通行", "商铺门前乱堆乱放占用人行道", "夜市占道经营油烟扰民")),
    "供水": (("水务集团", "排水有限公司"), {"求助": 0.6, "投诉": 0.4},
           ("小区突然停水，没有提前通知", "自来水水质发黄", "水管爆裂，请求抢修")),
    "入学": ("市教育局", {"咨询": 0.9, "建议": 0.1},
           ("咨询小学入学报名条件", "随迁子女入学需要哪些材料", "咨询学区划分")),
    "公交": (("公交集团", "地铁集团"), {"建议": 0.5, "投诉": 0.5},
           ("建议增加早高峰公交班次", "公交司机不到站就开走", "公交线路调整后出行不便")),
    "燃气": (("燃气集团", "热电集团"), {"求助": 0.5, "咨询": 0.5},
           ("燃气费缴费咨询", "闻到燃气味，请求上门检查", "燃气表故障")),
}
TOPIC_WEIGHTS = {"网约车": 0.06, "噪音扰民": 0.14, "物业管理": 0.14, "社保缴费": 0.14, "医保报销": 0.12,
                 "占道经营": 0.1, "供水": 0.08, "入学": 0.08, "公交": 0.08, "燃气": 0.06}
DISTRICTS = ("城关区", "东城区", "西湖区", "高新区", "临江县", "青山县")
SURGE_DISTRICT, SURGE_TOPIC = "临江县", "网约车"
TICKET_SHARE = 0.6  # answered calls that become a ticket (the rest are answered on the phone)


def _units(departments: str | tuple[str, ...]) -> tuple[str, ...]:
    return (departments,) if isinstance(departments, str) else departments


def pick_unit(departments: str | tuple[str, ...], key: str) -> str:
    """One of a topic's departments, drawn from its own stream (the ticket's other draws are unchanged)."""
    units = _units(departments)
    return units[0] if len(units) == 1 else random.Random(f"unit:{key}").choice(units)


def _dept_quality(seed: int) -> dict[str, tuple[float, float, float, float]]:
    """department / district -> (on-time probability, reply probability, satisfied, basically)."""
    rng = random.Random(f"quality:{seed}")
    names = sorted({d for ds, _, _ in TOPICS.values() for d in _units(ds)} | set(DISTRICTS))
    return {n: (rng.uniform(0.78, 0.99), rng.uniform(0.85, 1.0), rng.uniform(0.5, 0.8), rng.uniform(0.05, 0.2))
            for n in names}


def seeded_tickets(records: Sequence[CallRecordData], seed: int = 1) -> list[Ticket]:
    """Tickets from the answered calls of a simulated month (deterministic in `records` and `seed`)."""
    rng = random.Random(f"tickets:{seed}")
    quality = _dept_quality(seed)
    out: list[Ticket] = []
    answered = sorted((r for r in records if r.outcome is Outcome.ANSWERED), key=lambda r: (r.ended_at, r.call_id))
    if not answered:
        return out
    mid = answered[0].ended_at + (answered[-1].ended_at - answered[0].ended_at) / 2
    topics, weights = list(TOPIC_WEIGHTS), list(TOPIC_WEIGHTS.values())
    for n, rec in enumerate(answered, start=1):
        if rng.random() >= TICKET_SHARE:
            continue
        district = rng.choice(DISTRICTS)
        topic = rng.choices(topics, weights=weights)[0]
        # The second half of the month: ride-hailing complaints in one county climb.
        if rec.ended_at >= mid and rng.random() < 0.05:
            district, topic = SURGE_DISTRICT, SURGE_TOPIC
        units, cats, contents = TOPICS[topic]
        dept = pick_unit(units, rec.call_id)
        category = rng.choices(list(cats), weights=list(cats.values()))[0]
        if rec.queue == "complaints" and "投诉" in cats:
            category = "投诉"
        created = rec.ended_at
        due = created + timedelta(days=3 if category in ("投诉", "举报") else 5)
        on_time_d, reply_d, sat_d, basic_d = quality[dept]
        on_time_c = quality[district][0]
        on_time = rng.random() < on_time_d * (0.5 + 0.5 * on_time_c)
        span = (due - created).total_seconds()
        if on_time:
            closed: datetime | None = created + timedelta(seconds=span * rng.uniform(0.1, 1.0))
        else:
            closed = due + timedelta(days=rng.uniform(0.2, 6)) if rng.random() < 0.8 else None
        replied = None
        if closed is not None and rng.random() < reply_d:
            replied = closed + timedelta(hours=rng.uniform(0.5, 24))
        satisfaction = None
        if replied is not None and rng.random() < 0.7:
            u = rng.random()
            p_sat = sat_d * (0.8 + 0.25 * quality[district][2])
            satisfaction = "satisfied" if u < p_sat else ("basically_satisfied" if u < p_sat + basic_d
                                                          else "unsatisfied")
        content = rng.choice(contents)
        if rng.random() < 0.5:
            content = f"{district}{rng.choice(('某小区', '某路口', '某街道', ''))}：{content}"
        out.append(Ticket(
            ticket_id=f"GD{created.strftime('%Y%m%d')}{n:06d}", call_id=rec.call_id, created_at=created,
            category=category, topic=topic, district=district, department=dept, content=content, due_at=due,
            closed_at=closed, replied_at=replied, satisfaction=satisfaction,
        ))
    return out

