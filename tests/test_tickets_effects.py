"""The effects table (tickets/effects.py): one effect for every action, each sets only real columns."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tickets.deadlines import WorkCalendar
from tickets.departments import Directory
from tickets.effects import EFFECTS, Move
from tickets.errors import InvalidTicket
from tickets.settings import TicketsConfig
from tickets.tables import Ticket
from tickets.workflow import TRANSITIONS, Action

COLUMNS = {c.name for c in Ticket.__table__.columns}  # type: ignore[attr-defined]
AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _move(**given: object) -> Move:
    cfg = TicketsConfig()
    row = SimpleNamespace(number="T1", category=cfg.categories[0].code, department="dept-a", due_at=None,
                          extension_requested_days=2, extension_days=0, reminders=1)
    values: dict[str, object] = {"department": "dept-b", "note": "reason", "days": 2, "merge_into": "T2",
                                 "satisfaction": None} | given
    return Move(row, AT, cfg=cfg, calendar=WorkCalendar.china(), directory=Directory(), **values)  # type: ignore[arg-type]


def test_every_action_of_the_workflow_has_one_effect() -> None:
    assert set(EFFECTS) == set(Action) == {action for _, action in TRANSITIONS}


@pytest.mark.parametrize("action", list(Action))
def test_an_effect_sets_only_columns_of_the_tickets_table(action: Action) -> None:
    changes = EFFECTS[action](_move())
    assert set(changes) <= COLUMNS - {"state", "is_open"}, set(changes) - COLUMNS


@pytest.mark.parametrize(("action", "given"), [
    (Action.DISPATCH, {"department": None}),
    (Action.REASSIGN, {"department": "dept-a"}),
    (Action.RETURN, {"note": "  "}),
    (Action.REQUEST_EXTENSION, {"days": 0}),
    (Action.RESOLVE, {"note": ""}),
    (Action.MERGE, {"merge_into": "T1"}),
])
def test_an_effect_refuses_a_move_without_what_it_needs(action: Action, given: dict[str, object]) -> None:
    with pytest.raises(InvalidTicket):
        EFFECTS[action](_move(**given))


def test_approving_an_extension_moves_the_deadline_by_the_days_asked() -> None:
    changes = EFFECTS[Action.APPROVE_EXTENSION](_move())
    assert changes["extension_days"] == 2 and changes["extension_requested_days"] == 0
    assert changes["due_at"] > AT
