"use strict";
// Admin pages: one editable row per item; the server validates with the config file's rules and
// answers {fields: {name: message}}; each message is shown under its field.
const $ = (id) => document.getElementById(id);
Object.assign(TEXTS.zh, {a_agents: "坐席", a_queues: "队列", a_shifts: "班次", a_skills: "技能", a_ivr: "语音导航",
  a_audit: "变更记录", a_note: "每次修改都按配置文件的规则校验并记录（谁、何时、修改前后）；重启后生效。",
  a_save: "保存", a_add: "新增", a_delete: "删除", a_saved: "已保存", a_editor: "打开语音导航编辑器",
  a_serving: "当前版本", a_nodes: "个节点", a_by: "作者", a_config: "配置文件", a_no_editor: "语音导航编辑器未启用",
  a_skill: "技能", a_agents_levels: "坐席及等级", a_when: "时间", a_user: "操作人", a_what: "对象", a_action: "操作",
  a_before: "修改前", a_after: "修改后", a_no_entries: "暂无变更记录", a_version: "版本", a_note: "说明",
  c_id: "工号", c_name: "姓名", c_endpoint: "分机", c_team: "班组", c_queues: "队列", c_skills: "技能",
  c_label_zh: "中文名称", c_label_en: "英文名称", c_strategy: "分配策略", c_wrapup_seconds: "话后整理（秒）",
  c_ring_timeout: "振铃超时（秒）", c_max_wait: "最长等待（秒）", c_max_length: "最多排队人数", c_fallback: "溢出队列",
  c_teams: "班组", c_start: "开始", c_end: "结束", c_days: "星期",
  act_create: "新增", act_update: "修改", act_delete: "删除", act_save: "保存新版本", act_rollback: "回滚",
  sec_agents: "坐席", sec_queues: "队列", sec_shifts: "班次", sec_ivr: "语音导航", sec_supervisor: "值班长操作",
  act_force_ready: "强制示闲", act_force_not_ready: "强制示忙", act_force_logged_out: "强制登出",
  act_set_queues: "调整队列", act_set_priority: "调整优先级", act_listen: "监听", act_whisper: "耳语", act_barge: "强插",
  c_priority: "优先级", c_call_id: "通话", c_state: "状态", c_reason: "原因",
  a_users: "用户", u_name: "用户名", u_role: "角色", u_state: "状态", u_sessions: "在线会话", u_enabled: "正常",
  u_disabled: "已停用", u_disable: "停用", u_enable: "启用", u_signout: "全部下线",
  u_note: "停用：拒绝登录并立即结束该用户的全部会话；全部下线：结束会话，可重新登录。立即生效并记录。",
  role_agent: "话务员", role_supervisor: "值班长", role_admin: "管理员", role_department: "承办单位",
  u_err_cannot_disable_self: "不能停用自己的账号", sec_users: "用户", act_disable: "停用", act_enable: "启用",
  act_signout: "全部下线"});
Object.assign(TEXTS.en, {a_agents: "Agents", a_queues: "Queues", a_shifts: "Shifts", a_skills: "Skills",
  a_ivr: "IVR menus", a_audit: "Audit trail", a_note: "Every edit is checked with the config file's rules and recorded (who, when, before, after); it takes effect at restart.",
  a_save: "Save", a_add: "Add", a_delete: "Delete", a_saved: "Saved", a_editor: "Open the IVR editor",
  a_serving: "Serving version", a_nodes: "nodes", a_by: "by", a_config: "config file", a_no_editor: "The IVR editor is not enabled",
  a_skill: "Skill", a_agents_levels: "Agents and levels", a_when: "Time", a_user: "User", a_what: "Item", a_action: "Change",
  a_before: "Before", a_after: "After", a_no_entries: "No changes yet", a_version: "Version", a_note: "Note",
  c_id: "ID", c_name: "Name", c_endpoint: "Endpoint", c_team: "Team", c_queues: "Queues", c_skills: "Skills",
  c_label_zh: "Chinese name", c_label_en: "English name", c_strategy: "Strategy", c_wrapup_seconds: "Wrap-up (s)",
  c_ring_timeout: "Ring timeout (s)", c_max_wait: "Longest wait (s)", c_max_length: "Most waiting", c_fallback: "Overflow queue",
  c_teams: "Teams", c_start: "Start", c_end: "End", c_days: "Days",
  act_create: "Added", act_update: "Changed", act_delete: "Removed", act_save: "New version", act_rollback: "Rolled back",
  sec_agents: "Agents", sec_queues: "Queues", sec_shifts: "Shifts", sec_ivr: "IVR menu", sec_supervisor: "Supervisor",
  act_force_ready: "Made ready", act_force_not_ready: "Made not ready", act_force_logged_out: "Logged out",
  act_set_queues: "Queues changed", act_set_priority: "Priority changed", act_listen: "Listened", act_whisper: "Whispered",
  act_barge: "Barged in", c_priority: "Priority", c_call_id: "Call", c_state: "State", c_reason: "Reason",
  a_users: "Users", u_name: "User", u_role: "Role", u_state: "State", u_sessions: "Open sessions", u_enabled: "Enabled",
  u_disabled: "Disabled", u_disable: "Disable", u_enable: "Enable", u_signout: "Sign out everywhere",
  u_note: "Disable: sign-ins refused and every session of the user ended now. Sign out everywhere: sessions ended, the user may sign in again. Takes effect at once and is recorded.",
  role_agent: "Agent", role_supervisor: "Supervisor", role_admin: "Administrator", role_department: "Department",
  u_err_cannot_disable_self: "You cannot disable your own user", sec_users: "User", act_disable: "Disabled",
  act_enable: "Enabled", act_signout: "Signed out everywhere"});
