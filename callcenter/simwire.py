"""Point the PBX simulator at a daemon config: same AMI user, the agents' phones, the menu's digits.

`DemoDesk` plays the demo's agents and departments after the calls: every answered call becomes a ticket
(工单) through the same `TicketService` an agent's form uses, and a seeded share moves on through the
workflow, so the ticket pages and `callcenter tickets` show a working centre after `callcenter demo`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from asterisk.sim.config import AmiUser, EndpointBehaviour, LoadProfile, SimConfig
from callcenter.engine_config import roster_from
from config.models import Config
from ivr.model import Menu, MenuNode, successors
from records.model import CallRecordData, Outcome

# A busy hotline, not a perfect one: a few agents miss a ring now and then, so the demo shows the
# ACD putting callers back at their place and the connection rate moving under its target.
DEMO_PHONE = EndpointBehaviour(answer_delay=3.0, answer_delay_sigma=0.4, no_answer_rate=0.03, busy_rate=0.01)


TALK_MEDIAN = 120.0


def agents_on_shift(cfg: Config, at: datetime) -> int:
    """Agents the roster has on shift at ``at`` (agents in no team always count)."""
    roster = roster_from(cfg)
    count = 0
    for a in cfg.agents:
        aid = str(a.id)
        if not roster.has_agent(aid) or any(s.start <= at < s.end for s in roster.shifts_around(aid, at)):
            count += 1
    return count


def sim_config_for_daemon(cfg: Config, *, speed: float, seed: int, calls: int,
                          agi_url: str = "agi://127.0.0.1:4573/ivr", now: datetime | None = None) -> SimConfig:
    user = AmiUser(username=cfg.ami.username, secret=cfg.ami.secret)
    # A busy hour: the offered load is about 75 % of the agents on shift in that hour (talk 2 min +
    # wrap-up), so queues form and the connection rate sits near its target instead of at 100 % or
    # collapsing. The simulator's profile is by UTC hour, from the coming 24 hours of the roster.
    wrapup = sum(q.wrapup_seconds for q in cfg.queues) / len(cfg.queues)
    per_agent = 0.75 * 3600 / (TALK_MEDIAN + wrapup + 10)
    hour0 = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rates = [0.0] * 24
    for h in range(24):
        middle = hour0 + timedelta(hours=h, minutes=30)
        rates[middle.hour] = per_agent * max(1, agents_on_shift(cfg, middle))
    load = LoadProfile(hourly_rate=tuple(rates), menu_digits=menu_digit_weights(cfg.ivr_menu()),
                       talk_median=TALK_MEDIAN)
    return SimConfig(
        ami_host="127.0.0.1",
        ami_port=0,
        users=(user,),
        agi_url=agi_url,
        speed=speed,
        seed=seed,
        endpoints={a.endpoint: DEMO_PHONE for a in cfg.agents},
        default_endpoint=DEMO_PHONE,
        load=load,
    )


def menu_digit_weights(menu: Menu) -> dict[str, float]:
    """The first menu a caller meets; earlier choices more likely, halving down the list, as in real
    hotlines where the first option (general enquiries) takes most calls. A flat menu has no digits."""
    seen: set[str] = set()
    todo = [menu.start]
    while todo:
        name = todo.pop(0)
        if name in seen or name not in menu.nodes:
            continue
        seen.add(name)
        node = menu.nodes[name]
        if isinstance(node, MenuNode) and node.choices:
            weights = [0.5**i for i in range(len(node.choices))]
            return {c.digits: w / sum(weights) for c, w in zip(node.choices, weights, strict=True)}
        todo.extend(target for _, target in successors(node))
    return {"1": 1.0}


# ------------------------------------------------------------------ the demo's agents and departments

# How often each category comes in, and words of the IVR path (node names, their topic, the queue) that
# make one more likely: a caller who pressed "complaints" is mostly filing a complaint.
CATEGORY_WEIGHTS = {"consultation": 0.40, "help": 0.30, "complaint": 0.15, "suggestion": 0.10, "praise": 0.05}
CATEGORY_HINTS = {"consultation": ("general", "ticket", "咨询", "查询"), "help": ("help", "emergency", "求助"),
                  "complaint": ("complaint", "投诉"), "suggestion": ("suggest", "建议"), "praise": ("praise", "表扬")}
TEXT = {
    "zh": {"content": "市民来电反映{place}{topic}方面的问题，希望有关部门尽快核实处理。（演示数据）",
           "answer": "已在通话中答复市民：{topic}相关政策及办理渠道。", "resolve": "经核实已处理完毕，已电话告知市民。",
           "return": "非本单位职责范围，请改派。", "extension": "需现场勘查并协调相关单位，申请延期。",
           "topic": "城市管理"},
    "en": {"content": "A citizen reports a {topic} matter in {place} and asks for it to be checked and handled. "
                      "(demo data)",
           "answer": "Answered during the call: the rules and where to apply for {topic}.",
           "resolve": "Checked and handled; the citizen was told by phone.",
           "return": "Not within this unit's remit; please reassign.",
           "extension": "Needs a site visit and other units' help; extension requested.",
           "topic": "city services"},
}


def place_text(county: str, township: str, language: str) -> str:
    """Where a demo ticket happened: the township's own name already holds its county's (上城区安安街道),
    so the county is only added when it is not there (once 拱墅区拱墅区…)."""
    if township and county and township.startswith(county):
        return township
    if language == "zh":
        return county + township
    return ", ".join(x for x in (township, county) if x) or "the city"


@dataclass(frozen=True, slots=True)
class TicketStep:
    action: str  # a tickets.workflow.Action value, or "survey" (the call's own survey score)
    by: str  # agent | department | supervisor | followup
    department: str | None = None
    note: str = ""
    days: int | None = None
    satisfaction: str | None = None
    score: int | None = None  # "survey": the call's after-call score


@dataclass(frozen=True, slots=True)
class TicketPlan:
    call_id: str
    agent: str
    category: str
    topic: str
    county: str
    township: str
    content: str
    title: str
    steps: tuple[TicketStep, ...]


class DemoChoices:
    """What the config offers the demo's tickets: categories, topic leaves, counties with their townships,
    departments to dispatch to, the survey's scale. Built once; `plan` is pure and seeded per call."""

    def __init__(self, cfg: Config, directory: Any, survey_scores: Sequence[int] = ()) -> None:
        self.language = cfg.centre.language if cfg.centre.language in TEXT else "en"
        self.nodes: dict[str, Any] = dict(getattr(cfg.ivr, "nodes", None) or {})
        self.categories = [c.code for c in cfg.tickets.categories]
        labels = cfg.tickets.topic_names(self.language)
        parents = {code.rsplit(".", 1)[0] for code in labels if "." in code}
        self.topics = [(code, label.rsplit(" / ", 1)[-1]) for code, label in labels.items() if code not in parents]
        units = list(directory)
        self.counties = [d.code for d in units if d.group == "county"]
        self.names = {d.code: d.name(self.language) for d in units}
        self.local: dict[str, list[str]] = {c: [u for u in directory.subtree(c)
                                                if directory.get(u).group in ("county_department", "township")]
                                            for c in self.counties}
        self.townships = {c: [u for u in self.local[c] if directory.get(u).group == "township"]
                          for c in self.counties}
        self.city = [d.code for d in units if d.group in ("city_department", "public_service")]
        self.anywhere = [d.code for d in units]
        self.survey_scores = tuple(survey_scores)

    def _hint(self, record: CallRecordData) -> str:
        words = [record.ivr_path, record.queue or ""]
        for step in record.ivr_path.split(">"):
            name, _, digits = step.partition(":")
            choices = getattr(self.nodes.get(name), "choices", None)
            target = choices.get(digits) if isinstance(choices, dict) and digits else None
            if target:
                words += [target, str(getattr(self.nodes.get(target), "topic", "") or "")]
        return " ".join(words).lower()

    def _category(self, record: CallRecordData, rng: random.Random) -> str:
        hint = self._hint(record)
        weights = [CATEGORY_WEIGHTS.get(c, 0.05) * (8 if any(w in hint for w in CATEGORY_HINTS.get(c, ())) else 1)
                   for c in self.categories]
        return rng.choices(self.categories, weights)[0]

    def _department(self, county: str, rng: random.Random, avoid: str | None = None) -> str | None:
        pools = [p for p in (self.local.get(county, []), self.city, self.anywhere) if [u for u in p if u != avoid]]
        if not pools:
            return None
        pool = pools[0] if len(pools) == 1 or rng.random() < 0.5 else pools[1]
        return rng.choice([u for u in pool if u != avoid])

    def plan(self, record: CallRecordData, seed: int) -> TicketPlan:
        """The ticket an agent files for an answered call, and what happens to it next (seeded by call)."""
        rng = random.Random(f"demo-ticket:{seed}:{record.call_id}")
        text = TEXT[self.language]
        category = self._category(record, rng)
        topic, topic_label = rng.choice(self.topics) if self.topics else ("", text["topic"])
        county = rng.choice(self.counties) if self.counties else ""
        township = self.names[rng.choice(self.townships[county])] if county and self.townships[county] else ""
        place = place_text(self.names.get(county, ""), township, self.language)
        content = text["content"].format(place=place, topic=topic_label)
        steps = self._steps(record, category, county, topic_label, rng)
        return TicketPlan(record.call_id, record.agent_id or "demo", category, topic, county, township, content,
                          topic_label, tuple(steps))

    def _steps(self, record: CallRecordData, category: str, county: str, topic: str,
               rng: random.Random) -> list[TicketStep]:
        text = TEXT[self.language]
        if category == "consultation" and rng.random() < 0.6:  # 直接办结: answered during the call
            steps = [TicketStep("answer", "agent", note=text["answer"].format(topic=topic))]
            if record.satisfaction is not None and self.survey_scores:
                steps.append(TicketStep("survey", "followup", score=record.satisfaction))
            return steps
        department = self._department(county, rng)
        if department is None or rng.random() < 0.1:
            return []  # accepted, not dispatched yet
        steps = [TicketStep("dispatch", "agent", department)]
        r = rng.random()
        if r < 0.08:  # 退单, and the centre sends it elsewhere half the time
            steps.append(TicketStep("return", "department", department, note=text["return"]))
            other = self._department(county, rng, avoid=department)
            if other is not None and rng.random() < 0.5:
                steps.append(TicketStep("reassign", "agent", other))
            return steps
        if r < 0.25:
            return steps  # dispatched, not signed for yet
        steps.append(TicketStep("sign", "department", department))
        r = rng.random()
        if r < 0.08:  # 延期
            steps.append(TicketStep("request_extension", "department", department, note=text["extension"],
                              days=rng.randint(3, 5)))
            if rng.random() < 0.5:
                steps.append(TicketStep("approve_extension", "supervisor", note="同意延期" if self.language == "zh"
                                  else "approved"))
        elif r < 0.16:  # 催办
            hurry = "请加快办理" if self.language == "zh" else "please hurry"
            steps.append(TicketStep("remind", "supervisor", note=hurry))
        elif r < 0.6:
            steps.append(TicketStep("resolve", "department", department, note=text["resolve"]))
            if rng.random() < 0.6:  # 回访 done
                verdict = rng.choices(["satisfied", "basically_satisfied", "unsatisfied"], [0.8, 0.12, 0.08])[0]
                steps.append(TicketStep("follow_up", "followup", satisfaction=verdict))
                if verdict != "unsatisfied" and rng.random() < 0.5:
                    steps.append(TicketStep("close", "agent"))
        return steps


