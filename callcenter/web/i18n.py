"""Every string the wallboard shows, per language, in one place.

The page is rendered on the server with these strings and the same dict goes to the browser as
JSON, so the live script never carries text of its own.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "html_lang": "en",
        "title": "Live wallboard",
        "today_rate": "Connection rate today",
        # Appended to the rate labels when short abandons are excluded (centre.short_abandon_seconds > 0).
        "excl_short": " (excl. abandons ≤ {n} s)",
        "target": "Target",
        "rate_1h": "Last 1 h",
        "rate_24h": "Last 24 h",
        "standard_24h": "Standard ≥ 95 %",
        "offered": "Offered",
        "answered": "Answered",
        "abandoned": "Abandoned",
        "asa": "Avg. answer time",
        "answered_15s": "Answered ≤ 15 s",
        "waiting": "Waiting now",
        "longest_wait_now": "Longest wait now",
        "longest_wait_today": "Longest wait today",
        "queues": "Queues",
        "queue": "Queue",
        "rate": "Rate",
        "longest_wait": "Longest wait",
        "no_queues": "No queues",
        "agents": "Agents",
        "agent_ready": "Ready",
        "agent_reserved": "Ringing",
        "agent_on_call": "On call",
        "agent_wrap_up": "Wrap-up",
        "agent_not_ready": "Not ready",
        "agent_logged_out": "Logged out",
        "by_hour": "Today by hour",
        "no_calls_yet": "No calls yet today",
        "ami_down": "AMI disconnected: figures may be stale",
        "reconnecting": "Connection to the server lost: reconnecting…",
        "next_hour_risk": "Next hour at risk: expected connection rate",
        "loading": "Loading…",
        "seconds_suffix": " s",
        "callbacks_pending": "Callbacks to make",
        "callbacks_answered": "Called back today",
        "callbacks_failed": "Not reached:",
        # Operations (callcenter/ha/): a takeover by the standby, dependencies that do not answer.
        "ops_takeover": "Standby {node} took over at {at} (term {epoch}, after {previous})",
        "ops_down": "Not available: {list}",
        "dep_database": "database",
        "dep_broker": "message broker (MQTT)",
        "dep_ami": "PBX link (AMI) {pbx}",
    },
    "zh": {
        "html_lang": "zh-CN",
        "title": "实时监控大屏",
        "today_rate": "今日接通率",
        "excl_short": "（不含{n}秒内放弃）",
        "target": "目标",
        "rate_1h": "近1小时",
        "rate_24h": "近24小时",
        "standard_24h": "国标 ≥ 95 %",
        "offered": "呼入量",
        "answered": "接通量",
        "abandoned": "放弃量",
        "asa": "平均应答时长",
        "answered_15s": "15秒接通率",
        "waiting": "当前排队",
        "longest_wait_now": "当前最长等待",
        "longest_wait_today": "今日最长等待",
        "queues": "队列",
        "queue": "队列",
        "rate": "接通率",
        "longest_wait": "最长等待",
        "no_queues": "暂无队列",
        "agents": "坐席状态",
        "agent_ready": "空闲",
        "agent_reserved": "振铃",
        "agent_on_call": "通话中",
        "agent_wrap_up": "话后处理",
        "agent_not_ready": "示忙",
        "agent_logged_out": "未签入",
        "by_hour": "今日分时段话务",
        "no_calls_yet": "今日暂无来电",
        "ami_down": "与PBX连接中断（AMI），数据可能不是最新",
        "reconnecting": "与服务器的连接中断，正在重连…",
        "next_hour_risk": "未来一小时接通率预计低于目标：",
        "loading": "加载中…",
        "seconds_suffix": " 秒",
        "callbacks_pending": "待回电",
        "callbacks_answered": "今日已回电",
        "callbacks_failed": "未接通：",
        "ops_takeover": "备用节点 {node} 已于 {at} 接管（第 {epoch} 任，接替 {previous}）",
        "ops_down": "不可用：{list}",
        "dep_database": "数据库",
        "dep_broker": "消息服务器（MQTT）",
        "dep_ami": "PBX 连接（AMI）{pbx}",
    },
}


def strings_for(language: str) -> dict[str, str]:
    """The strings of one language; an unknown language is a programming error, not a fallback."""
    try:
        return STRINGS[language]
    except KeyError:
        expected = sorted(STRINGS)
        raise ValueError(f"unknown wallboard language {language!r}; expected one of {expected}") from None
