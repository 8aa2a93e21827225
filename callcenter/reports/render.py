"""Text and HTML for the three reports, in zh or en (centre.language). HTML is one self-contained file
(the chart embedded as a PNG data URI), readable on a phone and printable."""

from __future__ import annotations

import base64
import html
import unicodedata
from datetime import timedelta
from typing import Any

from callcenter.reports.chart import daily_chart_png, pct
from callcenter.reports.daily import DailyReport, HourRow, Reason
from callcenter.reports.departments import DepartmentReport, GroupRanking
from callcenter.reports.topics import DIMENSIONS, TopicsReport
from metrics.kpi import rate_label

S: dict[str, dict[str, str]] = {
    "zh": {
        "daily_title": "{name} 日报 {day}", "met": "达标", "missed": "未达标", "target": "目标",
        "standard": "国标（24小时）", "offered": "人工呼入", "answered": "人工接通", "abandoned": "放弃",
        "fallback_answered": "其中由备用队列接听",
        "abandoned_parts": "{n}（排队中 {queue}，振铃中 {ringing}）", "ivr_hangups": "语音导航中挂机（未进入人工）",
        "short_abandoned": "短时放弃（已排除）", "sl": "服务水平 {s}秒", "in_time": "人工应答及时率",
        "asa": "平均应答时长", "aht": "平均处理时长", "acw": "平均话后整理", "occupancy": "坐席利用率",
        "hour": "时段", "rate": "接通率", "usual": "同期均值", "agents": "在岗/排班", "why": "原因",
        "short_hours": "未达标时段", "none_short": "全天各时段均达到目标。", "no_cause": "未发现单一原因",
        "volume": "来电多于同期（{a:.0f} 对 {u:.0f}，+{p:.0f}%）",
        "staffing": "在岗坐席少于排班（{a:.1f} 人 对 {u:.1f} 人）",
        "handle_time": "处理时长偏长（{a:.0f}秒 对 {u:.0f}秒）", "not_ready": "坐席示忙：{d}",
        "minutes": "{m:.0f}分钟", "seconds": "{v:.0f}秒", "history": "同期：前{n}周同一星期",
        "dept_title": "{month} 承办单位红黑榜", "weights": "权重：按时办结率 {on_time:.0%}，回复率 {reply:.0%}，"
        "满意率 {satisfaction:.0%}；工单少于 {min} 件不参与排名。", "department": "承办部门", "district": "区县",
        "county": "区县", "city_department": "市级部门", "public_service": "公共服务单位",
        "unmatched": "部门目录中没有的承办单位（未排名）",
        "red": "红榜", "black": "黑榜", "tickets": "工单", "on_time": "按时办结率", "reply": "回复率",
        "satisfaction": "满意率", "score": "综合得分", "unit": "单位", "rank": "排名", "not_ranked": "不排名",
        "topics_title": "热点诉求 {a} 至 {b}（对比 {pa} 至 {pb}）", "category": "类别", "topic": "诉求主题",
        "district_topic": "区县 · 主题", "words": "诉求内容关键词", "now": "本期", "before": "上期",
        "expected": "预期", "rise": "上升", "key": "项目", "tickets_count": "工单 本期 {n} 件，上期 {p} 件",
        "intervals": "未达标的半小时（预测/实际来电，排班/在岗/就绪坐席，主因）",
    },
    "en": {
        "daily_title": "{name} daily report {day}", "met": "met", "missed": "missed", "target": "Target",
        "standard": "Standard (24 h)", "offered": "Offered", "answered": "Answered", "abandoned": "Abandoned",
        "fallback_answered": "of which handled by the fallback queue",
        "abandoned_parts": "{n} (in queue {queue}, ringing {ringing})",
        "ivr_hangups": "Hung up in the IVR (never offered)",
        "short_abandoned": "Short abandons (excluded)", "sl": "Service level {s} s",
        "in_time": "Answered in time (of answered)", "asa": "ASA", "aht": "AHT", "acw": "After-call work",
        "occupancy": "Occupancy", "hour": "Hour", "rate": "Rate", "usual": "Usual", "agents": "Agents (avail/plan)",
        "why": "Why", "short_hours": "Hours under target", "none_short": "Every hour met the target.",
        "no_cause": "no single cause found",
        "volume": "more calls than usual ({a:.0f} vs {u:.0f}, +{p:.0f}%)",
        "staffing": "fewer agents than planned ({a:.1f} vs {u:.1f})",
        "handle_time": "longer handle time ({a:.0f} s vs {u:.0f} s)", "not_ready": "agents not ready: {d}",
        "minutes": "{m:.0f} min", "seconds": "{v:.0f} s", "history": "usual: same weekday of the previous {n} weeks",
        "dept_title": "Department ranking {month}", "weights": "Weights: on-time closure {on_time:.0%}, reply "
        "{reply:.0%}, satisfaction {satisfaction:.0%}; units with fewer than {min} tickets are not ranked.",
        "department": "Departments", "district": "Districts", "red": "Top 3", "black": "Bottom 3",
        "county": "Counties", "city_department": "City departments", "public_service": "Public-service units",
        "unmatched": "Units not in the department directory (not ranked)",
        "tickets": "Tickets", "on_time": "On time", "reply": "Reply", "satisfaction": "Satisfaction",
        "score": "Score", "unit": "Unit", "rank": "Rank", "not_ranked": "not ranked",
        "topics_title": "Hot topics {a} to {b} (vs {pa} to {pb})", "category": "Categories", "topic": "Topics",
        "district_topic": "District · topic", "words": "Keywords in the requests", "now": "Now",
        "before": "Before", "expected": "Expected", "rise": "Rise", "key": "Item",
        "tickets_count": "tickets: {n} now, {p} before",
        "intervals": "Half hours under target (forecast/offered calls, planned/on duty/ready agents, main cause)",
    },
}


