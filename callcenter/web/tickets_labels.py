"""Names for the tickets workspace in the centre's language: states, actions, channels, page texts.

Codes never reach the page: a state is 已派单 (not `dispatched`), a category 投诉 (not `complaint`), a
department 市住房和城乡建设局 (not `city.zjw`). Categories, topics and departments come from the config
and the department directory; states, actions and channels are named here.
"""

from __future__ import annotations

STATES = {
    "zh": {"accepted": "已受理", "dispatched": "已派单", "in_progress": "办理中", "extension_requested": "延期申请中",
           "returned": "已退单", "resolved": "已办结", "followed_up": "已回访", "closed": "已归档", "merged": "重复件"},
    "en": {"accepted": "Accepted", "dispatched": "Dispatched", "in_progress": "In progress",
           "extension_requested": "Extension requested", "returned": "Returned", "resolved": "Resolved",
           "followed_up": "Followed up", "closed": "Closed", "merged": "Merged (duplicate)"},
}
ACTIONS = {
    "zh": {"create": "登记", "dispatch": "派单", "answer": "直接办结", "sign": "签收", "return": "退单",
           "reassign": "改派",
           "request_extension": "申请延期", "approve_extension": "批准延期", "reject_extension": "驳回延期",
           "remind": "催办", "supervise": "督办", "resolve": "办结", "follow_up_satisfied": "回访：满意",
           "follow_up_unreached": "回访：未联系上", "follow_up_unsatisfied": "回访：不满意（重办）", "close": "归档",
           "merge": "合并为重复件", "edit": "修改", "reveal": "查看完整号码",
           "record_joined": "通话记录已关联"},
    "en": {"create": "Created", "dispatch": "Dispatch", "answer": "Answer on the spot", "sign": "Sign for it",
           "return": "Return", "reassign": "Reassign", "request_extension": "Request extension",
           "approve_extension": "Approve extension", "reject_extension": "Reject extension", "remind": "Remind",
           "supervise": "Supervise", "resolve": "Resolve", "follow_up_satisfied": "Follow-up: satisfied",
           "follow_up_unreached": "Follow-up: not reached", "follow_up_unsatisfied": "Follow-up: unsatisfied (reopen)",
           "close": "Close", "merge": "Merge as duplicate", "edit": "Edited", "reveal": "Full number shown",
           "record_joined": "Call record joined"},
}
CHANNELS = {
    "zh": {"phone": "电话", "sms": "短信", "web": "网站", "app": "移动端", "wechat": "微信", "email": "电子邮件",
           "letter": "来信"},
    "en": {"phone": "Phone", "sms": "SMS", "web": "Web", "app": "App", "wechat": "WeChat", "email": "E-mail",
           "letter": "Letter"},
}
ROLES = {
    "zh": {"agent": "话务员", "supervisor": "值班长", "admin": "管理员", "department": "承办单位", "system": "系统"},
    "en": {"agent": "Agent", "supervisor": "Supervisor", "admin": "Admin", "department": "Department",
           "system": "System"},
}
SATISFACTION = {
    "zh": {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意", "unreached": "未联系上"},
    "en": {"satisfied": "Satisfied", "basically_satisfied": "Basically satisfied", "unsatisfied": "Unsatisfied",
           "unreached": "Not reached"},
}
# The same words as the agent desk's ticket form (desktop/static/i18n.js): 主题, 区域, 承办单位.
TEXT = {
    "zh": {"title": "工单", "new": "新建工单", "number": "编号", "created": "登记时间", "category": "类别",
           "topic": "主题", "county": "区域", "department": "承办单位", "state": "状态", "due": "办理时限",
           "channel": "渠道", "content": "内容", "search": "搜索", "search_hint": "编号、标题或内容",
           "filter": "筛选", "clear": "清除", "all": "全部", "due_any": "全部时限", "overdue": "已超期",
           "due_today": "今日到期", "open_only": "在办", "results": "共 {n} 件", "page": "第 {p} / {n} 页",
           "prev": "上一页", "next": "下一页", "none": "没有符合条件的工单", "history": "办理记录",
           "actions": "可办理操作", "note": "说明", "days": "延期天数", "merge_into": "合并到工单编号",
           "submit": "确定", "close": "关闭", "title_field": "标题", "reply": "答复", "satisfaction": "回访结果",
           "reminders": "催办次数", "supervised": "督办", "yes": "是", "no": "否", "times": "时间均为 {tz}",
           "created_notice": "已登记工单 {n}", "no_actions": "您在此状态下没有可办理的操作",
           "pick_department": "选择承办单位（可输入搜索）", "done": "已完成：{a}", "failed": "操作未成功：{e}",
           "address": "地址", "caller": "来电号码", "reveal": "查看完整号码",
           "reveal_reason": "查看原因（将记入审计日志）"},
    "en": {"title": "Tickets", "new": "New ticket", "number": "Number", "created": "Created", "category": "Category",
           "topic": "Topic", "county": "District", "department": "Department", "state": "State", "due": "Due",
           "channel": "Channel", "content": "Content", "search": "Search", "search_hint": "number, title or text",
           "filter": "Filter", "clear": "Clear", "all": "All", "due_any": "Any due date", "overdue": "Overdue",
           "due_today": "Due today", "open_only": "Open", "results": "{n} tickets", "page": "page {p} of {n}",
           "prev": "Previous", "next": "Next", "none": "No ticket matches", "history": "History",
           "actions": "Actions", "note": "Note", "days": "Days", "merge_into": "Merge into ticket number",
           "submit": "OK", "close": "Close", "title_field": "Title", "reply": "Reply", "satisfaction": "Follow-up",
           "reminders": "Reminders", "supervised": "Supervised", "yes": "yes", "no": "no", "times": "Times in {tz}",
           "created_notice": "Ticket {n} created", "no_actions": "No action is open to you in this state",
           "pick_department": "Pick a department (type to search)", "done": "Done: {a}", "failed": "Not done: {e}",
           "address": "Address", "caller": "Caller", "reveal": "Show the full number",
           "reveal_reason": "Why (written to the audit log)"},
}


def lang(language: str) -> str:
    return "zh" if language == "zh" else "en"
