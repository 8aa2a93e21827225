"""Asterisk's CDRs: the simulator writes Master.csv as cdr_csv does; the daemon's importer reads it back
and says how each call ended (callcenter/cdr_import.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from asterisk.sim import model as ev
from asterisk.sim.cdr import COLUMNS as SIM_COLUMNS
from asterisk.sim.cdr import CdrCsvWriter
from asterisk.sim.model import Bridge, Channel
from callcenter.cdr_import import (
    COLUMNS,
    CdrFormatError,
    agent_lookup,
    fate_of,
    parse_fields,
    parse_lines,
    read_master,
    reconcile,
)
from config.models import CdrConfig

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)

# Lines as Asterisk 22's cdr_csv writes them with loguniqueid, loguserfield and newcdrcolumns on
# (every string quoted with "" for a quote, numbers bare, an unset answer time an empty bare field).
CALL_ANSWERED = (
    '"","13800138000","1001","cc-route","""张三"" <13800138000>","PJSIP/trunk-00000001",'
    '"PJSIP/1001-00000002","Dial","PJSIP/1001,15,g","2026-03-02 08:00:00","2026-03-02 08:00:01",'
    '"2026-03-02 08:03:10",190,189,"ANSWERED","DOCUMENTATION","1772438400.0","","","1772438400.0",7\n'
)
SURVEY_AFTER = (
    '"","13800138000","s","cc-survey","""张三"" <13800138000>","PJSIP/trunk-00000001","","Hangup","",'
    '"2026-03-02 08:03:10","2026-03-02 08:03:10","2026-03-02 08:03:30",20,20,"ANSWERED","DOCUMENTATION",'
    '"1772438400.0","","","1772438400.0",8\n'
)
FALLBACK = (  # a quoted comma-laden lastdata, a caller name with a comma and a quote
    '"","02188886666","s","cc-fallback","""李四, ""老李"""" <02188886666>","PJSIP/trunk-00000003","",'
    '"Queue","cc-fallback,c,,,300","2026-03-02 08:01:00","2026-03-02 08:01:00","2026-03-02 08:02:00",'
    '60,60,"ANSWERED","DOCUMENTATION","1772438460.3","","","1772438460.3",9\n'
)
NO_ANSWER_17 = (  # loguniqueid only; never answered: the answer time is empty and bare
    '"","13900000000","12345","cc-incoming","<13900000000>","PJSIP/trunk-00000004","","AGI",'
    '"agi://127.0.0.1:4573/ivr","2026-03-02 08:05:00",,"2026-03-02 08:05:04",4,0,"NO ANSWER",'
    '"DOCUMENTATION","1772438700.4"\n'
)


def test_columns_are_cdr_csv_order_in_both_writer_and_reader() -> None:
    assert COLUMNS == SIM_COLUMNS
    assert COLUMNS[:16] == ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
                            "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags")
    assert COLUMNS[16:] == ("uniqueid", "userfield", "peeraccount", "linkedid", "sequence")


def test_parses_real_format_lines_with_chinese_names_and_quoted_commas() -> None:
    parsed = parse_lines(io.StringIO(CALL_ANSWERED + FALLBACK + NO_ANSWER_17))
    assert parsed.bad == 0
    answered, fallback, no_answer = parsed.rows
    assert answered.caller == ("13800138000", "张三")
    assert (answered.dcontext, answered.dstchannel, answered.lastdata) == ("cc-route", "PJSIP/1001-00000002",
                                                                          "PJSIP/1001,15,g")
    assert answered.start == T0 and answered.answer == T0 + timedelta(seconds=1)
    assert answered.end == T0 + timedelta(seconds=190)
    assert (answered.duration, answered.billsec, answered.disposition) == (190, 189, "ANSWERED")
    assert (answered.uniqueid, answered.linkedid, answered.sequence) == ("1772438400.0", "1772438400.0", 7)
    assert fallback.caller == ("02188886666", '李四, "老李"')
    assert fallback.lastdata == "cc-fallback,c,,,300"
    assert no_answer.answer is None and no_answer.disposition == "NO ANSWER"
    assert no_answer.linkedid == "1772438700.4"  # no newcdrcolumns: the call's own id