def width(text: str) -> int:
    """Terminal columns of `text`: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def left(text: object, cols: int) -> str:
    t = str(text)
    return t + " " * max(0, cols - width(t))


def right(text: object, cols: int) -> str:
    t = str(text)
    return " " * max(0, cols - width(t)) + t


def strings(language: str) -> dict[str, str]:
    return S["zh" if language == "zh" else "en"]


def _sec(v: float | None, s: dict[str, str]) -> str:
    return "—" if v is None else s["seconds"].format(v=v)


def reason_text(r: Reason, s: dict[str, str]) -> str:
    if r.kind == "volume":
        return s["volume"].format(a=r.actual, u=r.usual, p=(r.actual / r.usual - 1) * 100 if r.usual else 0)
    if r.kind == "not_ready":
        parts = ", ".join(f"{k} {s['minutes'].format(m=m)}" for k, m in sorted(r.detail.items(), key=lambda x: -x[1]))
        return s["not_ready"].format(d=parts)
    return s[r.kind].format(a=r.actual, u=r.usual)


def why(h: HourRow, s: dict[str, str]) -> str:
    return "; ".join(reason_text(r, s) for r in h.reasons) or s["no_cause"]


def _summary(rep: DailyReport, s: dict[str, str]) -> list[tuple[str, str]]:
    k = rep.day_kpi
    rows = [
        (rate_label(rep.language, rep.short_abandon_seconds), f"{pct(k.connection_rate, 2)}  ({s['target']} "
         f"{pct(rep.target, 0)}: {s['met'] if rep.met_target else s['missed']})"),
        (s["offered"], str(k.offered)), (s["answered"], str(k.answered)),
        # Abandoned = offered calls lost (in queue + ringing), so its parts add up to it; IVR hang-ups were
        # never offered and have their own line (docs/metrics.md).
        (s["abandoned"], s["abandoned_parts"].format(n=k.abandoned, queue=k.abandoned_by_stage["queue"],
                                                     ringing=k.abandoned_by_stage["ringing"])),
        (s["ivr_hangups"], str(k.abandoned_by_stage["ivr"])),
        (s["sl"].format(s=f"{k.sl_seconds:g}"), pct(k.service_level)), (s["in_time"], pct(k.answered_in_time_rate)),
        (s["asa"], _sec(k.asa, s)), (s["aht"], _sec(rep.aht, s)), (s["acw"], _sec(rep.acw, s)),
        (s["occupancy"], pct(rep.occupancy)),
    ]
    if rep.short_abandon_seconds > 0:
        rows.insert(5, (s["short_abandoned"], str(k.short_abandoned)))
    if k.fallback_answered:  # calls Asterisk's own queue took while the ACD could not (daemon down, AGI failed)
        rows.insert(3, (s["fallback_answered"], str(k.fallback_answered)))
    return rows


def daily_text(rep: DailyReport) -> str:
    s = strings(rep.language)
    lines = [s["daily_title"].format(name=rep.centre_name, day=rep.day.isoformat()), ""]
    lines += [f"  {label}: {value}" for label, value in _summary(rep, s)]
    lines += ["", f"{s['hour']:>6} {s['offered']:>8} {s['answered']:>8} {s['rate']:>8} {s['usual']:>8} "
              f"{s['agents']:>12}  {s['why']}"]
    for h in rep.hours:
        mark = "!" if h.short else " "
        usual = "—" if h.usual_offered is None else f"{h.usual_offered:.1f}"
        lines.append(f"{mark}{h.start:%H:00} {h.kpi.offered:>8} {h.kpi.answered:>8} {pct(h.connection_rate):>8} "
                     f"{usual:>8} {h.available_agents:>5.1f}/{h.planned_agents:<5.1f}  {why(h, s) if h.short else ''}")
    days = ", ".join(d.isoformat() for d in rep.history_days)
    lines += ["", s["history"].format(n=len(rep.history_days)) + ": " + days]
    short = [r for r in rep.intervals if r.cause]
    if short:
        lines += ["", s["intervals"]]
        lines += [f"  {r.start:%H:%M} {pct(r.rate):>7}  {r.forecast:5.1f}/{r.offered:<4} "
                  f"{r.planned:4.1f}/{r.on_duty:4.1f}/{r.ready:4.1f}  {r.words}" for r in short]
    return "\n".join(lines).rstrip() + "\n"


CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f4f6f8}td.l,th.l{text-align:left}
tr.short td{background:#fdecea}.good{color:#2e7d32;font-weight:bold}.bad{color:#c62828;font-weight:bold}
img{max-width:100%}.note{color:#666;font-size:13px}"""