@dataclass
class DemoDesk:
    """Files a ticket for each answered call the store holds (in batches, in a worker thread: never on the
    routing path), then carries out its seeded plan through `TicketService`."""

    service: Any  # tickets.service.TicketService
    choices: DemoChoices
    seed: int
    since: datetime  # calls that ended from here on are this demo's
    clock: Callable[[], datetime]
    interval: float = 0.5  # real seconds between batches
    people: frozenset[str] = frozenset()  # agents at a real desktop (--interactive-agent) file their own
    done: set[str] = field(default_factory=set)  # call ids handled (ticketed, or found ticketed)
    created: int = 0
    steps: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.catch_up()
            try:
                async with asyncio.timeout(self.interval):
                    await self._stop.wait()
            except TimeoutError:
                pass

    def stop(self) -> None:
        """End `run` after its current batch (a batch is never cut: no call is ticketed twice)."""
        self._stop.set()

    async def catch_up(self) -> int:
        """Ticket every answered call stored so far; returns how many were created."""
        async with self._lock:
            return await asyncio.to_thread(self._batch)

    def _batch(self) -> int:
        new = 0
        for record in self.service.store.records(self.since):
            if record.outcome is not Outcome.ANSWERED or record.call_id in self.done or record.agent_id in self.people:
                continue
            self.done.add(record.call_id)
            if self.service.tickets_of_call(record.call_id):  # a rerun into the same database
                continue
            self.file(self.choices.plan(record, self.seed), self.clock())
            new += 1
        return new

    def file(self, plan: TicketPlan, at: datetime) -> str:
        """Create the ticket and take its steps, one second apart; returns its number."""
        from tickets.access import Role, Viewer
        from tickets.service import TicketDraft
        from tickets.survey import satisfaction_of

        svc = self.service
        agent = Viewer(Role.AGENT, user=plan.agent)
        draft = TicketDraft(category=plan.category, content=plan.content, channel="phone", topic=plan.topic,
                            county=plan.county, township=plan.township, title=plan.title, call_id=plan.call_id)
        number: str = svc.create(draft, agent, at).number
        self.created += 1
        for i, step in enumerate(plan.steps, 1):
            when = at + timedelta(seconds=i)
            if step.action == "survey" and step.score is not None:  # the call's own score, now its ticket exists
                verdict = satisfaction_of(step.score, self.choices.survey_scores)
                svc.record_survey(number, verdict, when, f"after-call survey: score {step.score}")
            elif step.action == "follow_up":
                svc.record_follow_up(number, step.satisfaction or "satisfied", when, note="demo follow-up call")
            else:
                by = {"agent": agent, "supervisor": Viewer(Role.SUPERVISOR, user="demo-supervisor"),
                      "department": Viewer.for_department(step.department or "", user="demo-unit")}[step.by]
                svc.transition(number, step.action, by, when, department=step.department, note=step.note,
                               days=step.days)
            self.steps += 1
        return number