translatePage();
const COLUMNS = {
  agents: ["id", "name", "endpoint", "team", "queues", "skills"],
  queues: ["name", "label_zh", "label_en", "strategy", "wrapup_seconds", "ring_timeout", "max_wait", "max_length", "fallback"],
  shifts: ["name", "teams", "start", "end", "days"],
};
let CSRF = "";

async function api(method, path, body) {
  const res = await fetch(path, {method, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
    body: body === undefined ? undefined : JSON.stringify(body)});
  if (res.status === 401) location.href = "/login?next=/admin";
  return {ok: res.ok, status: res.status, data: await res.json().catch(() => ({}))};
}

function show(value) {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => k + "=" + v).join(", ");
  return String(value);
}

function row(section, key, item, isNew) {
  const tr = document.createElement("tr");
  tr.dataset.key = isNew ? "" : item[key];
  for (const col of COLUMNS[section]) {
    const td = document.createElement("td");
    const input = document.createElement("input");
    input.name = col;
    input.value = show(item[col]);
    if (col === key && !isNew) input.readOnly = true;
    const err = document.createElement("span");
    err.className = "field-error";
    err.dataset.field = col;
    td.append(input, err);
    tr.appendChild(td);
  }
  const td = document.createElement("td");
  const save = document.createElement("button");
  save.textContent = t("a_save");
  save.className = "save";
  const status = document.createElement("span");
  status.className = "row-status";
  save.addEventListener("click", async () => {
    for (const e of tr.querySelectorAll(".field-error")) e.textContent = "";
    status.textContent = "";
    const body = {};
    for (const input of tr.querySelectorAll("input")) body[input.name] = input.value;
    const id = body[key];
    const r = await api("PUT", "/api/admin/" + section + "/" + encodeURIComponent(id), body);
    if (r.ok) { status.textContent = t("a_saved"); status.className = "row-status saved"; tr.dataset.key = id; return; }
    status.className = "row-status row-error";
    for (const [field, message] of Object.entries(r.data.fields || {})) {
      const slot = tr.querySelector(".field-error[data-field='" + field + "']");
      if (slot) slot.textContent = message; else status.textContent += message + " ";
    }
    if (!r.data.fields) status.textContent = r.data.detail || t("error");
  });
  td.append(save, status);
  tr.appendChild(td);
  return tr;
}

async function showSection(section) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.section === section);
  const box = $("content");
  box.textContent = "";
  if (section === "users") return showUsers(box);
  if (section === "ivr") return showIvr(box);
  if (section === "skills") return showSkills(box);
  if (section === "audit") return showAudit(box);
  const r = await api("GET", "/api/admin/" + section);
  const table = document.createElement("table");
  table.className = "items";
  table.id = "items-" + section;
  const head = document.createElement("tr");
  for (const col of COLUMNS[section].concat([""])) { const th = document.createElement("th"); th.textContent = col ? t("c_" + col) : ""; head.appendChild(th); }
  table.appendChild(head);
  for (const item of r.data.items) table.appendChild(row(section, r.data.key, item, false));
  box.appendChild(table);
  const add = document.createElement("button");
  add.textContent = t("a_add");
  add.addEventListener("click", () => table.appendChild(row(section, r.data.key, {}, true)));
  box.appendChild(add);
}

function cell(tr, text, tag) { const td = document.createElement(tag || "td"); td.textContent = text; tr.appendChild(td); return td; }
function table(id, headers) {
  const tb = document.createElement("table");
  tb.className = "items"; tb.id = id;
  const head = document.createElement("tr");
  for (const h of headers) cell(head, t(h), "th");
  tb.appendChild(head);
  return tb;
}
const TZ = document.body.dataset.tz || undefined;
const TIME = new Intl.DateTimeFormat(LANG === "zh" ? "zh-CN" : "en-GB", {timeZone: TZ, year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false});