def _page(title: str, body: str, language: str) -> str:
    lang = "zh-CN" if language == "zh" else "en"
    return (f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def daily_html(rep: DailyReport, chart: bytes | None = None) -> str:
    s = strings(rep.language)
    e = html.escape
    chart = chart if chart is not None else daily_chart_png(rep)
    cls = "good" if rep.met_target else "bad"
    summary = "".join(f'<tr><th class="l">{e(a)}</th><td class="l">{e(b)}</td></tr>' for a, b in _summary(rep, s))
    rows = []
    for h in rep.hours:
        usual = "—" if h.usual_offered is None else f"{h.usual_offered:.1f}"
        rows.append(f'<tr class="{"short" if h.short else ""}"><td>{h.start:%H:00}</td><td>{h.kpi.offered}</td>'
                    f"<td>{h.kpi.answered}</td><td>{pct(h.connection_rate)}</td><td>{usual}</td>"
                    f"<td>{h.available_agents:.1f} / {h.planned_agents:.1f}</td><td>{_sec(h.aht, s)}</td>"
                    f'<td class="l">{e(why(h, s)) if h.short else ""}</td></tr>')
    body = (f'<p class="{cls}">{e(rate_label(rep.language, rep.short_abandon_seconds))} '
            f"{pct(rep.day_kpi.connection_rate, 2)} — {s['target']} {pct(rep.target, 0)}</p>"
            f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(chart).decode()}">'
            f"<table>{summary}</table><h2>{e(s['short_hours'])}</h2>"
            + ("".join(f"<p><b>{h.start:%H:00}</b> {pct(h.connection_rate)}: {e(why(h, s))}</p>"
                       for h in rep.short_hours)
               or f"<p>{e(s['none_short'])}</p>")
            + f"<table><tr><th>{e(s['hour'])}</th><th>{e(s['offered'])}</th><th>{e(s['answered'])}</th>"
              f"<th>{e(s['rate'])}</th><th>{e(s['usual'])}</th><th>{e(s['agents'])}</th><th>{e(s['aht'])}</th>"
              f'<th class="l">{e(s["why"])}</th></tr>{"".join(rows)}</table>'
            + f'<p class="note">{e(s["history"].format(n=len(rep.history_days)))}: '
              f'{", ".join(d.isoformat() for d in rep.history_days)}</p>')
    return _page(s["daily_title"].format(name=rep.centre_name, day=rep.day.isoformat()), body, rep.language)


# --- departments -----------------------------------------------------------------------------------

def _unit_cells(r: Any) -> list[str]:
    return [str(r.tickets), pct(r.on_time_rate), pct(r.reply_rate), pct(r.satisfaction_rate), f"{r.score * 100:.2f}"]


def departments_text(rep: DepartmentReport, language: str) -> str:
    s = strings(language)
    lines = [s["dept_title"].format(month=rep.month), s["weights"].format(min=rep.min_tickets, **rep.weights), ""]
    # Columns by display width (a Chinese character takes two), so the table lines up in a terminal.
    head = (right(s["rank"], 4) + "  " + left(s["unit"], 24) + right(s["tickets"], 6)
            + "".join(right(s[k], 12) for k in ("on_time", "reply", "satisfaction", "score")))
    for g in rep.groups:
        lines += [f"== {s[g.group]} ==", f"{s['red']}: " + "、".join(r.name for r in g.top),
                  f"{s['black']}: " + "、".join(r.name for r in g.bottom), head]
        for i, r in enumerate(g.rows, start=1):
            c = _unit_cells(r)
            lines.append(right(i if r.ranked else "-", 4) + "  " + left(r.name, 24) + right(c[0], 6)
                         + "".join(right(v, 12) for v in c[1:]))
        lines.append("")
    if rep.unmatched:
        lines += [f"{s['unmatched']}: " + "、".join(rep.unmatched), ""]
    return "\n".join(lines).rstrip() + "\n"


