"""`TicketService`: create, change and read tickets through the workflow table, with an append-only history.

Synchronous (SQLAlchemy Core on the store's engine): the web edge calls it through `asyncio.to_thread`.
Every change is one transaction: the row is updated only if its `version` is the one read (a concurrent
change raises `ConcurrentChange`), and one `ticket_events` line is inserted (who, when, what).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from records.store import Store
from tickets import access, deadlines
from tickets.access import Viewer
from tickets.departments import Directory
from tickets.effects import EFFECTS, Move
from tickets.errors import ConcurrentChange, Forbidden, InvalidTicket, TicketNotFound
from tickets.followup import next_attempt
from tickets.settings import TicketsConfig, walk_topics
from tickets.tables import TICKET_TABLES, Ticket, TicketCall, TicketCounter, TicketEvent
from tickets.workflow import DEADLINE_STATES, OPEN_STATES, Action, TicketState, next_state

T = Ticket.__table__  # type: ignore[attr-defined]
EVENTS = TicketEvent.__table__  # type: ignore[attr-defined]
CALLS = TicketCall.__table__  # type: ignore[attr-defined]
COUNTERS = TicketCounter.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class TicketDraft:
    category: str
    content: str
    channel: str = "phone"
    topic: str = ""
    caller_number: str = ""
    caller_name: str = ""
    contact: str = ""
    county: str = ""
    township: str = ""
    address: str = ""
    title: str = ""
    confidential: bool = False
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A call the daemon knows (in flight, or closed a moment ago) whose record is not in the database yet:
    a ticket saved during the after-call survey binds to it, and the record joins when it is written."""

    call_id: str
    caller_number: str = ""
    caller_name: str = ""


#: the note of the creation of a ticket bound to a call whose record was not written yet
PENDING_NOTE = "call record pending: {}"

EDITABLE = ("topic", "caller_name", "contact", "county", "township", "address", "title", "content",
            "confidential", "category")


@dataclass(frozen=True, slots=True)
class TicketView:
    """A ticket as a viewer may see it (caller fields redacted where the policy says so)."""

    id: int
    number: str
    channel: str
    state: TicketState
    category: str
    topic: str
    caller_number: str
    caller_name: str
    contact: str
    county: str
    township: str
    address: str
    title: str
    content: str
    reply: str
    department: str | None
    confidential: bool
    merged_into: str | None
    is_open: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    dispatched_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    extension_days: int
    extension_requested_days: int
    reminders: int
    supervised: bool
    follow_up_next_at: datetime | None
    follow_up_attempts: int
    satisfaction: str | None
    version: int
    calls: tuple[str, ...] = ()

    def redacted(self) -> TicketView:
        return dataclasses.replace(self, caller_number=access.REDACTED, caller_name=access.REDACTED,
                                   contact=access.REDACTED, address=access.REDACTED)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        out["state"] = self.state.value
        out["calls"] = list(self.calls)
        return out


@dataclass(frozen=True, slots=True)
class HistoryLine:
    at: datetime
    actor: str
    role: str
    action: str
    from_state: str | None
    to_state: str
    department: str | None
    note: str


@dataclass(frozen=True, slots=True)
class DueTicket:
    ticket: TicketView
    level: str  # deadlines.NOT_DUE / DUE_TODAY / OVERDUE / REMINDER / NOTICE


def _view(row: Any, calls: Sequence[str] = ()) -> TicketView:
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(TicketView) if f.name != "calls"}
    values["state"] = TicketState(values["state"])
    return TicketView(**values, calls=tuple(calls))


