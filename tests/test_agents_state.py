"""The agent state table: legal rows, typed errors that change nothing, supervisor force."""

from __future__ import annotations

import pytest

from agents.state import TRANSITIONS, AgentInput, AgentState, IllegalTransition, next_state

S, I = AgentState, AgentInput  # noqa: E741


def test_table_rows_lead_to_states() -> None:
    for (state, inp), new in TRANSITIONS.items():
        assert next_state("a", state, inp) is new


def test_illegal_pair_raises_typed_error() -> None:
    with pytest.raises(IllegalTransition) as err:
        next_state("1001", S.ON_CALL, I.LOGOUT)
    assert err.value.state is S.ON_CALL and err.value.input is I.LOGOUT
    assert "1001" in str(err.value)


@pytest.mark.parametrize(
    ("state", "inp", "new"),
    [
        (S.LOGGED_OUT, I.LOGIN, S.NOT_READY),
        (S.READY, I.OFFER, S.RESERVED),
        (S.RESERVED, I.RING_FAILED, S.NOT_READY),
        (S.RESERVED, I.CALLER_LEFT, S.READY),
        (S.ON_CALL, I.CALL_ENDED, S.WRAP_UP),
        (S.WRAP_UP, I.WRAPUP_DONE, S.READY),
    ],
)
def test_core_rows(state: AgentState, inp: AgentInput, new: AgentState) -> None:
    assert next_state("a", state, inp) is new


@pytest.mark.parametrize("inp", list(AgentInput))
def test_nothing_but_the_call_leaves_on_call(inp: AgentInput) -> None:
    if inp is I.CALL_ENDED:
        assert next_state("a", S.ON_CALL, inp) is S.WRAP_UP
    else:
        with pytest.raises(IllegalTransition):
            next_state("a", S.ON_CALL, inp)
