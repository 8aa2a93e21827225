"use strict";
// The agent desktop: state, the screen-pop pushed over SSE (no polling), call control (hold / take back /
// hang up / transfer / hand off), wrap-up (finish early, extend), the heartbeat. The ticket form and its
// per-call drafts are in desk-form.js, the ring tone and notifications in desk-alert.js.
const $ = (id) => document.getElementById(id);
let CSRF = "";
let OPTIONS = {};
let wrapTimer = null;
let holdTimer = null;
const TALKING = new Set(["reserved", "on_call"]);
// Call-control buttons: button id -> [action, the select holding its target (none: the daemon knows it)].
const CONTROLS = {hold: ["hold", null], retrieve: ["retrieve", null], hangup: ["hangup", null],
  transfer: ["transfer", "transfer-target"], handoff: ["handoff", "handoff-target"]};

async function api(method, path, body) {
  const res = await fetch(path, {method, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
    body: body === undefined ? undefined : JSON.stringify(body)});
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) { location.href = "/login?next=/desk"; }
  return {ok: res.ok, status: res.status, data};
}

function fill(select, choices, blank) {  // choices: {value: label}
  select.textContent = "";
  const entries = Object.entries(choices || {});
  if (blank) entries.unshift(["", ""]);
  for (const [v, label] of entries) {
    const o = document.createElement("option");
    o.value = v; o.textContent = label;
    select.appendChild(o);
  }
}

// -- times in the centre's zone, never UTC
function localTime(iso, withDate) {
  if (!iso) return "—";
  const opts = {timeZone: OPTIONS.timezone || undefined, hour: "2-digit", minute: "2-digit", hour12: false};
  if (withDate) Object.assign(opts, {year: "numeric", month: "2-digit", day: "2-digit"});
  return new Intl.DateTimeFormat(LANG === "zh" ? "zh-CN" : "en-GB", opts).format(new Date(iso));
}
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  return s >= 60 ? Math.floor(s / 60) + " " + t("minutes") + " " + (s % 60) + " " + t("seconds") : s + " " + t("seconds");
}

function countdown(el, seconds, done) {
  let left = Math.max(0, Math.round(seconds));
  const tick = () => { el.textContent = left; if (left === 0 && done) done(); left = Math.max(0, left - 1); };
  tick();
  return setInterval(tick, 1000);
}

function showState(s) {
  const el = $("state");
  el.textContent = t("s_" + s.state);
  el.className = "state state-" + s.state;
  el.dataset.state = s.state;
  $("state-reason").textContent = s.state === "not_ready" && s.reason ? t("r_" + s.reason) : "";
  clearInterval(wrapTimer);
  $("wrapup").hidden = s.state !== "wrap_up";
  if (s.state === "wrap_up") wrapTimer = countdown($("wrapup-left"), s.wrapup_seconds || 0);
  const pop = $("pop");
  if (s.state !== "reserved") Alerts.stop();
  if (s.state === "on_call") { $("pop-status").textContent = t("talking"); pop.classList.remove("ringing"); }
  if (!TALKING.has(s.state)) {
    pop.classList.remove("ringing");
    showHold(null);
    if (s.state !== "wrap_up") pop.hidden = true;
    Form.sendPending();  // the call has ended: a ticket saved during it goes now
  }
}

function showHold(h) {
  clearInterval(holdTimer);
  const held = !!(h && h.held);
  $("hold-banner").hidden = !held;
  $("retrieve").hidden = !held;
  $("hold").hidden = held;
  $("pop").classList.toggle("held", held);
  if (!held) return;
  $("pop-status").textContent = t("held");
  if (!h.until) { $("hold-left").textContent = t("hold_music"); return; }  // a ring-back nobody answered
  let s = Math.max(0, Math.round((new Date(h.until) - Date.now()) / 1000));
  const tick = () => { $("hold-left").textContent = t("hold_left", {s}); s = Math.max(0, s - 1); };
  tick();
  holdTimer = setInterval(tick, 1000);
}

function cell(tr, text) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }

function showHistory(h) {
  const tickets = $("pop-tickets");
  tickets.textContent = "";
  for (const tk of h.open_tickets) {
    const tr = document.createElement("tr");
    const names = OPTIONS.department_names || {};
    for (const v of [tk.number || "", (OPTIONS.ticket_states || {})[tk.state] || tk.state || "",
      tk.title || (OPTIONS.categories || {})[tk.category] || tk.category || "",
      names[tk.department] || tk.department || "—", localTime(tk.due_at, true)]) cell(tr, v);
    tickets.appendChild(tr);
  }
  if (!h.open_tickets.length) { const tr = document.createElement("tr"); cell(tr, t("none")); tickets.appendChild(tr); }
  const rows = $("pop-history");
  rows.textContent = "";
  for (const c of h.last_calls) {
    const tr = document.createElement("tr");
    tr.className = "history-row";
    const queue = (OPTIONS.queues || {})[c.queue] || c.queue || "—";
    const agent = c.agent_id ? ((OPTIONS.agents || {})[c.agent_id] || "") + " (" + c.agent_id + ")" : "—";
    for (const v of [localTime(c.ended_at, true), queue, t("o_" + c.outcome), agent]) cell(tr, v);
    rows.appendChild(tr);
  }
}

