"""Work alerts (工作提示) to a department: deadline, acknowledgement, reply, overdue; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from incidents.alerts import ALERT_MOVES, AlertState, WorkAlerts
from incidents.sources import SourceError
from records.testing import database_url
from tests.test_tickets_service import T0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def alerts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WorkAlerts]:
    with database_url(request.param, str(tmp_path)) as url:
        engine = create_engine(url)
        try:
            yield WorkAlerts(engine)
        finally:
            engine.dispose()


def test_an_alert_is_acknowledged_and_replied_by_its_department(alerts: WorkAlerts) -> None:
    n = alerts.send("网约车@萧山区", "xiaoshan.jtj", "近一周萧山区网约车投诉集中，请核查并于3日内回复。",
                    T0 + timedelta(days=3), "s1", T0)
    alert = alerts.get(n)
    assert alert.state is AlertState.SENT and not alert.overdue(T0 + timedelta(days=1))
    assert alert.overdue(T0 + timedelta(days=3, minutes=1))
    with pytest.raises(SourceError) as err:
        alerts.acknowledge(n, "xihu.gaj", "u", T0)
    assert err.value.slug == "forbidden"
    acked = alerts.acknowledge(n, "xiaoshan.jtj", "u1", T0 + timedelta(hours=1))
    assert acked.state is AlertState.ACKNOWLEDGED and acked.acknowledged_at == T0 + timedelta(hours=1)
    with pytest.raises(SourceError) as err:
        alerts.acknowledge(n, "xiaoshan.jtj", "u1", T0)
    assert err.value.slug == "illegal_move"
    assert [a.id for a in alerts.due(T0, "xiaoshan.jtj")] == [n]
    done = alerts.reply(n, "xiaoshan.jtj", "已约谈两家平台公司，整改中。", "u1", T0 + timedelta(days=1))
    assert done.state is AlertState.REPLIED and "整改" in done.reply and not done.overdue(T0 + timedelta(days=9))
    assert alerts.due(T0 + timedelta(days=9)) == []


def test_a_reply_without_acknowledgement_acknowledges_and_bad_input_is_refused(alerts: WorkAlerts) -> None:
    n = alerts.send("水电气@阳光花园#202609281017", "gdj", "阳光花园停电，请报告抢修进度。", T0 + timedelta(hours=4),
                    "s1", T0)
    done = alerts.reply(n, "gdj", "18:05恢复供电", "u2", T0 + timedelta(hours=2))
    assert done.acknowledged_at == T0 + timedelta(hours=2)
    for bad in (lambda: alerts.send("", "gdj", "x", T0 + timedelta(hours=1), "s1", T0),
                lambda: alerts.send("s", "gdj", "x", T0 - timedelta(hours=1), "s1", T0),
                lambda: alerts.reply(n, "gdj", " ", "u", T0),
                lambda: alerts.get(999)):
        with pytest.raises(SourceError):
            bad()
    assert set(ALERT_MOVES.values()) <= set(AlertState)