// The IVR tab: the serving menu drawn as `callcenter ivr render` draws it, and the way to the editor.
async function showIvr(box) {
  const info = await api("GET", "/api/admin/ivr");
  if (!info.data.editor) { const p = document.createElement("p"); p.textContent = t("a_no_editor"); box.appendChild(p); return; }
  const open = document.createElement("a");
  open.href = info.data.editor; open.id = "open-ivr-editor"; open.className = "button-link"; open.textContent = t("a_editor");
  const overview = await api("GET", "/api/ivr");
  if (!overview.ok) { const p = document.createElement("p"); p.textContent = t("a_no_editor"); box.appendChild(p); return; }
  const v = overview.data.current;
  const head = document.createElement("div");
  head.className = "ivr-head";
  const title = document.createElement("span");
  title.id = "ivr-serving";
  title.textContent = `${t("a_serving")} v${v.number} · ${v.nodes} ${t("a_nodes")} · ${t("a_by")} ${v.author === "config" ? t("a_config") : v.author} · ${TIME.format(new Date(v.at))}`;
  head.append(title, open);
  box.appendChild(head);
  const version = await api("GET", "/api/ivr/versions/" + v.number);
  const drawn = await api("POST", "/api/ivr/graph", {text: version.data.text});
  if (!drawn.ok) return;
  const svg = new DOMParser().parseFromString(drawn.data.svg, "image/svg+xml").documentElement;
  for (const el of svg.querySelectorAll("script, foreignObject, a")) el.remove();
  for (const el of svg.querySelectorAll("*")) for (const a of [...el.attributes]) if (/^on/i.test(a.name)) el.removeAttribute(a.name);
  const pic = document.createElement("div");
  pic.className = "ivr-graph";
  pic.appendChild(document.importNode(svg, true));
  box.appendChild(pic);
}

async function showSkills(box) {
  const r = await api("GET", "/api/admin/skills");
  const tb = table("skills", ["a_skill", "a_agents_levels"]);
  for (const [skill, agents] of Object.entries(r.data.skills)) {
    const tr = document.createElement("tr");
    cell(tr, skill);
    cell(tr, agents.map((a) => `${a.name}（${a.agent_id}）${a.level}`).join("、"));
    tb.appendChild(tr);
  }
  box.appendChild(tb);
}

function summary(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  return Object.entries(value).map(([k, v]) => (t("c_" + k) !== "c_" + k ? t("c_" + k) : k === "version" ? t("a_version") : k === "note" ? t("a_note") : k)
    + "：" + (k === "version" ? "v" + v : show(v))).join("；");
}

// Users: disable / enable / sign out everywhere (server-side sessions; callcenter/web/users_api.py).
async function showUsers(box) {
  const note = document.createElement("p"); note.className = "muted"; note.textContent = t("u_note"); box.appendChild(note);
  const r = await api("GET", "/api/admin/users");
  const tb = table("items-users", ["u_name", "u_role", "u_state", "u_sessions", ""]);
  for (const u of r.data.users || []) {
    const tr = document.createElement("tr");
    tr.dataset.user = u.username;
    cell(tr, u.display_name === u.username ? u.username : u.username + " " + u.display_name);
    cell(tr, t("role_" + u.role));
    cell(tr, t(u.disabled ? "u_disabled" : "u_enabled")).className = u.disabled ? "row-error" : "";
    cell(tr, String(u.open_sessions));
    const td = cell(tr, "");
    const status = document.createElement("span"); status.className = "row-status";
    for (const [action, label] of [[u.disabled ? "enable" : "disable", u.disabled ? "u_enable" : "u_disable"], ["signout", "u_signout"]]) {
      const b = document.createElement("button");
      b.textContent = t(label); b.dataset.action = action;
      b.addEventListener("click", async () => {
        const res = await api("POST", "/api/admin/users/" + encodeURIComponent(u.username) + "/" + action);
        if (res.ok) { await showSection("users"); return; }
        const known = "u_err_" + res.data.error;
        status.className = "row-status row-error"; status.textContent = t(known) !== known ? t(known) : t("error");
      });
      td.appendChild(b);
    }
    td.appendChild(status);
    tb.appendChild(tr);
  }
  box.appendChild(tb);
}

async function showAudit(box) {
  const r = await api("GET", "/api/admin/audit");
  if (!r.data.entries.length) { const p = document.createElement("p"); p.className = "muted"; p.textContent = t("a_no_entries"); box.appendChild(p); return; }
  const tb = table("audit", ["a_when", "a_user", "a_what", "a_action", "a_before", "a_after"]);
  for (const e of r.data.entries) {
    const tr = document.createElement("tr");
    tr.dataset.section = e.section; tr.dataset.action = e.action;
    cell(tr, TIME.format(new Date(e.at)));
    cell(tr, e.user);
    cell(tr, (t("sec_" + e.section) !== "sec_" + e.section ? t("sec_" + e.section) : e.section) + " " + e.key);
    cell(tr, t("act_" + e.action) !== "act_" + e.action ? t("act_" + e.action) : e.action);
    cell(tr, summary(e.before));
    cell(tr, summary(e.after));
    tb.appendChild(tr);
  }
  box.appendChild(tb);
}

async function main() {
  const me = await api("GET", "/api/me");
  if (!me.ok) return;
  CSRF = me.data.csrf_token;
  $("who").textContent = me.data.display_name;
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showSection(b.dataset.section));
  $("logout").addEventListener("click", async () => { await api("POST", "/logout"); location.href = "/login"; });
  await showSection("agents");
}
main();
