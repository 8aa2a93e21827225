// Page texts in zh and en; the page's <html lang> (centre.language) chooses.
"use strict";
const TEXTS = {
  zh: {username: "用户名", password: "密码", sign_in: "登录", sign_out: "退出", my_state: "我的状态",
    desk_title: "坐席工作台", tickets_link: "工单", alerts_on: "开启来电提醒",
    ready: "示闲", not_ready: "示忙", wrapup: "话后整理，剩余", seconds: "秒", incoming: "来电", caller: "来电号码",
    name: "来电人", unknown_caller: "未知来电人", queue: "队列", ivr: "语音导航", waited: "等待", language: "语言",
    open_tickets: "未办结工单", last_calls: "最近来电", hold: "保持", retrieve: "取回", hangup: "挂断",
    transfer: "转接", handoff: "转警/急救", ticket: "工单", category: "类别", topic: "主题", district: "区域",
    township: "街道（乡镇）", address: "详细地址", contact: "联系电话", content: "内容", department: "承办单位",
    department_search: "输入名称搜索，回车选第一项", picked: "已选", save: "保存", save_dispatch: "保存并派单",
    reconnecting: "连接中断，正在重连…", none: "无",
    s_ready: "空闲", s_not_ready: "示忙", s_reserved: "振铃中", s_on_call: "通话中", s_wrap_up: "话后整理",
    s_logged_out: "未登录", ringing: "振铃", talking: "通话", held: "保持中", r_break: "小休", r_meal: "就餐",
    r_training: "培训", r_meeting: "会议", r_other: "其他", r_missed: "未接", r_busy: "忙", r_unreachable: "无法接通",
    r_login: "登录", r_shift: "不在班", r_desk_offline: "桌面离线",
    saved: "已保存", dispatched: "已派单", saving_after_call: "通话结束后自动保存工单…",
    no_tickets_api: "工单服务未启用，无法保存", invalid_target: "目标号码无效",
    bad_credentials: "用户名或密码错误", too_many_attempts: "尝试次数过多，请稍后再试", sent: "已发送",
    no_call: "当前没有通话", pbx_refused: "交换机拒绝了该操作", not_held: "通话未处于保持状态",
    on_hold: "来电人正在保持中，请先取回", not_allowed: "当前状态下不能这样做", error: "出错了",
    wrapup_finish: "结束整理", wrapup_extend: "延长整理 60 秒",
    hold_left: "剩余 {s} 秒，到时自动回到您的话机", hold_now: "通话保持中",
    hold_music: "回拨未接听，来电人在听等待音乐，请点“取回”",
    h_number: "工单号", h_state: "状态", h_subject: "事项", h_department: "承办单位", h_due: "办理时限",
    h_time: "时间", h_queue: "队列", h_outcome: "结果", h_agent: "坐席", h_talk: "通话时长",
    o_answered: "已接通", o_abandoned_ivr: "语音导航中挂机", o_abandoned_queue: "排队中放弃",
    o_abandoned_ringing: "振铃中放弃", o_failed: "失败", o_fallback: "转备用队列", o_overflowed: "溢出",
    o_fallback_voicemail: "转留言", o_fallback_callback: "预约回电", o_callback: "预约回电",
    lang_zh: "中文", lang_en: "英语", saved_tickets: "本班已登记工单", drafts: "未保存的草稿",
    resume: "继续填写", draft_of: "通话 {c} 的草稿", drafts_forget: "还有 {n} 份未保存的工单草稿，退出将删除它们。确定退出？", ring_title: "新来电", incident_hint: "疑似同源件：",
    incident_link: "关联到事件 #{n}（{what}{where}，{calls} 通来电）", incident_linked: "已关联为同源件（事件 #{n}）",
    incident_lead: "已关联为主件（事件 #{n}）", minutes: "分", ticket_for: "工单"},
  en: {username: "Username", password: "Password", sign_in: "Sign in", sign_out: "Sign out", my_state: "My state",
    desk_title: "Agent desk", tickets_link: "Tickets", alerts_on: "Turn on call alerts",
    ready: "Ready", not_ready: "Not ready", wrapup: "Wrap-up, left", seconds: "s", incoming: "Incoming call",
    caller: "Caller", name: "Name", unknown_caller: "Unknown caller", queue: "Queue", ivr: "IVR", waited: "Waited",
    language: "Language", open_tickets: "Open tickets", last_calls: "Last calls", hold: "Hold", retrieve: "Take back",
    hangup: "Hang up", transfer: "Transfer", handoff: "Hand off", ticket: "Ticket", category: "Category",
    topic: "Topic", district: "District", township: "Street / township", address: "Address",
    contact: "Contact number", content: "Content", department: "Department",
    department_search: "Type to search, Enter picks the first", picked: "Picked", save: "Save",
    save_dispatch: "Save and dispatch", reconnecting: "Connection lost, reconnecting…", none: "none",
    s_ready: "Ready", s_not_ready: "Not ready", s_reserved: "Ringing", s_on_call: "On call", s_wrap_up: "Wrap-up",
    s_logged_out: "Logged out", ringing: "ringing", talking: "talking", held: "on hold", r_break: "Break",
    r_meal: "Meal", r_training: "Training", r_meeting: "Meeting", r_other: "Other", r_missed: "Missed",
    r_busy: "Busy", r_unreachable: "Unreachable", r_login: "Logged in", r_shift: "Off shift",
    r_desk_offline: "Desk offline", saved: "Saved", dispatched: "Dispatched",
    saving_after_call: "The ticket is saved when the call ends…",
    no_tickets_api: "The tickets service is not enabled: cannot save", invalid_target: "Invalid target",
    bad_credentials: "Wrong username or password", too_many_attempts: "Too many attempts, try again later",
    sent: "Sent", no_call: "No call", pbx_refused: "The PBX refused", not_held: "The call is not on hold",
    on_hold: "The caller is on hold: take them back first", not_allowed: "Not possible now", error: "Error",
    wrapup_finish: "Finish wrap-up", wrapup_extend: "60 s more wrap-up",
    hold_left: "{s} s left, then the caller comes back to your phone", hold_now: "Caller on hold",
    hold_music: "Ring-back not answered: the caller hears music; press Take back",
    h_number: "Number", h_state: "State", h_subject: "Subject", h_department: "Department", h_due: "Due",
    h_time: "Time", h_queue: "Queue", h_outcome: "Result", h_agent: "Agent", h_talk: "Talk",
    o_answered: "Answered", o_abandoned_ivr: "Hung up in the IVR", o_abandoned_queue: "Gave up in the queue",
    o_abandoned_ringing: "Gave up while ringing", o_failed: "Failed", o_fallback: "Fallback queue",
    o_overflowed: "Overflowed", o_fallback_voicemail: "Voicemail", o_fallback_callback: "Call-back",
    o_callback: "Call-back", lang_zh: "Chinese", lang_en: "English", saved_tickets: "Tickets filed this shift",
    drafts: "Unsaved drafts", resume: "Resume", draft_of: "Draft of call {c}",
    drafts_forget: "{n} unsaved ticket drafts will be deleted when you sign out. Sign out?", ring_title: "Incoming call",
    incident_hint: "Looks like an incident:", incident_link: "Link to incident #{n} ({what} {where}, {calls} calls)",
    incident_linked: "Linked to incident #{n}", incident_lead: "Linked as the lead of incident #{n}",
    minutes: "min", ticket_for: "Ticket"},
};
const LANG = document.documentElement.lang === "en" ? "en" : "zh";
function t(key, vars) {
  let text = (TEXTS[LANG][key] !== undefined) ? TEXTS[LANG][key] : key;
  for (const [k, v] of Object.entries(vars || {})) text = text.replace("{" + k + "}", v);
  return text;
}
function translatePage() {
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-placeholder]")) el.placeholder = t(el.dataset.tPlaceholder);
}
translatePage();