def ticket_summary(service: Any, call_ids: Sequence[str], now: datetime) -> dict[str, Any]:
    """The demo's tickets: those linked to `call_ids` (the run's answered calls), by state and category,
    and how many are due (today or overdue, and within 3 working days)."""
    from collections import Counter

    from sqlalchemy import select

    from tickets.access import Role, Viewer
    from tickets.service import CALLS, T

    rows: dict[int, tuple[str, str]] = {}
    linked: set[str] = set()
    ids = list(call_ids)
    with service.store.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            query = (select(T.c.id, T.c.state, T.c.category, CALLS.c.call_id)
                     .join(CALLS, CALLS.c.ticket_id == T.c.id).where(CALLS.c.call_id.in_(ids[i:i + 500])))
            for tid, state, category, call_id in conn.execute(query):
                rows[tid] = (state, category)
                linked.add(call_id)
    supervisor = Viewer(Role.SUPERVISOR, user="demo")
    mine = set(rows)
    due_now = sum(1 for d in service.due(supervisor, now) if d.ticket.id in mine)
    due_soon = sum(1 for d in service.due(supervisor, now, horizon_days=3) if d.ticket.id in mine)
    return {
        "tickets": len(rows),
        "answered_calls": len(ids),
        "answered_calls_with_ticket": len(linked),
        "by_state": dict(sorted(Counter(s for s, _ in rows.values()).items())),
        "by_category": dict(sorted(Counter(c for _, c in rows.values()).items())),
        "due_or_overdue": due_now,
        "due_within_3_working_days": due_soon,
    }


def pbx_share(cfg: Config, pbx: str) -> Config:
    """The config as one PBX's simulator sees it (config ``pbxs``): that PBX's AMI user and its agents only."""
    link = next(p for p in cfg.pbx_list() if p.name == pbx)
    first = cfg.pbx_list()[0].name
    agents = [a for a in cfg.agents if (a.pbx or first) == pbx]
    return cfg.model_copy(update={"ami": link.ami, "agi": link.agi, "agents": agents})
