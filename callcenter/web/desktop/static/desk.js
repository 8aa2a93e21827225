"use strict";
// The agent desktop: state, the screen-pop pushed over SSE (no polling), the ticket form, call control.
const $ = (id) => document.getElementById(id);
let CSRF = "";
let OPTIONS = {};
let wrapTimer = null;
let pendingTicket = null;  // the form, saved as soon as the call has ended (the ticket links the call record)
let ticketNumber = "";  // created, not yet dispatched (a failed dispatch is retried without a second ticket)
const TALKING = new Set(["reserved", "on_call"]);
// Call-control buttons: button id -> [action, the select holding its target (none for hold)].
const CONTROLS = {hold: ["hold", null], transfer: ["transfer", "transfer-target"],
  handoff: ["handoff", "handoff-target"]};

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

function showState(s) {
  const el = $("state");
  el.textContent = t("s_" + s.state);
  el.className = "state state-" + s.state;
  el.dataset.state = s.state;
  $("state-reason").textContent = s.state === "not_ready" && s.reason ? t("r_" + s.reason) : "";
  clearInterval(wrapTimer);
  $("wrapup").hidden = true;
  if (s.state === "wrap_up" && s.wrapup_seconds) {
    let left = s.wrapup_seconds;
    $("wrapup-left").textContent = left;
    $("wrapup").hidden = false;
    wrapTimer = setInterval(() => { left = Math.max(0, left - 1); $("wrapup-left").textContent = left; }, 1000);
  }
  const pop = $("pop");
  if (s.state === "on_call") { $("pop-status").textContent = t("talking"); pop.classList.remove("ringing"); }
  if (s.state === "ready" || s.state === "not_ready" || s.state === "logged_out") {
    pop.classList.remove("ringing");
    if (!$("ticket").dataset.callId) pop.hidden = true;
  }
  if (!TALKING.has(s.state) && pendingTicket) { const body = pendingTicket; pendingTicket = null; submitTicket(body); }
}

function showOffer(p) {
  $("pop").hidden = false;
  $("pop").classList.add("ringing");
  $("pop").dataset.callId = p.call_id;
  $("pop-status").textContent = t("ringing");
  $("pop-number").textContent = p.caller_number;
  $("pop-name").textContent = p.caller_name || "—";
  $("pop-queue").textContent = p.queue_label || p.queue || "—";
  $("pop-ivr").textContent = p.ivr_choices.map((c) => c.menu + ":" + c.digits).join(" › ") || p.ivr_path || "—";
  $("pop-waited").textContent = Math.round(p.waited_seconds) + " " + t("seconds");
  $("pop-language").textContent = p.language || "—";
  const tickets = $("pop-tickets");
  tickets.textContent = "";
  for (const tk of p.history.open_tickets) {
    const li = document.createElement("li");
    li.textContent = [tk.number || tk.id || "", tk.state || "", tk.topic || tk.title || ""].join(" ");
    tickets.appendChild(li);
  }
  if (!p.history.open_tickets.length) tickets.innerHTML = "<li class='muted'>" + t("none") + "</li>";
  const rows = $("pop-history");
  rows.textContent = "";
  for (const c of p.history.last_calls) {
    const tr = document.createElement("tr");
    tr.className = "history-row";
    for (const v of [(c.ended_at || "").replace("T", " ").slice(0, 16), c.queue || "", c.outcome || "", c.agent_id || ""]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    rows.appendChild(tr);
  }
  // The ticket form, pre-filled from what the IVR and the queue tell.
  $("ticket").hidden = false;
  $("ticket").dataset.callId = p.call_id;
  $("t-call").value = p.call_id;
  const qc = OPTIONS.queue_category || {};
  $("t-category").value = qc[p.queue] || qc[""] || "";
  $("t-topic").value = "";
  $("t-content").value = (LANG === "zh" ? "来电人反映：" : "The caller reports: ");
  $("ticket-result").textContent = "";
  pendingTicket = null;
  ticketNumber = "";
}

function connect() {
  const es = new EventSource("/api/desk/stream");
  es.addEventListener("open", () => { $("banner-sse").hidden = true; });
  es.addEventListener("error", () => { $("banner-sse").hidden = false; });
  es.addEventListener("state", (ev) => showState(JSON.parse(ev.data)));
  es.addEventListener("offer", (ev) => showOffer(JSON.parse(ev.data)));
}

async function setState(state, reason) {
  const r = await api("POST", "/api/desk/state", reason ? {state, reason} : {state});
  $("state-error").hidden = r.ok;
  if (!r.ok) $("state-error").textContent = r.data.detail || t("error");
}

async function control(action, target) {
  const r = await api("POST", "/api/desk/call", {action, target});
  $("call-result").textContent = r.ok ? t("sent") : t(r.data.error || "error");
}

function showResult(text, cls) {
  const out = $("ticket-result");
  out.textContent = text;
  out.className = cls;
}

function failure(r) {
  return (r.data.fields ? Object.entries(r.data.fields).map(([k, v]) => k + ": " + v).join("; ") : "")
    || r.data.detail || t("error");
}

function saveTicket(dispatch) {
  if (!$("ticket-form").reportValidity()) return;
  if (!OPTIONS.tickets_api) { showResult(t("no_tickets_api"), "error"); return; }
  const body = {call_id: $("t-call").value, channel: "phone", category: $("t-category").value,
    topic: $("t-topic").value, county: $("t-district").value, content: $("t-content").value,
    department: $("t-department").value, dispatch};
  if (TALKING.has($("state").dataset.state)) {  // the call record (and so the caller's number) comes at hang-up
    pendingTicket = body;
    showResult(t("saving_after_call"), "pending");
    return;
  }
  submitTicket(body);
}

async function submitTicket(body) {
  const {department, dispatch, ...draft} = body;
  if (!ticketNumber) {
    let r;
    for (let attempt = 0; ; attempt++) {  // the record is written a moment after the hang-up
      r = await api("POST", "/api/tickets", draft);
      const early = r.status === 422 && /no call record/.test(r.data.detail || "");
      if (!early || attempt >= 10) break;
      await new Promise((done) => setTimeout(done, 500));
    }
    if (!r.ok) { showResult(failure(r), "error"); return; }
    ticketNumber = r.data.number;
  }
  if (dispatch && department) {
    const r = await api("POST", "/api/tickets/" + encodeURIComponent(ticketNumber) + "/transition",
      {action: "dispatch", department});
    if (!r.ok) { showResult(ticketNumber + ": " + failure(r), "error"); return; }
  }
  showResult(ticketNumber + " " + (dispatch && department ? t("dispatched") : t("saved")), "saved");
  $("ticket").dataset.number = ticketNumber;
  $("ticket").dataset.callId = "";
  ticketNumber = "";
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
  fill($("t-department"), OPTIONS.departments, true);
  $("go-ready").addEventListener("click", () => setState("ready"));
  $("go-not-ready").addEventListener("click", () => setState("not_ready", $("reason").value));
  for (const [button, [action, select]] of Object.entries(CONTROLS)) {
    $(button).addEventListener("click", () => control(action, select ? $(select).value : ""));
  }
  $("ticket-form").addEventListener("submit", (ev) => { ev.preventDefault(); saveTicket(false); });
  $("t-dispatch").addEventListener("click", () => saveTicket(true));
  $("logout").addEventListener("click", async () => { await api("POST", "/logout"); location.href = "/login"; });
  const st = await api("GET", "/api/desk/state");
  if (st.ok) showState(st.data);
  connect();
}
main();
