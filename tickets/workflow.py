"""The ticket (工单) workflow as data: every legal (state, action) pair and where it leads, in one table.

    accepted ──dispatch──▶ dispatched ──sign──▶ in_progress ──resolve──▶ resolved ──follow_up_*──▶ followed_up
                                                                               followed_up ──close──▶ closed
        │ answer (answered on the spot)              │ request_extension ⇄ approve/reject_extension
        └──────────────────────────────▶ resolved    │ return (退单) ──▶ returned ──reassign──▶ dispatched
    remind (催办) / supervise (督办) keep the state; merge (重复件) ends a duplicate in `merged`;
    an unsatisfied follow-up reopens the ticket to its department (resolved ──▶ in_progress).

Pure: no database, no clock. An illegal pair raises `IllegalTransition` and nothing changes.
"""

from __future__ import annotations

import enum
from types import MappingProxyType


class TicketState(enum.StrEnum):
    ACCEPTED = "accepted"  # 已受理
    DISPATCHED = "dispatched"  # 已派单
    IN_PROGRESS = "in_progress"  # 办理中 (the department signed for it)
    EXTENSION_REQUESTED = "extension_requested"  # 延期申请中
    RETURNED = "returned"  # 已退单 (back at the centre for reassignment)
    RESOLVED = "resolved"  # 已办结
    FOLLOWED_UP = "followed_up"  # 已回访
    CLOSED = "closed"  # 已归档
    MERGED = "merged"  # 重复件, merged into another ticket


class Action(enum.StrEnum):
    DISPATCH = "dispatch"  # 派单 (centre -> department)
    ANSWER = "answer"  # 直接办结: the agent answered it during the call
    SIGN = "sign"  # 签收 (department takes it)
    RETURN = "return"  # 退单 (department: not ours)
    REASSIGN = "reassign"  # 改派 (centre -> another department)
    REQUEST_EXTENSION = "request_extension"  # 延期申请
    APPROVE_EXTENSION = "approve_extension"  # 延期批准
    REJECT_EXTENSION = "reject_extension"  # 延期驳回
    REMIND = "remind"  # 催办
    SUPERVISE = "supervise"  # 督办
    RESOLVE = "resolve"  # 办结 (department's reply)
    FOLLOW_UP_SATISFIED = "follow_up_satisfied"  # 回访: satisfied
    FOLLOW_UP_UNREACHED = "follow_up_unreached"  # 回访: citizen not reached after every retry
    FOLLOW_UP_UNSATISFIED = "follow_up_unsatisfied"  # 回访: unsatisfied -> reopened to the department
    CLOSE = "close"  # 归档
    MERGE = "merge"  # 重复件: merged into another ticket


class WorkflowError(Exception):
    """Base of the workflow's errors."""


class IllegalTransition(WorkflowError):
    """`action` is not allowed in `state`; the ticket is unchanged."""

    def __init__(self, state: TicketState, action: Action) -> None:
        self.state = state
        self.action = action
        super().__init__(f"action {action.value!r} is not allowed in state {state.value!r}")


S, A = TicketState, Action
_ACTIVE = (S.DISPATCHED, S.IN_PROGRESS, S.EXTENSION_REQUESTED)

_TABLE: dict[tuple[TicketState, Action], TicketState] = {
    (S.ACCEPTED, A.DISPATCH): S.DISPATCHED,
    (S.ACCEPTED, A.ANSWER): S.RESOLVED,
    (S.ACCEPTED, A.MERGE): S.MERGED,
    (S.DISPATCHED, A.SIGN): S.IN_PROGRESS,
    (S.DISPATCHED, A.RETURN): S.RETURNED,
    (S.DISPATCHED, A.REASSIGN): S.DISPATCHED,
    (S.DISPATCHED, A.MERGE): S.MERGED,
    (S.IN_PROGRESS, A.RESOLVE): S.RESOLVED,
    (S.IN_PROGRESS, A.RETURN): S.RETURNED,
    (S.IN_PROGRESS, A.REASSIGN): S.DISPATCHED,
    (S.IN_PROGRESS, A.REQUEST_EXTENSION): S.EXTENSION_REQUESTED,
    (S.IN_PROGRESS, A.MERGE): S.MERGED,
    (S.EXTENSION_REQUESTED, A.APPROVE_EXTENSION): S.IN_PROGRESS,
    (S.EXTENSION_REQUESTED, A.REJECT_EXTENSION): S.IN_PROGRESS,
    (S.EXTENSION_REQUESTED, A.RESOLVE): S.RESOLVED,
    (S.RETURNED, A.REASSIGN): S.DISPATCHED,
    (S.RETURNED, A.ANSWER): S.RESOLVED,
    (S.RETURNED, A.MERGE): S.MERGED,
    (S.RESOLVED, A.FOLLOW_UP_SATISFIED): S.FOLLOWED_UP,
    (S.RESOLVED, A.FOLLOW_UP_UNREACHED): S.FOLLOWED_UP,
    (S.RESOLVED, A.FOLLOW_UP_UNSATISFIED): S.IN_PROGRESS,
    (S.FOLLOWED_UP, A.CLOSE): S.CLOSED,
}
for _state in _ACTIVE:  # reminders and supervision chase a ticket without moving it
    _TABLE[(_state, A.REMIND)] = _state
    _TABLE[(_state, A.SUPERVISE)] = _state

TRANSITIONS: MappingProxyType[tuple[TicketState, Action], TicketState] = MappingProxyType(_TABLE)
TERMINAL: frozenset[TicketState] = frozenset({S.CLOSED, S.MERGED})
# Open for the screen-pop: the citizen's matter is not finished yet.
OPEN_STATES: frozenset[TicketState] = frozenset(set(TicketState) - TERMINAL)
# A department's deadline runs in these states (it is chased when it passes).
DEADLINE_STATES: frozenset[TicketState] = frozenset(_ACTIVE)
# Actions that need a department to be named (the target of the move).
NEEDS_DEPARTMENT: frozenset[Action] = frozenset({A.DISPATCH, A.REASSIGN})


def next_state(state: TicketState, action: Action) -> TicketState:
    """Where `action` leads from `state`; `IllegalTransition` if the table has no such pair."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None


def allowed_actions(state: TicketState) -> list[Action]:
    """The actions the table allows in `state`, in the Action enum's order (for buttons on a page)."""
    return [a for a in Action if (state, a) in TRANSITIONS]
