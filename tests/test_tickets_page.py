"""The workspace's pure parts: filters from a query string, due marks in the centre's zone, selection and
paging (callcenter/web/tickets_page.py); every state and action has a name in both languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.web.tickets_labels import ACTIONS, STATES
from callcenter.web.tickets_page import PAGE_SIZE, Filters, due_mark, select
from tickets.workflow import Action, TicketState

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # 10:00 local


def ticket(i: int, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {"number": f"T{i:03d}", "state": "dispatched", "category": "complaint",
                               "channel": "phone", "county": "xihu", "department": "city.zjw", "title": "",
                               "content": f"诉求 {i}", "due_at": None}
    return base | kw


def test_every_state_and_action_is_named() -> None:
    for language in ("zh", "en"):
        assert set(STATES[language]) == {s.value for s in TicketState}
        assert {a.value for a in Action} <= set(ACTIONS[language])


def test_filters_ignore_what_they_cannot_use() -> None:
    f = Filters.from_query({"due": "someday", "page": "x", "q": "  噪音 "})
    assert (f.due, f.page, f.q) == ("", 1, "噪音")
    assert Filters.from_query({"state": "accepted", "page": "3"}).link(page=1) == "/tickets?state=accepted"
    assert Filters().link(ticket="T1") == "/tickets?ticket=T1"


def test_due_marks_in_the_centres_zone() -> None:
    # Due at local midnight ending today (2026-09-29 00:00 +08 = 09-28 16:00 UTC): due today, not overdue.
    assert due_mark(ticket(1, due_at="2026-09-28T16:00:00+00:00"), NOW, TZ) == "today"
    assert due_mark(ticket(1, due_at="2026-09-28T01:00:00+00:00"), NOW, TZ) == "overdue"
    assert due_mark(ticket(1, due_at="2026-09-29T16:00:00+00:00"), NOW, TZ) == ""
    assert due_mark(ticket(1, due_at="2026-09-28T01:00:00+00:00", state="resolved"), NOW, TZ) == ""


def test_selection_filters_searches_and_pages() -> None:
    past = (NOW - timedelta(days=1)).isoformat()
    items = [ticket(i, state="accepted" if i % 2 else "dispatched", due_at=None if i % 2 else past,
                    county="xihu.a" if i % 5 == 0 else "gongshu") for i in range(60)]
    subtree = {"xihu": {"xihu", "xihu.a"}}.get
    rows, total, page = select(items, Filters(page=9), NOW, TZ, lambda c: subtree(c) or {c})
    assert (total, page, len(rows)) == (60, 3, 60 - 2 * PAGE_SIZE)  # a page past the end shows the last
    rows, total, _ = select(items, Filters(due="overdue"), NOW, TZ, lambda c: {c})
    assert total == 30 and all(r["state"] == "dispatched" for r in rows)
    rows, total, _ = select(items, Filters(county="xihu"), NOW, TZ, lambda c: subtree(c) or {c})
    assert total == 12  # a county takes in its townships
    rows, total, _ = select(items, Filters(q="诉求 17"), NOW, TZ, lambda c: {c})
    assert [r["number"] for r in rows] == ["T017"]