function showOffer(p) {
  const pop = $("pop");
  const same = pop.dataset.callId === p.call_id && !pop.hidden;
  pop.hidden = false;
  pop.classList.add("ringing");
  pop.dataset.callId = p.call_id;
  $("pop-status").textContent = t("ringing");
  $("pop-number").textContent = p.caller_number;
  $("pop-name").textContent = p.caller_name || t("unknown_caller");
  $("pop-queue").textContent = p.queue_label || p.queue || "—";
  $("pop-ivr").textContent = (p.ivr_words || []).join(" › ") || "—";
  $("pop-waited").textContent = duration(p.waited_seconds);
  $("pop-language").textContent = p.language ? t("lang_" + p.language) : "—";
  if (!same) $("call-result").textContent = "";
  showHistory(p.history);
  showHold(null);
  if ($("state").dataset.state === "reserved") {  // not when a held caller comes back, nor on a reconnect
    Alerts.ring(t("ring_title") + " · " + (p.queue_label || ""),
      (p.caller_name || t("unknown_caller")) + " " + p.caller_number);
  }
  // The ticket form: the same call keeps its draft; a new one starts clear, pre-filled from the queue.
  const qc = OPTIONS.queue_category || {};
  Form.open(p.call_id, {category: qc[p.queue] || qc[""] || "", content: LANG === "zh" ? "来电人反映：" : "The caller reports: "});
}

function connect() {
  const es = new EventSource("/api/desk/stream");
  let opened = false;
  es.addEventListener("open", async () => {
    $("banner-sse").hidden = true;
    if (opened) {  // back after a break: the hold may have changed meanwhile (state and offer come on the stream)
      const st = await api("GET", "/api/desk/state");
      if (st.ok) showHold(st.data.hold);
    }
    opened = true;
  });
  es.addEventListener("error", () => { $("banner-sse").hidden = false; });
  es.addEventListener("state", (ev) => showState(JSON.parse(ev.data)));
  es.addEventListener("offer", (ev) => showOffer(JSON.parse(ev.data)));
  es.addEventListener("hold", (ev) => showHold(JSON.parse(ev.data)));
  es.addEventListener("talk", () => { $("pop-status").textContent = t("talking"); $("pop").classList.remove("ringing"); });
}

async function setState(state, reason) {
  const r = await api("POST", "/api/desk/state", reason ? {state, reason} : {state});
  $("state-error").hidden = r.ok;
  if (!r.ok) $("state-error").textContent = t(r.data.error || "error");
}

async function extendWrapup() {
  const r = await api("POST", "/api/desk/wrapup", {seconds: 60});
  $("state-error").hidden = r.ok;
  if (!r.ok) $("state-error").textContent = t(r.data.error || "error");
}

async function control(action, target) {
  const r = await api("POST", "/api/desk/call", {action, target});
  $("call-result").textContent = r.ok ? t("sent") : t(r.data.error || "error");
}

async function main() {
  const me = await api("GET", "/api/me");
  if (!me.ok) return;
  CSRF = me.data.csrf_token;
  $("who").textContent = me.data.display_name + " (" + (me.data.agent_id || me.data.role) + ")";
  OPTIONS = (await api("GET", "/api/desk/options")).data;
  fill($("reason"), Object.fromEntries(OPTIONS.not_ready_reasons.map((r) => [r, t("r_" + r)])));
  fill($("transfer-target"), OPTIONS.transfer);
  fill($("handoff-target"), Object.fromEntries(Object.entries(OPTIONS.handoff).map(([n, l]) => [n, n + " " + l])));
  fill($("t-category"), OPTIONS.categories);
  fill($("t-topic"), OPTIONS.topics, true);
  fill($("t-district"), OPTIONS.districts, true);
  Form.init(api, OPTIONS.department_groups);
  $("go-ready").addEventListener("click", () => setState("ready"));
  $("go-not-ready").addEventListener("click", () => setState("not_ready", $("reason").value));
  $("wrapup-finish").addEventListener("click", () => setState("ready"));
  $("wrapup-extend").addEventListener("click", extendWrapup);
  for (const [button, [action, select]] of Object.entries(CONTROLS)) {
    $(button).addEventListener("click", () => control(action, select ? $(select).value : ""));
  }
  const talking = () => TALKING.has($("state").dataset.state);
  $("ticket-form").addEventListener("submit", (ev) => { ev.preventDefault(); Form.save(false, talking()); });
  $("t-dispatch").addEventListener("click", () => Form.save(true, talking()));
  $("logout").addEventListener("click", async () => {
    if (!Form.forget()) return;
    await api("POST", "/logout");
    location.href = "/login";
  });
  Alerts.askPermission($("alerts"));
  Alerts.heartbeat(() => api("POST", "/api/desk/heartbeat"), OPTIONS.heartbeat_seconds || 45);
  const st = await api("GET", "/api/desk/state");
  if (st.ok) { showState(st.data); showHold(st.data.hold); }
  connect();
}
main();
