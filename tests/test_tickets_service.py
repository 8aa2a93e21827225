"""Tickets in the store, on SQLite and real PostgreSQL: numbers, workflow, history, confidentiality,
deadlines and escalation, follow-up, caller history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from records.store import Store
from records.testing import database_url, make_record
from tickets.access import Role, Viewer
from tickets.deadlines import WorkCalendar
from tickets.departments import build, read_csv
from tickets.errors import ConcurrentChange, Forbidden, InvalidTicket, TicketNotFound
from tickets.followup import FollowUpDialer
from tickets.history import caller_history
from tickets.service import TicketDraft, TicketService
from tickets.settings import FollowUpConfig, TicketsConfig
from tickets.workflow import TRANSITIONS, Action, IllegalTransition, TicketState

ROOT = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 9, 28, 10, tzinfo=TZ).astimezone(UTC)  # Mon before National Day
AGENT = Viewer(Role.AGENT, user="a1001")
OTHER_AGENT = Viewer(Role.AGENT, user="a1002")
SUP = Viewer(Role.SUPERVISOR, user="s1")
XIHU_POLICE = Viewer.for_department("xihu.gaj")
XIHU = Viewer.for_department("xihu", ["xihu.gaj", "xihu.zfjc"])
STRANGER = Viewer("visitor")
DIRECTORY = build(read_csv(ROOT / "config" / "departments.csv"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def svc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TicketService]:
    try:
        ctx = database_url(request.param, str(tmp_path))
        url = ctx.__enter__()
    except Exception as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not usable: {type(exc).__name__}: {exc}")
    try:
        with Store(url) as store:
            cfg = TicketsConfig(followup=FollowUpConfig(start=time(9), end=time(20), retries=1, retry_minutes=60))
            yield TicketService(store, cfg, WorkCalendar.china(), DIRECTORY)
    finally:
        ctx.__exit__(None, None, None)


def new(svc: TicketService, *, at: datetime = T0, caller: str = "13900000001", **kw: Any) -> str:
    actor = kw.pop("actor", AGENT)
    draft = TicketDraft(category=kw.pop("category", "help"), content=kw.pop("content", "路灯不亮"),
                        caller_number=caller, county="xihu", **kw)
    return svc.create(draft, actor, at).number


PATHS: dict[TicketState, list[tuple[Action, Viewer, dict[str, Any]]]] = {
    TicketState.ACCEPTED: [],
    TicketState.DISPATCHED: [(Action.DISPATCH, AGENT, {"department": "xihu.gaj"})],
}
PATHS[TicketState.IN_PROGRESS] = PATHS[TicketState.DISPATCHED] + [(Action.SIGN, XIHU_POLICE, {})]
PATHS[TicketState.EXTENSION_REQUESTED] = PATHS[TicketState.IN_PROGRESS] + [
    (Action.REQUEST_EXTENSION, XIHU_POLICE, {"days": 3, "note": "需现场勘查"})]
PATHS[TicketState.RETURNED] = PATHS[TicketState.DISPATCHED] + [(Action.RETURN, XIHU_POLICE, {"note": "非本单位职责"})]
PATHS[TicketState.RESOLVED] = PATHS[TicketState.IN_PROGRESS] + [(Action.RESOLVE, XIHU_POLICE, {"note": "已修复"})]
PATHS[TicketState.FOLLOWED_UP] = PATHS[TicketState.RESOLVED] + [(Action.FOLLOW_UP_SATISFIED, AGENT, {})]
PATHS[TicketState.CLOSED] = PATHS[TicketState.FOLLOWED_UP] + [(Action.CLOSE, AGENT, {})]
PATHS[TicketState.MERGED] = [(Action.MERGE, AGENT, {"merge_into": "KEEP"})]

# Arguments that make each legal action well-formed; who may take it.
ARGS: dict[Action, tuple[Viewer, dict[str, Any]]] = {
    Action.DISPATCH: (AGENT, {"department": "xihu.zfjc"}),
    Action.REASSIGN: (AGENT, {"department": "xihu.zfjc"}),
    Action.ANSWER: (AGENT, {"note": "已当场答复"}),
    Action.SIGN: (XIHU_POLICE, {}),
    Action.RETURN: (XIHU_POLICE, {"note": "非本单位职责"}),
    Action.REQUEST_EXTENSION: (XIHU_POLICE, {"days": 2, "note": "等待材料"}),
    Action.APPROVE_EXTENSION: (SUP, {}),
    Action.REJECT_EXTENSION: (SUP, {}),
    Action.REMIND: (AGENT, {}),
    Action.SUPERVISE: (SUP, {}),
    Action.RESOLVE: (XIHU_POLICE, {"note": "已办结"}),
    Action.FOLLOW_UP_SATISFIED: (AGENT, {}),
    Action.FOLLOW_UP_UNSATISFIED: (AGENT, {}),
    Action.FOLLOW_UP_UNREACHED: (AGENT, {}),
    Action.CLOSE: (AGENT, {}),
    Action.MERGE: (AGENT, {"merge_into": "KEEP"}),
}


def ticket_in(svc: TicketService, state: TicketState, keep: str) -> str:
    number = new(svc)
    for action, actor, kw in PATHS[state]:
        kw = {k: (keep if v == "KEEP" else v) for k, v in kw.items()}
        svc.transition(number, action, actor, T0, **kw)
    assert svc.get(number, SUP).state is state
    return number


def test_every_state_action_pair_on_the_store(svc: TicketService) -> None:
    keep = new(svc, caller="13900000009")
    for state in TicketState:
        for action in Action:
            number = ticket_in(svc, state, keep)
            before, lines = svc.get(number, SUP), len(svc.history(number, SUP))
            actor, kw = ARGS[action]
            kw = {k: (keep if v == "KEEP" else v) for k, v in kw.items()}
            if (state, action) in TRANSITIONS:
                after = svc.transition(number, action, actor, T0 + timedelta(hours=1), **kw)
                assert after.state is TRANSITIONS[(state, action)]
                assert after.version == before.version + 1
                assert len(svc.history(number, SUP)) == lines + 1
            else:
                with pytest.raises(IllegalTransition):  # a supervisor sees every ticket: the table decides
                    svc.transition(number, action, SUP, T0 + timedelta(hours=1), **kw)
                assert svc.get(number, SUP) == before  # nothing changed
                assert len(svc.history(number, SUP)) == lines


def test_numbers_are_per_local_day_and_unique(svc: TicketService) -> None:
    first = new(svc)
    second = new(svc)
    late = new(svc, at=datetime(2026, 9, 28, 16, 30, tzinfo=UTC))  # 00:30 on Sep 29 in Shanghai
    assert (first, second, late) == ("12345-20260928-000001", "12345-20260928-000002", "12345-20260929-000001")


def test_history_records_who_when_what(svc: TicketService) -> None:
    number = new(svc)
    svc.transition(number, Action.DISPATCH, AGENT, T0, department="xihu.gaj", note="请核实")
    svc.transition(number, Action.RETURN, XIHU_POLICE, T0 + timedelta(hours=2), note="非本单位职责")
    svc.transition(number, Action.REASSIGN, AGENT, T0 + timedelta(hours=3), department="xihu.zfjc")
    lines = svc.history(number, SUP)
    assert [(h.action, h.actor, h.from_state, h.to_state, h.department) for h in lines] == [
        ("create", "a1001", None, "accepted", None),
        ("dispatch", "a1001", "accepted", "dispatched", "xihu.gaj"),
        ("return", "xihu.gaj", "dispatched", "returned", None),
        ("reassign", "a1001", "returned", "dispatched", "xihu.zfjc"),
    ]
    assert lines[2].note == "非本单位职责" and lines[2].at == T0 + timedelta(hours=2)


def test_rejected_changes_leave_no_trace(svc: TicketService) -> None:
    number = new(svc)
    before = svc.get(number, SUP)
    with pytest.raises(InvalidTicket):
        svc.transition(number, Action.DISPATCH, AGENT, T0)  # no department
    with pytest.raises(InvalidTicket):
        svc.transition(number, Action.DISPATCH, AGENT, T0, department="nowhere")
    with pytest.raises(TicketNotFound):  # a department does not see a ticket not dispatched to it
        svc.transition(number, Action.DISPATCH, Viewer(Role.DEPARTMENT, department="xihu"), T0, department="xihu")
    with pytest.raises(Forbidden):  # the daemon's timers see everything but never dispatch
        svc.transition(number, Action.DISPATCH, Viewer(Role.SYSTEM), T0, department="xihu.gaj")
    with pytest.raises(Forbidden):
        svc.create(TicketDraft(category="help", content="x"), XIHU, T0)
    with pytest.raises(ConcurrentChange):
        svc.transition(number, Action.DISPATCH, AGENT, T0, department="xihu.gaj", expected_version=7)
    with pytest.raises(InvalidTicket):
        svc.create(TicketDraft(category="gossip", content="x"), AGENT, T0)
    assert svc.get(number, SUP) == before
    assert len(svc.history(number, SUP)) == 1


def test_confidentiality_by_role(svc: TicketService) -> None:
    secret = new(svc, confidential=True, caller="13911112222", caller_name="张三", actor=AGENT)
    plain = new(svc, caller="13933334444")
    for number in (secret, plain):
        svc.transition(number, Action.DISPATCH, AGENT, T0, department="xihu.gaj")
    assert svc.get(secret, SUP).caller_name == "张三"
    assert svc.get(secret, AGENT).caller_number == "13911112222"  # the agent who took it
    with pytest.raises(TicketNotFound):
        svc.get(secret, OTHER_AGENT)
    assert [t.number for t in svc.query(OTHER_AGENT)] == [plain]
    dep = svc.get(secret, XIHU_POLICE)  # the handling unit sees the matter, not who complained
    assert (dep.caller_number, dep.caller_name, dep.content) == ("***", "***", "路灯不亮")
    assert {t.number for t in svc.query(XIHU)} == {secret, plain}  # the county sees its units' tickets
    assert svc.query(Viewer.for_department("gongshu.gaj")) == []
    assert svc.query(STRANGER) == []
    with pytest.raises(TicketNotFound):
        svc.get(plain, STRANGER)
    pop = caller_history(svc.store, "13911112222", viewer=OTHER_AGENT)
    assert pop.open_tickets == ()


def test_extension_and_deadline_over_national_day(svc: TicketService) -> None:
    number = new(svc, category="help")  # 3 working days from dispatch on Mon Sep 28
    t = svc.transition(number, Action.DISPATCH, AGENT, T0, department="xihu.gaj")
    assert t.due_at == datetime(2026, 10, 9, tzinfo=TZ)  # Sep 29, 30, Oct 8: end of Oct 8
    svc.transition(number, Action.SIGN, XIHU_POLICE, T0)
    with pytest.raises(InvalidTicket):
        svc.transition(number, Action.REQUEST_EXTENSION, XIHU_POLICE, T0, days=99, note="x")
    svc.transition(number, Action.REQUEST_EXTENSION, XIHU_POLICE, T0, days=2, note="需协调")
    t = svc.transition(number, Action.APPROVE_EXTENSION, SUP, T0)
    assert t.due_at == datetime(2026, 10, 11, tzinfo=TZ)  # Oct 9, Sat Oct 10 (adjusted working day)
    assert t.extension_days == 2 and t.state is TicketState.IN_PROGRESS


def test_escalation_timers(svc: TicketService) -> None:
    number = new(svc, category="consultation")
    # Dispatched Tue Sep 29: due at the end of Wed Sep 30, the last working day before National Day.
    svc.transition(number, Action.DISPATCH, AGENT, T0 + timedelta(days=1), department="xihu.gaj")
    assert svc.escalate(datetime(2026, 9, 30, 23, 0, tzinfo=TZ)) == []
    assert svc.escalate(datetime(2026, 10, 3, 12, tzinfo=TZ)) == []  # overdue, reminder day not come
    assert [i.level for i in svc.due(SUP, datetime(2026, 10, 3, 12, tzinfo=TZ))] == ["overdue"]
    assert svc.escalate(datetime(2026, 10, 8, 0, 1, tzinfo=TZ)) == [(number, Action.REMIND)]
    assert svc.escalate(datetime(2026, 10, 8, 9, tzinfo=TZ)) == []  # once
    # Reminder day Oct 8; 5 working days more: 9, Sat 10, 12, 13, 14.
    assert svc.escalate(datetime(2026, 10, 13, 23, 59, tzinfo=TZ)) == []
    assert svc.escalate(datetime(2026, 10, 14, 0, 0, tzinfo=TZ)) == [(number, Action.SUPERVISE)]
    t = svc.get(number, SUP)
    assert (t.reminders, t.supervised, t.state) == (1, True, TicketState.DISPATCHED)
    assert [h.actor for h in svc.history(number, SUP)][-2:] == ["system", "system"]


async def test_follow_up_calls_retries_and_reopens(svc: TicketService) -> None:
    placed: list[tuple[str, dict[str, str]]] = []

    async def originate(dial: str, variables: dict[str, str]) -> None:
        placed.append((dial, variables))

    clock = [datetime(2026, 9, 30, 15, tzinfo=TZ)]
    dialer = FollowUpDialer(svc, svc.cfg.followup, originate, now=lambda: clock[0])
    a, b = new(svc, caller="13900000001"), new(svc, caller="13900000002")
    for number in (a, b):
        svc.transition(number, Action.DISPATCH, AGENT, T0, department="xihu.gaj")
        svc.transition(number, Action.SIGN, XIHU_POLICE, T0)
        svc.transition(number, Action.RESOLVE, XIHU_POLICE, clock[0], note="已处理")
    assert await dialer.scan() == 0  # the day after, from 09:00
    clock[0] = datetime(2026, 10, 1, 9, 0, tzinfo=TZ)
    assert await dialer.scan() == 2
    assert placed[0] == ("PJSIP/13900000001@trunk", {"CC_TICKET": a, "CC_FOLLOWUP": "1"})
    assert await dialer.scan() == 0  # the retry waits its 60 minutes
    assert await dialer.answer(a, "3") == "unsatisfied"
    reopened = svc.get(a, SUP)
    assert (reopened.state, reopened.department, reopened.satisfaction) == (
        TicketState.IN_PROGRESS, "xihu.gaj", "unsatisfied")
    assert reopened.due_at == datetime(2026, 10, 11, tzinfo=TZ)  # 3 working days from Oct 1: 8, 9, Sat 10
    clock[0] = datetime(2026, 10, 1, 10, 0, tzinfo=TZ)
    assert await dialer.scan() == 1  # b's retry
    clock[0] = datetime(2026, 10, 1, 11, 0, tzinfo=TZ)
    assert await dialer.scan() == 0  # retries used up (1): b closed as unreached
    assert (svc.get(b, SUP).state, svc.get(b, SUP).satisfaction) == (TicketState.FOLLOWED_UP, "unreached")


def test_merge_duplicates(svc: TicketService) -> None:
    keep = new(svc, caller="13900000001", call_id=None)
    svc.store.write_batch([make_record("dup-call", entered_at=T0, caller="13900000005")])
    dup = svc.create(TicketDraft(category="help", content="同一路灯", call_id="dup-call"), AGENT, T0).number
    assert svc.get(dup, SUP).caller_number == "13900000005"  # pre-filled from the call record
    t = svc.transition(dup, Action.MERGE, AGENT, T0, merge_into=keep)
    assert (t.state, t.merged_into, t.is_open) == (TicketState.MERGED, keep, False)
    assert svc.get(keep, SUP).calls == ("dup-call",)
    assert svc.history(keep, SUP)[-1].action == "merged_from"
    with pytest.raises(InvalidTicket):
        svc.transition(new(svc), Action.MERGE, AGENT, T0, merge_into=dup)  # not open any more


def test_caller_history_is_one_query(svc: TicketService) -> None:
    number = "13955556666"
    svc.store.write_batch([make_record(f"h{i}", entered_at=T0 + timedelta(minutes=i), caller=number)
                           for i in range(15)])
    open_one = new(svc, caller=number)
    closed = new(svc, caller=number)
    svc.transition(closed, Action.ANSWER, AGENT, T0, note="已答复")
    svc.transition(closed, Action.FOLLOW_UP_UNREACHED, AGENT, T0)
    svc.transition(closed, Action.CLOSE, AGENT, T0)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(svc.store.engine, "before_cursor_execute", count)
    try:
        pop = caller_history(svc.store, number, calls=10)
    finally:
        event.remove(svc.store.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert [c.call_id for c in pop.calls] == [f"h{i}" for i in range(14, 4, -1)]
    assert [t.number for t in pop.open_tickets] == [open_one]
    assert pop.calls[0].ended_at.tzinfo is not None
