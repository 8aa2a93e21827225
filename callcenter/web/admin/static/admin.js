"use strict";
// Admin pages: one editable row per item; the server validates with the config file's rules and
// answers {fields: {name: message}}; each message is shown under its field.
const $ = (id) => document.getElementById(id);
Object.assign(TEXTS.zh, {a_agents: "坐席", a_queues: "队列", a_shifts: "班次", a_skills: "技能", a_ivr: "语音导航",
  a_audit: "变更记录", a_note: "每次修改都按配置文件的规则校验并记录（谁、何时、修改前后）；重启后生效。",
  a_save: "保存", a_add: "新增", a_delete: "删除", a_saved: "已保存", a_editor: "打开语音导航编辑器",
  a_users: "用户", u_name: "用户名", u_role: "角色", u_state: "状态", u_sessions: "在线会话", u_enabled: "正常",
  u_disabled: "已停用", u_disable: "停用", u_enable: "启用", u_signout: "全部下线",
  u_note: "停用：拒绝登录并立即结束该用户的全部会话；全部下线：结束会话，可重新登录。立即生效并记录。",
  role_agent: "话务员", role_supervisor: "值班长", role_admin: "管理员", role_department: "承办单位",
  u_err_cannot_disable_self: "不能停用自己的账号"});
Object.assign(TEXTS.en, {a_agents: "Agents", a_queues: "Queues", a_shifts: "Shifts", a_skills: "Skills",
  a_ivr: "IVR menus", a_audit: "Audit trail", a_note: "Every edit is checked with the config file's rules and recorded (who, when, before, after); it takes effect at restart.",
  a_save: "Save", a_add: "Add", a_delete: "Delete", a_saved: "Saved", a_editor: "Open the IVR editor",
  a_users: "Users", u_name: "User", u_role: "Role", u_state: "State", u_sessions: "Open sessions", u_enabled: "Enabled",
  u_disabled: "Disabled", u_disable: "Disable", u_enable: "Enable", u_signout: "Sign out everywhere",
  u_note: "Disable: sign-ins refused and every session of the user ended now. Sign out everywhere: sessions ended, the user may sign in again. Takes effect at once and is recorded.",
  role_agent: "Agent", role_supervisor: "Supervisor", role_admin: "Administrator", role_department: "Department",
  u_err_cannot_disable_self: "You cannot disable your own user"});
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

function cell(tr, text) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); return td; }

// Users: disable / enable / sign out everywhere (server-side sessions; callcenter/web/users_api.py).
async function showUsers(box) {
  const note = document.createElement("p"); note.className = "muted"; note.textContent = t("u_note"); box.appendChild(note);
  const r = await api("GET", "/api/admin/users");
  const table = document.createElement("table");
  table.className = "items"; table.id = "items-users";
  const head = document.createElement("tr");
  for (const k of ["u_name", "u_role", "u_state", "u_sessions", ""]) { const th = document.createElement("th"); th.textContent = k ? t(k) : ""; head.appendChild(th); }
  table.appendChild(head);
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
    table.appendChild(tr);
  }
  box.appendChild(table);
}

async function showSection(section) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.section === section);
  const box = $("content");
  box.textContent = "";
  if (section === "users") return showUsers(box);
  if (section === "skills" || section === "ivr" || section === "audit") {
    const r = await api("GET", "/api/admin/" + section);
    if (section === "ivr" && r.data.editor) {
      const a = document.createElement("a"); a.href = r.data.editor; a.textContent = t("a_editor"); box.appendChild(a);
    }
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(section === "skills" ? r.data.skills : section === "ivr" ? r.data.ivr : r.data.entries, null, 2);
    box.appendChild(pre);
    return;
  }
  const r = await api("GET", "/api/admin/" + section);
  const table = document.createElement("table");
  table.className = "items";
  table.id = "items-" + section;
  const head = document.createElement("tr");
  for (const col of COLUMNS[section].concat([""])) { const th = document.createElement("th"); th.textContent = col; head.appendChild(th); }
  table.appendChild(head);
  for (const item of r.data.items) table.appendChild(row(section, r.data.key, item, false));
  box.appendChild(table);
  const add = document.createElement("button");
  add.textContent = t("a_add");
  add.addEventListener("click", () => table.appendChild(row(section, r.data.key, {}, true)));
  box.appendChild(add);
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