@dataclass
class TicketService:
    store: Store
    cfg: TicketsConfig
    calendar: deadlines.WorkCalendar
    directory: Directory = field(default_factory=Directory)
    create_tables: bool = True
    #: called with each new ticket after it is stored (incidents/desk.py reads its first fields); a hook
    #: must not raise
    on_created: list[Callable[[TicketView], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.create_tables:
            Ticket.metadata.create_all(self.store.engine, tables=TICKET_TABLES)
        self._topics = {code for code, _ in walk_topics(self.cfg.topics)}

    @classmethod
    def from_config(cls, store: Store, cfg: Any, base_dir: str | Path | None = None) -> TicketService:
        """From the whole `Config`: its tickets section, holidays (overrides) and time zone."""
        from tickets import departments

        overrides = dict.fromkeys(cfg.holidays.days_off, False) | dict.fromkeys(cfg.holidays.working_days, True)
        calendar = deadlines.WorkCalendar.china(cfg.centre.timezone, overrides)
        directory = departments.load(cfg.tickets, base_dir if base_dir is not None else departments.CONFIG_DIR)
        return cls(store, cfg.tickets, calendar, directory)

    # --- creating ------------------------------------------------------------------------------------

    def _check_draft(self, values: dict[str, Any]) -> None:
        try:
            self.cfg.category(values["category"])
        except KeyError:
            known = ", ".join(c.code for c in self.cfg.categories)
            raise InvalidTicket(f"unknown category {values['category']!r} (known: {known})") from None
        if "channel" in values and values["channel"] not in self.cfg.channels:
            raise InvalidTicket(f"unknown channel {values['channel']!r} (known: {', '.join(self.cfg.channels)})")
        if values.get("topic") and self._topics and values["topic"] not in self._topics:
            raise InvalidTicket(f"unknown topic {values['topic']!r}")
        if values.get("county") and len(self.directory) and values["county"] not in self.directory:
            raise InvalidTicket(f"unknown county {values['county']!r}")
        if not str(values.get("content", "")).strip():
            raise InvalidTicket("content is empty")
        if len(str(values.get("content", ""))) > 20_000:
            raise InvalidTicket("content is longer than 20000 characters")

    def _next_number(self, conn: Connection, at: datetime) -> str:
        day = self.calendar.local_day(at).strftime("%Y%m%d")
        ins = postgresql.insert if self.store.dialect == "postgresql" else sqlite.insert
        stmt = (ins(COUNTERS).values(day=day, last=1)
                .on_conflict_do_update(index_elements=["day"], set_={"last": COUNTERS.c.last + 1})
                .returning(COUNTERS.c.last))
        seq = int(conn.execute(stmt).scalar_one())
        return f"{self.cfg.number_prefix}-{day}-{seq:06d}"

    def create(self, draft: TicketDraft, actor: Viewer, at: datetime, *,
               pending: PendingCall | None = None) -> TicketView:
        """A new ticket in state `accepted`; linked to `draft.call_id` (caller pre-filled from the record, or
        from `pending` when the record is not written yet: `calls_recorded` fills what is still missing)."""
        if actor.role not in access.CENTRE | {access.Role.SYSTEM}:
            raise Forbidden(f"role {actor.role!r} cannot create tickets")
        values = {f.name: getattr(draft, f.name) for f in dataclasses.fields(draft) if f.name != "call_id"}
        note = ""
        if draft.call_id:
            record: Any = self.store.get(draft.call_id)
            if record is None and pending is not None and pending.call_id == draft.call_id:
                record, note = pending, PENDING_NOTE.format(draft.call_id)
            if record is None:
                raise InvalidTicket(f"no call record {draft.call_id!r}")
            values["caller_number"] = values["caller_number"] or record.caller_number
            values["caller_name"] = values["caller_name"] or record.caller_name
        self._check_draft(values)
        with self.store.engine.begin() as conn:
            number = self._next_number(conn, at)
            row = dict(values, number=number, state=TicketState.ACCEPTED.value, is_open=True, created_at=at,
                       created_by=actor.user or actor.role, updated_at=at, reply="", department=None,
                       merged_into=None, extension_days=0, extension_requested_days=0, reminders=0,
                       supervised=False, follow_up_attempts=0, version=1)
            ticket_id = int(conn.execute(T.insert().values(**row).returning(T.c.id)).scalar_one())
            if draft.call_id:
                conn.execute(CALLS.insert().values(ticket_id=ticket_id, call_id=draft.call_id))
            self._log(conn, ticket_id, at, actor, "create", None, TicketState.ACCEPTED, None, note)
        view = self.get(number, actor)
        for hook in self.on_created:
            hook(view)
        return view

    def calls_recorded(self, records: Sequence[Any], at: datetime) -> int:
        """Call records just written: tickets created for those calls while their record was pending get the
        caller's number and name they lack, with a history line. Returns the tickets changed."""
        by_note = {PENDING_NOTE.format(r.call_id): r for r in records}
        if not by_note:
            return 0
        system = Viewer(access.Role.SYSTEM, user="records")
        query = (select(T, EVENTS.c.note.label("pending_note")).join(EVENTS, EVENTS.c.ticket_id == T.c.id)
                 .where(EVENTS.c.action == "create", EVENTS.c.note.in_(sorted(by_note)),
                        (T.c.caller_number == "") | (T.c.caller_name == "")))
        changed = 0
        with self.store.engine.begin() as conn:
            for row in list(conn.execute(query)):
                record = by_note[row.pending_note]
                fill = {name: getattr(record, name) for name in ("caller_number", "caller_name")
                        if not getattr(row, name) and getattr(record, name)}
                if fill:
                    self._apply(conn, row, fill, at, None)
                    self._log(conn, row.id, at, system, "record_joined", row.state, TicketState(row.state),
                              row.department, record.call_id)
                    changed += 1
        return changed

    def link_call(self, number: str, call_id: str, actor: Viewer, at: datetime) -> None:
        with self.store.engine.begin() as conn:
            row = self._row(conn, number, actor)
            exists = conn.execute(select(CALLS.c.call_id).where(CALLS.c.ticket_id == row.id,
                                                                CALLS.c.call_id == call_id)).first()
            if exists is None:
                conn.execute(CALLS.insert().values(ticket_id=row.id, call_id=call_id))
                self._log(conn, row.id, at, actor, "link_call", row.state, TicketState(row.state), row.department,
                          call_id)

    # --- changing ------------------------------------------------------------------------------------

    def update(self, number: str, changes: dict[str, Any], actor: Viewer, at: datetime,
               expected_version: int | None = None) -> TicketView:
        """Edit the citizen's matter (content, topic, district...) while the ticket is open."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise InvalidTicket(f"fields not editable: {', '.join(sorted(unknown))}")
        if actor.role not in access.CENTRE:
            raise Forbidden(f"role {actor.role!r} cannot edit tickets")
        with self.store.engine.begin() as conn:
            row = self._row(conn, number, actor)
            if not access.may_edit(actor, row):
                raise Forbidden(f"ticket {number} was created by another user: an agent edits only their own "
                                "tickets (ask a supervisor)")
            if not row.is_open:
                raise InvalidTicket(f"ticket {number} is {row.state}: no longer editable")
            merged = {name: getattr(row, name) for name in EDITABLE} | changes
            self._check_draft(merged)
            self._apply(conn, row, changes, at, expected_version)
            note = ", ".join(sorted(changes))
            self._log(conn, row.id, at, actor, "edit", row.state, TicketState(row.state), row.department, note)
        return self.get(number, actor)

    def transition(self, number: str, action: Action | str, actor: Viewer, at: datetime, *,
                   department: str | None = None, note: str = "", days: int | None = None,
                   merge_into: str | None = None, satisfaction: str | None = None,
                   expected_version: int | None = None) -> TicketView:
        """Move the ticket by `action` (workflow.TRANSITIONS). IllegalTransition, Forbidden, InvalidTicket
        or ConcurrentChange leave the ticket and its history unchanged."""
        action = Action(action)
        with self.store.engine.begin() as conn:
            row = self._row(conn, number, actor)
            state = TicketState(row.state)
            target = next_state(state, action)  # raises IllegalTransition
            if not access.may_act(actor, action, row):
                raise Forbidden(f"role {actor.role!r} may not {action.value} ticket {number}")
            move = Move(row, at, department, note, days, merge_into, satisfaction, self.cfg, self.calendar,
                        self.directory)
            changes = EFFECTS[action](move)  # checks the move's inputs first (InvalidTicket)
            if action is Action.MERGE:
                self._merge_calls(conn, row, changes["merged_into"], at, actor)
            changes["state"] = target.value
            changes["is_open"] = target in OPEN_STATES
            self._apply(conn, row, changes, at, expected_version)
            self._log(conn, row.id, at, actor, action.value, state, target,
                      changes.get("department", row.department), note)
            after = conn.execute(select(T).where(T.c.id == row.id)).one()
            calls = [c for (c,) in conn.execute(select(CALLS.c.call_id).where(CALLS.c.ticket_id == row.id)
                                                .order_by(CALLS.c.call_id))]
        # Shown as the actor saw it before the move: a department that returned a ticket no longer sees
        # it afterwards, but gets the result of its own action.
        view = _view(after, calls)
        return view if access.caller_visible(actor, row) else view.redacted()

    def _merge_calls(self, conn: Connection, row: Any, merge_into: str, at: datetime, actor: Viewer) -> None:
        """The merged ticket's calls move to the one kept, whose history notes the merge."""
        kept = conn.execute(select(T).where(T.c.number == merge_into)).first()
        if kept is None or not kept.is_open:
            raise InvalidTicket(f"ticket {merge_into} does not exist or is not open")
        for (call_id,) in conn.execute(select(CALLS.c.call_id).where(CALLS.c.ticket_id == row.id)):
            if conn.execute(select(CALLS.c.call_id).where(CALLS.c.ticket_id == kept.id,
                                                          CALLS.c.call_id == call_id)).first() is None:
                conn.execute(CALLS.insert().values(ticket_id=kept.id, call_id=call_id))
        self._log(conn, kept.id, at, actor, "merged_from", TicketState(kept.state), TicketState(kept.state),
                  kept.department, row.number)

    def _apply(self, conn: Connection, row: Any, changes: dict[str, Any], at: datetime,
               expected_version: int | None) -> None:
        if expected_version is not None and expected_version != row.version:
            raise ConcurrentChange(f"ticket {row.number} is at version {row.version}, not {expected_version}")
        result = conn.execute(update(T).where(T.c.id == row.id, T.c.version == row.version)
                              .values(**changes, updated_at=at, version=row.version + 1))
        if result.rowcount != 1:
            raise ConcurrentChange(f"ticket {row.number} changed meanwhile; reload it")

    def _log(self, conn: Connection, ticket_id: int, at: datetime, actor: Viewer, action: str,
             from_state: TicketState | str | None, to_state: TicketState, department: str | None, note: str) -> None:
        conn.execute(EVENTS.insert().values(
            ticket_id=ticket_id, at=at, actor=actor.user or actor.department or actor.role, role=str(actor.role),
            action=action,
            from_state=str(from_state) if from_state is not None else None, to_state=to_state.value,
            department=department, note=note))

    # --- reading -------------------------------------------------------------------------------------

    def _row(self, conn: Connection, number: str, viewer: Viewer) -> Any:
        row = conn.execute(select(T).where(T.c.number == number)).first()
        if row is None or not access.can_see(viewer, row):
            # The same answer for "absent" and "not yours": a confidential number reveals nothing.
            raise TicketNotFound(f"no ticket {number}")
        return row

    def get(self, number: str, viewer: Viewer) -> TicketView:
        with self.store.engine.connect() as conn:
            row = self._row(conn, number, viewer)
            calls = [c for (c,) in conn.execute(select(CALLS.c.call_id).where(CALLS.c.ticket_id == row.id)
                                                .order_by(CALLS.c.call_id))]
        view = _view(row, calls)
        return view if access.caller_visible(viewer, row) else view.redacted()

    def history(self, number: str, viewer: Viewer) -> list[HistoryLine]:
        with self.store.engine.connect() as conn:
            row = self._row(conn, number, viewer)
            rows = conn.execute(select(EVENTS).where(EVENTS.c.ticket_id == row.id).order_by(EVENTS.c.id))
            return [HistoryLine(r.at, r.actor, r.role, r.action, r.from_state, r.to_state, r.department, r.note)
                    for r in rows]

    def query(self, viewer: Viewer, *, state: str | None = None, department: str | None = None,
             since: datetime | None = None, until: datetime | None = None, open_only: bool = False,
             limit: int = 200, offset: int = 0) -> list[TicketView]:
        """Tickets the viewer may see, newest first, created in [since, until)."""
        query = select(T).where(access.sql_filter(viewer, T))
        if state:
            query = query.where(T.c.state == state)
        if department:
            query = query.where(T.c.department == department)
        if since is not None:
            query = query.where(T.c.created_at >= since)
        if until is not None:
            query = query.where(T.c.created_at < until)
        if open_only:
            query = query.where(T.c.is_open.is_(True))
        query = query.order_by(T.c.created_at.desc(), T.c.id.desc()).limit(limit).offset(offset)
        with self.store.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [_view(r) if access.caller_visible(viewer, r) else _view(r).redacted() for r in rows]

    def count(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(T)).scalar_one())

    def due(self, viewer: Viewer, now: datetime, *, horizon_days: int = 0) -> list[DueTicket]:
        """Open tickets whose deadline runs (dispatched, in progress, extension asked) and is at most
        `horizon_days` working days ahead or already past, most overdue first."""
        last_day = self.calendar.add_working_days(self.calendar.local_day(now), horizon_days)
        limit_at = self.calendar.end_of(last_day)
        query = (select(T).where(access.sql_filter(viewer, T), T.c.is_open.is_(True), T.c.due_at.is_not(None),
                                 T.c.due_at <= limit_at,
                                 T.c.state.in_(sorted(s.value for s in DEADLINE_STATES)))
                 .order_by(T.c.due_at, T.c.id))
        with self.store.engine.connect() as conn:
            rows = list(conn.execute(query))
        out = []
        for r in rows:
            view = _view(r) if access.caller_visible(viewer, r) else _view(r).redacted()
            level = deadlines.escalation_level(self.calendar, r.due_at, now, self.cfg.notice_after_working_days)
            out.append(DueTicket(view, level))
        return out

    def escalate(self, now: datetime) -> list[tuple[str, Action]]:
        """The timers' job: remind (催办) tickets past their reminder day, supervise (督办) those past the
        formal-notice day; each at most once per deadline. Returns what was done."""
        system = Viewer(access.Role.SYSTEM, user="system")
        done: list[tuple[str, Action]] = []
        for item in self.due(system, now):
            t = item.ticket
            if item.level == deadlines.NOTICE and not t.supervised:
                action = Action.SUPERVISE
            elif item.level in (deadlines.REMINDER, deadlines.NOTICE) and t.reminders == 0:
                action = Action.REMIND
            else:
                continue
            try:
                self.transition(t.number, action, system, now, note="deadline passed",
                                expected_version=t.version)
            except ConcurrentChange:
                continue  # someone moved it meanwhile; the next scan sees the new state
            done.append((t.number, action))
        return done

    # --- follow-up (回访) ------------------------------------------------------------------------------

    def follow_ups_due(self, now: datetime, limit: int = 50) -> list[tuple[str, str]]:
        """(number, caller number) of resolved tickets whose next follow-up attempt is due. Tickets whose
        attempts are used up are closed as unreached here instead."""
        system = Viewer(access.Role.SYSTEM, user="followup")
        query = (select(T.c.number, T.c.caller_number, T.c.follow_up_attempts)
                 .where(T.c.state == TicketState.RESOLVED.value, T.c.follow_up_next_at <= now)
                 .order_by(T.c.follow_up_next_at, T.c.id).limit(limit))
        with self.store.engine.connect() as conn:
            rows = list(conn.execute(query))
        out: list[tuple[str, str]] = []
        for number, caller, attempts in rows:
            if attempts > self.cfg.followup.retries or not caller:
                self.transition(number, Action.FOLLOW_UP_UNREACHED, system, now,
                                note=f"not reached after {attempts} attempts")
            else:
                out.append((number, caller))
        return out

    def follow_up_attempted(self, number: str, at: datetime) -> None:
        """Count an attempt and schedule the next (a retry, or the check that gives up)."""
        system = Viewer(access.Role.SYSTEM, user="followup")
        with self.store.engine.begin() as conn:
            row = self._row(conn, number, system)
            if row.state != TicketState.RESOLVED.value:
                return
            changes = {"follow_up_attempts": row.follow_up_attempts + 1,
                       "follow_up_next_at": next_attempt(self.cfg.followup, self.calendar, at)}
            self._apply(conn, row, changes, at, None)
            self._log(conn, row.id, at, system, "follow_up_attempt", row.state, TicketState(row.state),
                      row.department, f"attempt {row.follow_up_attempts + 1}")

    def record_follow_up(self, number: str, satisfaction: str, at: datetime, note: str = "") -> TicketView:
        """The citizen's answer: satisfied (or basically) -> followed_up; unsatisfied -> reopened."""
        system = Viewer(access.Role.SYSTEM, user="followup")
        action = Action.FOLLOW_UP_UNSATISFIED if satisfaction == "unsatisfied" else Action.FOLLOW_UP_SATISFIED
        return self.transition(number, action, system, at, satisfaction=satisfaction, note=note or satisfaction)

    def record_survey(self, number: str, satisfaction: str, at: datetime, note: str) -> TicketView:
        """An after-call survey answer about `number` (tickets/survey.py). On a resolved ticket it is the
        citizen's verdict on the result, so it counts as the follow-up (unsatisfied reopens it); on a ticket
        still being handled it rates the call, not the department's work: only a history line, so the
        department's satisfaction figures (reports) are not charged with the agent's service."""
        system = Viewer(access.Role.SYSTEM, user="survey")
        view = self.get(number, system)
        if view.state is TicketState.RESOLVED:
            return self.record_follow_up(number, satisfaction, at, note=note)
        if not view.is_open:
            return view
        with self.store.engine.begin() as conn:
            row = self._row(conn, number, system)
            self._apply(conn, row, {}, at, None)
            self._log(conn, row.id, at, system, "survey", row.state, TicketState(row.state), row.department,
                      f"{satisfaction}: {note}")
        return self.get(number, system)

    def tickets_of_call(self, call_id: str) -> list[str]:
        """Numbers of the tickets linked to a call, oldest first."""
        query = (select(T.c.number).join(CALLS, CALLS.c.ticket_id == T.c.id).where(CALLS.c.call_id == call_id)
                 .order_by(T.c.id))
        with self.store.engine.connect() as conn:
            return [str(n) for (n,) in conn.execute(query)]

    def awaiting_reply(self, caller_number: str) -> str | None:
        """The number of the caller's latest resolved ticket already asked (an SMS reply answers it)."""
        query = (select(T.c.number).where(T.c.caller_number == caller_number, T.c.is_open.is_(True),
                                          T.c.state == TicketState.RESOLVED.value, T.c.follow_up_attempts > 0)
                 .order_by(T.c.resolved_at.desc()).limit(1))
        with self.store.engine.connect() as conn:
            found = conn.execute(query).scalar_one_or_none()
        return str(found) if found is not None else None

    def export_rows(self, viewer: Viewer, since: datetime, until: datetime) -> list[TicketView]:
        out: list[TicketView] = []
        offset = 0
        while True:
            page = self.query(viewer, since=since, until=until, limit=5000, offset=offset)
            out += page
            if len(page) < 5000:
                return sorted(out, key=lambda v: (v.created_at, v.id))
            offset += 5000