def _group_html(g: GroupRanking, s: dict[str, str]) -> str:
    e = html.escape
    top = {r.name for r in g.top}
    bottom = {r.name for r in g.bottom}
    rows = "".join(
        f'<tr><td>{i if r.ranked else e(s["not_ranked"])}</td>'
        f'<td class="l {"good" if r.name in top else "bad" if r.name in bottom else ""}">{e(r.name)}</td>'
        + "".join(f"<td>{c}</td>" for c in _unit_cells(r)) + "</tr>"
        for i, r in enumerate(g.rows, start=1))
    return (f"<h2>{e(s[g.group])}</h2><p><span class='good'>{e(s['red'])}</span>: {e('、'.join(r.name for r in g.top))}"
            f"<br><span class='bad'>{e(s['black'])}</span>: {e('、'.join(r.name for r in g.bottom))}</p>"
            f"<table><tr><th>{e(s['rank'])}</th><th class='l'>{e(s['unit'])}</th><th>{e(s['tickets'])}</th>"
            f"<th>{e(s['on_time'])}</th><th>{e(s['reply'])}</th><th>{e(s['satisfaction'])}</th>"
            f"<th>{e(s['score'])}</th></tr>{rows}</table>")


def departments_html(rep: DepartmentReport, language: str, more: str = "") -> str:
    """The ranking page; ``more``: HTML sections after it (the month's incidents)."""
    s = strings(language)
    body = f'<p class="note">{html.escape(s["weights"].format(min=rep.min_tickets, **rep.weights))}</p>'
    body += "".join(_group_html(g, s) for g in rep.groups)
    if rep.unmatched:
        body += f'<p class="note">{html.escape(s["unmatched"] + ": " + "、".join(rep.unmatched))}</p>'
    return _page(s["dept_title"].format(month=rep.month), body + more, language)


# --- topics ----------------------------------------------------------------------------------------

def _period(rep: TopicsReport, tz: Any) -> dict[str, str]:
    last = timedelta(seconds=1)
    return {"a": f"{rep.since.astimezone(tz):%Y-%m-%d}", "b": f"{(rep.until - last).astimezone(tz):%Y-%m-%d}",
            "pa": f"{rep.prev_since.astimezone(tz):%Y-%m-%d}", "pb": f"{(rep.since - last).astimezone(tz):%Y-%m-%d}"}


def topics_text(rep: TopicsReport, language: str, tz: Any) -> str:
    s = strings(language)
    lines = [s["topics_title"].format(**_period(rep, tz)),
             s["tickets_count"].format(n=rep.tickets_now, p=rep.tickets_before), ""]
    for d in DIMENSIONS:
        lines.append(f"== {s[d]} ==")
        lines.append(left(s["key"], 28) + right(s["now"], 6) + right(s["before"], 8) + right(s["expected"], 10)
                     + right(s["rise"], 8))
        for r in rep.rises[d]:
            lines.append(left(r.key, 28) + right(r.now, 6) + right(r.before, 8) + right(f"{r.expected:.1f}", 10)
                         + right(f"{r.rise:+.1f}", 8))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def topics_html(rep: TopicsReport, language: str, tz: Any) -> str:
    s = strings(language)
    e = html.escape
    body = f"<p>{e(s['tickets_count'].format(n=rep.tickets_now, p=rep.tickets_before))}</p>"
    for d in DIMENSIONS:
        rows = "".join(f"<tr><td class='l'>{e(r.key)}</td><td>{r.now}</td><td>{r.before}</td>"
                       f"<td>{r.expected:.1f}</td><td>{r.rise:+.1f}</td></tr>" for r in rep.rises[d])
        body += (f"<h2>{e(s[d])}</h2><table><tr><th class='l'>{e(s['key'])}</th><th>{e(s['now'])}</th>"
                 f"<th>{e(s['before'])}</th><th>{e(s['expected'])}</th><th>{e(s['rise'])}</th></tr>{rows}</table>")
    return _page(s["topics_title"].format(**_period(rep, tz)), body, language)
