"""The workflow table: every (state, action) pair, legal or not, on the pure table and on the store."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets.workflow import (
    OPEN_STATES,
    TERMINAL,
    TRANSITIONS,
    Action,
    IllegalTransition,
    TicketState,
    allowed_actions,
    next_state,
)


@given(st.sampled_from(TicketState), st.sampled_from(Action))
def test_every_pair_is_either_in_the_table_or_a_typed_error(state: TicketState, action: Action) -> None:
    if (state, action) in TRANSITIONS:
        assert next_state(state, action) is TRANSITIONS[(state, action)]
        assert action in allowed_actions(state)
    else:
        with pytest.raises(IllegalTransition) as err:
            next_state(state, action)
        assert err.value.state is state and err.value.action is action
        assert action not in allowed_actions(state)


def test_terminal_states_allow_nothing() -> None:
    for state in TERMINAL:
        assert allowed_actions(state) == []
    assert OPEN_STATES.isdisjoint(TERMINAL)


def test_every_state_is_reachable_from_accepted_and_can_reach_the_end() -> None:
    reach = {TicketState.ACCEPTED}
    frontier = [TicketState.ACCEPTED]
    while frontier:
        s = frontier.pop()
        for (src, _a), dst in TRANSITIONS.items():
            if src is s and dst not in reach:
                reach.add(dst)
                frontier.append(dst)
    assert reach == set(TicketState)
    for state in set(TicketState) - TERMINAL:  # no open state is a dead end
        assert allowed_actions(state)


def test_main_path_and_chasing() -> None:
    path = [Action.DISPATCH, Action.SIGN, Action.REQUEST_EXTENSION, Action.APPROVE_EXTENSION, Action.REMIND,
            Action.SUPERVISE, Action.RESOLVE, Action.FOLLOW_UP_UNSATISFIED, Action.RETURN, Action.REASSIGN,
            Action.SIGN, Action.RESOLVE, Action.FOLLOW_UP_SATISFIED, Action.CLOSE]
    state = TicketState.ACCEPTED
    for action in path:
        state = next_state(state, action)
    assert state is TicketState.CLOSED
    assert next_state(TicketState.IN_PROGRESS, Action.REMIND) is TicketState.IN_PROGRESS