def test_local_time_lines_read_in_the_configured_zone() -> None:
    row = parse_lines(io.StringIO(NO_ANSWER_17), ZoneInfo("Asia/Shanghai")).rows[0]
    assert row.start == datetime(2026, 3, 2, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(("line", "why"), [
    ('"","1","2","ctx","","chan","","","","2026-03-02 08:00:00",,"2026-03-02 08:00:01",1,0,"NO ANSWER",'
     '"DOCUMENTATION"\n', "16 columns"),  # loguniqueid off: no way to match a call
    (NO_ANSWER_17.replace("2026-03-02 08:05:04", "yesterday"), "end"),
    (NO_ANSWER_17.replace(",4,0,", ",four,0,"), "duration"),
    (NO_ANSWER_17.replace('"1772438700.4"', '""'), "uniqueid is empty"),
])
def test_bad_lines_are_counted_and_skipped(line: str, why: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(CdrFormatError, match=why):
        parse_fields(next(csv.reader([line])))
    parsed = parse_lines(io.StringIO(CALL_ANSWERED + line + FALLBACK))
    assert (len(parsed.rows), parsed.bad) == (2, 1)
    assert "13800138000" not in caplog.text  # a caller's number never goes to the log


def test_a_torn_last_line_is_skipped_and_a_missing_file_is_no_cdr(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text(CALL_ANSWERED + FALLBACK[:70], encoding="utf-8")
    parsed = read_master(path)
    assert (len(parsed.rows), parsed.bad) == (1, 1)
    assert read_master(tmp_path / "none.csv").rows == []


AGENTS = agent_lookup({"1001": "PJSIP/1001", "1002": "PJSIP/1002"})


def _row(uid: str, ctx: str, *, dst: str = "", app: str = "", disp: str = "ANSWERED", start: int = 0,
         end: int = 10, seq: int = 1, channel: str = "PJSIP/trunk-00000009") -> str:
    at = [(T0 + timedelta(seconds=s)).strftime("%Y-%m-%d %H:%M:%S") for s in (start, end)]
    return (f'"","13800138000","s","{ctx}","<13800138000>","{channel}","{dst}","{app}","","{at[0]}","{at[0]}",'
            f'"{at[1]}",{end - start},{end - start},"{disp}","DOCUMENTATION","{uid}","","","{uid}",{seq}\n')


def _fate(*lines: str) -> object:
    return fate_of(parse_lines(io.StringIO("".join(lines))).rows, AGENTS)


def test_fate_answered_by_the_agent_in_dstchannel() -> None:
    f = _fate(_row("a", "cc-route", dst="PJSIP/1002-0000000c", app="Dial", disp="NO ANSWER", end=20, seq=1),
              _row("a", "cc-route", dst="PJSIP/1001-0000000e", app="Dial", start=30, end=90, seq=2),
              _row("a", "cc-survey", app="AGI", start=90, end=95, seq=3))
    assert (f.phase, f.agent) == ("answered", "1001")  # type: ignore[attr-defined]
    assert f.answered_at == T0 + timedelta(seconds=30)  # type: ignore[attr-defined]
    assert f.talk_ended_at == T0 + timedelta(seconds=90)  # type: ignore[attr-defined]
    assert f.ended_at == T0 + timedelta(seconds=95)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("lines", "phase", "agent"), [
    ([_row("b", "cc-route", dst="PJSIP/1002-0000000c", app="Dial", disp="NO ANSWER")], "ringing", "1002"),
    ([_row("b", "cc-route", dst="PJSIP/1002-0000000c", app="Dial", disp="BUSY", end=5),
      _row("b", "cc-hold", app="MusicOnHold", start=5, end=40, seq=2)], "queue", None),
    ([_row("b", "cc-hold", app="MusicOnHold")], "queue", None),
    ([_row("b", "cc-fallback", app="Queue")], "fallback", None),
    ([_row("b", "cc-incoming", app="AGI")], "ivr", None),
    # ANSWERED with a dstchannel that is no agent's phone: the caller was answered by the IVR, not a person
    ([_row("b", "cc-hold", dst="PJSIP/9999-00000001", app="MusicOnHold")], "queue", None),
])
def test_fate_not_answered_says_where_the_caller_gave_up(lines: list[str], phase: str, agent: str | None) -> None:
    f = _fate(*lines)
    assert (f.phase, f.agent) == (phase, agent)  # type: ignore[attr-defined]


def test_reconcile_gone_missing_and_unseen() -> None:
    rows = parse_lines(io.StringIO("".join([
        _row("gone", "cc-hold", app="MusicOnHold", start=0, end=50),
        _row("old", "cc-incoming", app="AGI", start=-3600, end=-3500),  # long before the daemon went blind
        _row("new", "cc-fallback", app="Queue", start=100, end=130),  # began and ended while blind
        _row("rec", "cc-fallback", app="Queue", start=100, end=130),  # recorded already
        _row("alive", "cc-hold", app="MusicOnHold", start=100, end=130),
        _row("other", "from-internal", app="Dial", start=100, end=130),  # not a hotline call
    ]))).rows
    out = reconcile(["gone", "nocdr"], rows, AGENTS, blind_since=T0 + timedelta(seconds=60),
                    known=lambda cid: cid == "rec", live={"alive"})
    assert set(out.fates) == {"gone"} and out.fates["gone"].phase == "queue"
    assert out.missing == ["nocdr"]
    assert [f.call_id for f in out.unseen] == ["new"]
    assert reconcile([], rows, AGENTS, blind_since=None, known=lambda cid: False).unseen == []


# ---------------------------------------------------------------- the simulator's writer


class _Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at

    def tick(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def test_simulator_writes_one_line_per_cdr_as_cdr_csv_does(tmp_path: Path) -> None:
    clock, path = _Clock(), tmp_path / "cdr-csv" / "Master.csv"
    w = CdrCsvWriter(path, clock)
    caller = Channel("PJSIP/trunk-00000001", "1772438400.0", "1772438400.0", "cc-incoming", "12345", state=4,
                     cid_num="13800138000", cid_name="张三")
    w(ev.newchannel(caller))
    clock.tick(1)
    caller.state = ev.STATE_UP
    w(ev.newstate(caller))
    w(ev.newexten(caller, "AGI", "agi://127.0.0.1:4573/ivr"))
    clock.tick(9)
    caller.context, caller.exten = "cc-route", "1002"
    w(ev.newexten(caller, "Dial", "PJSIP/1002,15,g"))
    a1 = Channel("PJSIP/1002-00000002", "1772438410.1", caller.linkedid, "cc-agents", "s")
    w(ev.newchannel(a1))
    w(ev.dial_begin(caller, a1, "1002"))
    clock.tick(15)
    w(ev.dial_end(caller, a1, "NOANSWER"))
    w(ev.hangup(a1, 0))
    caller.context, caller.exten = "cc-hold", "s"
    w(ev.newexten(caller, "MusicOnHold", "default,600"))
    clock.tick(5)
    caller.context, caller.exten = "cc-route", "1001"
    w(ev.newexten(caller, "Dial", "PJSIP/1001,15,g"))
    a2 = Channel("PJSIP/1001-00000003", "1772438430.2", caller.linkedid, "cc-agents", "s")
    w(ev.newchannel(a2))
    w(ev.dial_begin(caller, a2, "1001"))
    clock.tick(2)
    w(ev.dial_end(caller, a2, "ANSWER"))
    br = Bridge("b1")
    w(ev.bridge_enter(br, caller))
    clock.tick(60)
    w(ev.bridge_leave(br, caller))
    w(ev.hangup(a2, 16))
    caller.context, caller.exten = "cc-survey", "s"
    w(ev.newexten(caller, "AGI", "agi://127.0.0.1:4573/ivr/survey"))
    clock.tick(10)
    w(ev.hangup(caller, 16))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [
        '"","13800138000","1002","cc-route","""张三"" <13800138000>","PJSIP/trunk-00000001","PJSIP/1002-00000002",'
        '"Dial","PJSIP/1002,15,g","2026-03-02 08:00:00","2026-03-02 08:00:01","2026-03-02 08:00:25",25,24,'
        '"NO ANSWER","DOCUMENTATION","1772438400.0","","","1772438400.0",1',
        '"","13800138000","1001","cc-route","""张三"" <13800138000>","PJSIP/trunk-00000001","PJSIP/1001-00000003",'
        '"Dial","PJSIP/1001,15,g","2026-03-02 08:00:25","2026-03-02 08:00:25","2026-03-02 08:01:32",67,67,'
        '"ANSWERED","DOCUMENTATION","1772438400.0","","","1772438400.0",2',
        '"","13800138000","s","cc-survey","""张三"" <13800138000>","PJSIP/trunk-00000001","",'
        '"AGI","agi://127.0.0.1:4573/ivr/survey","2026-03-02 08:01:32","2026-03-02 08:01:32",'
        '"2026-03-02 08:01:42",10,10,"ANSWERED","DOCUMENTATION","1772438400.0","","","1772438400.0",3',
    ]
    f = fate_of(read_master(path).rows, AGENTS)
    assert (f.phase, f.agent, f.caller_name, f.ended_at) == ("answered", "1001", "张三", clock.at)


def test_cdr_config_is_optional_and_validated() -> None:
    assert CdrConfig(master_csv="/var/log/asterisk/cdr-csv/Master.csv").timezone == "UTC"
    with pytest.raises(ValueError, match="master_csv"):
        CdrConfig(master_csv="")
    with pytest.raises(ValueError, match="timezone"):
        CdrConfig(master_csv="x.csv", timezone="Mars/Olympus")
