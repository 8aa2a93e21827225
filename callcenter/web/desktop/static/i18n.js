// Page texts in zh and en; the page's <html lang> (centre.language) chooses.
"use strict";
const TEXTS = {
  zh: {username: "用户名", password: "密码", sign_in: "登录", sign_out: "退出", my_state: "我的状态",
    ready: "示闲", not_ready: "示忙", wrapup: "话后整理", seconds: "秒", incoming: "来电", caller: "来电号码",
    name: "姓名", queue: "队列", ivr: "语音导航", waited: "等待", language: "语言", open_tickets: "未办结工单",
    last_calls: "最近来电", hold: "保持", transfer: "转接", handoff: "转警/急救", ticket: "工单", category: "类别",
    topic: "主题", district: "区域", content: "内容", department: "承办单位", save: "保存",
    save_dispatch: "保存并派单", reconnecting: "连接中断，正在重连…", none: "无",
    s_ready: "空闲", s_not_ready: "示忙", s_reserved: "振铃中", s_on_call: "通话中", s_wrap_up: "话后整理",
    s_logged_out: "未登录", ringing: "振铃", talking: "通话", r_break: "小休", r_meal: "就餐", r_training: "培训",
    r_meeting: "会议", r_other: "其他", r_missed: "未接", r_busy: "忙", r_unreachable: "无法接通", r_login: "登录",
    saved: "已保存", dispatched: "已派单", saving_after_call: "通话结束后自动保存工单…",
    no_tickets_api: "工单服务未启用，无法保存", invalid_target: "目标号码无效",
    bad_credentials: "用户名或密码错误", too_many_attempts: "尝试次数过多，请稍后再试", sent: "已发送",
    no_call: "当前没有通话", pbx_refused: "交换机拒绝了该操作", error: "出错了"},
  en: {username: "Username", password: "Password", sign_in: "Sign in", sign_out: "Sign out", my_state: "My state",
    ready: "Ready", not_ready: "Not ready", wrapup: "Wrap-up", seconds: "s", incoming: "Incoming call",
    caller: "Caller", name: "Name", queue: "Queue", ivr: "IVR", waited: "Waited", language: "Language",
    open_tickets: "Open tickets", last_calls: "Last calls", hold: "Hold", transfer: "Transfer",
    handoff: "Hand off", ticket: "Ticket", category: "Category", topic: "Topic", district: "District",
    content: "Content", department: "Department", save: "Save", save_dispatch: "Save and dispatch",
    reconnecting: "Connection lost, reconnecting…", none: "none", s_ready: "Ready", s_not_ready: "Not ready",
    s_reserved: "Ringing", s_on_call: "On call", s_wrap_up: "Wrap-up", s_logged_out: "Logged out",
    ringing: "ringing", talking: "talking", r_break: "Break", r_meal: "Meal", r_training: "Training",
    r_meeting: "Meeting", r_other: "Other", r_missed: "Missed", r_busy: "Busy", r_unreachable: "Unreachable",
    r_login: "Logged in", saved: "Saved", dispatched: "Dispatched",
    saving_after_call: "The ticket is saved when the call ends…",
    no_tickets_api: "The tickets service is not enabled: cannot save", invalid_target: "Invalid target", bad_credentials: "Wrong username or password",
    too_many_attempts: "Too many attempts, try again later", sent: "Sent", no_call: "No call",
    pbx_refused: "The PBX refused", error: "Error"},
};
const LANG = document.documentElement.lang === "en" ? "en" : "zh";
function t(key) { return (TEXTS[LANG][key] !== undefined) ? TEXTS[LANG][key] : key; }
function translatePage() {
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
}
translatePage();
