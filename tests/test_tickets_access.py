"""One access decision: `can_see` (Python) and `sql_filter` (SQL) agree for every viewer and ticket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from records.store import Store
from tickets.access import Role, Viewer, caller_visible, can_see, sql_filter
from tickets.service import T
from tickets.tables import TICKET_TABLES, Ticket

AT = datetime(2026, 3, 1, tzinfo=UTC)
DEPS = ["xihu", "xihu.gaj", "gongshu", None]
USERS = ["a1", "a2", ""]

viewers = st.one_of(
    st.builds(Viewer, st.sampled_from([r.value for r in Role] + ["visitor"]), user=st.sampled_from(USERS)),
    st.builds(lambda d, sub: Viewer.for_department(d, sub), st.sampled_from(["xihu", "gongshu"]),
              st.sampled_from([[], ["xihu.gaj"]])),
)
tickets = st.lists(st.tuples(st.sampled_from(DEPS), st.booleans(), st.sampled_from(USERS)), min_size=1, max_size=8)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("access") / "a.db"
    with Store(f"sqlite:///{path}") as s:
        Ticket.metadata.create_all(s.engine, tables=TICKET_TABLES)
        yield s


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(viewers, tickets)
def test_python_and_sql_agree(store: Store, viewer: Viewer, rows: list[tuple[str | None, bool, str]]) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(T))
        conn.execute(insert(T), [
            {"number": f"n{i}", "channel": "phone", "state": "dispatched", "category": "help", "topic": "",
             "caller_number": "139", "caller_name": "", "contact": "", "county": "", "township": "", "address": "",
             "title": "", "content": "x", "reply": "", "department": dep, "confidential": secret,
             "merged_into": None, "is_open": True, "created_at": AT, "created_by": by or "x", "updated_at": AT,
             "extension_days": 0, "extension_requested_days": 0, "reminders": 0, "supervised": False,
             "follow_up_attempts": 0, "version": 1}
            for i, (dep, secret, by) in enumerate(rows)])
        all_rows = list(conn.execute(select(T)))
        by_sql = {r.number for r in conn.execute(select(T).where(sql_filter(viewer, T)))}
    assert by_sql == {r.number for r in all_rows if can_see(viewer, r)}


def test_the_rules() -> None:
    class Tk:
        def __init__(self, department: str | None, confidential: bool, created_by: str = "a1") -> None:
            self.department, self.confidential, self.created_by = department, confidential, created_by

    secret = Tk("xihu.gaj", True)
    assert can_see(Viewer(Role.SUPERVISOR), secret) and caller_visible(Viewer(Role.SUPERVISOR), secret)
    assert can_see(Viewer(Role.AGENT, user="a1"), secret)
    assert not can_see(Viewer(Role.AGENT, user="a2"), secret)
    county = Viewer.for_department("xihu", ["xihu.gaj"])
    assert can_see(county, secret) and not caller_visible(county, secret)
    assert not can_see(Viewer.for_department("gongshu"), secret)
    assert not can_see(Viewer("visitor"), Tk("xihu", False))
    assert not can_see(Viewer(Role.DEPARTMENT), Tk(None, False))  # a department user without a unit
