// The supervisor's console: the board arrives over SSE (`snapshot` events); times tick here between pushes.
"use strict";
const W = (key) => (CONFIG.words[key] !== undefined ? CONFIG.words[key] : key);
const LANG = document.documentElement.lang;
const csrf = document.querySelector("meta[name=csrf-token]").content;
const STATES = ["ready", "reserved", "on_call", "wrap_up", "not_ready", "logged_out"];
let board = null, serverAt = 0, clientAt = 0, dialogAgent = null;

for (const el of document.querySelectorAll("[data-w]")) el.textContent = W(el.dataset.w);
for (const r of CONFIG.reasons) document.getElementById("d-reason").add(new Option(W("r_" + r), r));

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
function serverNow() { return serverAt + (Date.now() - clientAt); }
function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${two(m)}:${two(s % 60)}`;
}
function ticking(since, cls) {
  return since ? el("span", {class: "tick " + (cls || ""), "data-since": since}, duration(serverNow() - Date.parse(since)))
               : W("none");
}
function localTime(iso) {
  return new Intl.DateTimeFormat(LANG, {timeZone: board.timezone, hour: "2-digit", minute: "2-digit", second: "2-digit",
                                        hourCycle: "h23"}).format(new Date(iso));
}
function stateName(a) { return W("s_" + a.state); }
function queueLabel(name) { return CONFIG.queues[name] || name; }

function tiles() {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const a of board.agents) counts[a.state] = (counts[a.state] || 0) + 1;
  const waiting = board.queues.flatMap((q) => q.waiting);
  const oldest = waiting.map((c) => c.since).filter(Boolean).sort()[0];
  const rostered = board.agents.filter((a) => a.adherent !== null);
  const tile = (cls, value, key) => el("div", {class: "tile " + cls}, el("div", {class: "v"}, value), el("div", {class: "k"}, key));
  document.getElementById("tiles").replaceChildren(
    ...STATES.map((s) => tile(s, String(counts[s]), W("s_" + s))),
    tile("waiting", String(waiting.length), W("waiting") + (oldest ? " · " + W("longest") : "")),
    tile("adherence", rostered.length ? `${rostered.filter((a) => a.adherent).length}/${rostered.length}` : W("none"),
         W("adherence")));
  if (oldest) document.querySelector(".tile.waiting .k").append(" ", ticking(oldest, "long"));
}

function agentRow(a) {
  const reason = a.state === "not_ready" && a.reason ? el("span", {class: "reason"}, W("r_" + a.reason)) : null;
  const call = a.call ? el("span", {}, a.call.number, " · ", queueLabel(a.call.queue), " · ", ticking(a.call.since)) : W("none");
  const adh = a.adherent === null ? null : el("span", {class: "adh " + (a.adherent ? "yes" : "no")}, a.adherent ? "✓ " + W("adh_yes") : "✗ " + W("adh_no"));
  const manage = el("button", {type: "button", class: "manage"}, W("manage"));
  manage.onclick = () => openDialog(a.agent_id);
  const row = el("tr", {class: a.adherent === false ? "off-roster" : "", "data-agent": a.agent_id, "data-state": a.state},
    el("td", {}, el("div", {class: "name"}, a.name), el("div", {class: "sub"}, `${a.agent_id} · ${a.team}`)),
    el("td", {}, el("span", {class: "badge " + a.state}, stateName(a)), reason),
    el("td", {class: "in-state"}, ticking(a.since)),
    el("td", {class: "call"}, call),
    el("td", {}, ...a.queues.map((q) => el("span", {class: "chip"}, queueLabel(q)))),
    el("td", {}, `${a.calls_today} ${W("calls_unit")} · ${duration(a.talk_seconds_today * 1000)}`),
    el("td", {}, W("sch_" + a.schedule), adh),
    el("td", {}, manage));
  return row;
}

function queueCard(q) {
  const longest = q.waiting.map((c) => c.since).filter(Boolean).sort()[0];
  const head = el("h3", {}, q.label, el("span", {class: "count" + (q.waiting.length ? "" : " zero")},
                                       `${q.waiting.length} ${W("waiting")}`),
                  longest ? el("span", {class: "longest"}, W("longest") + " ", ticking(longest)) : null);
  if (!q.waiting.length) return el("div", {class: "queue", "data-queue": q.name}, head, el("div", {class: "empty"}, W("nobody_waiting")));
  const rows = q.waiting.map((c) => {
    const raise = el("button", {type: "button", class: "raise"}, "↑ " + W("raise"));
    raise.disabled = c.priority >= 9;
    raise.onclick = () => act(`/api/supervisor/calls/${encodeURIComponent(c.call_id)}/priority`, {priority: c.priority + 1});
    return el("tr", {"data-call": c.call_id, "data-priority": String(c.priority)},
      el("td", {class: "pos"}, String(c.position)), el("td", {}, c.number),
      el("td", {}, ticking(c.since, "long")), el("td", {class: "ivr"}, c.ivr || W("none")),
      el("td", {}, c.priority ? el("span", {class: "prio"}, `${W("priority")} ${c.priority}`) : null), el("td", {}, raise));
  });
  return el("div", {class: "queue", "data-queue": q.name}, head, el("table", {class: "callers"}, el("tbody", {}, ...rows)));
}

function recentItem(e) {
  const agent = board.agents.find((a) => a.agent_id === e.key);
  let what = W(e.action);
  const zh = LANG.startsWith("zh");
  if (e.action === "force_not_ready" && e.after && e.after.reason) what += zh ? `（${W("r_" + e.after.reason)}）` : ` (${W("r_" + e.after.reason)})`;
  if (e.action === "set_queues") what += (zh ? "：" : ": ") + e.after.queues.map(queueLabel).join(zh ? "、" : ", ");
  if (e.action === "set_priority") what += ` → ${e.after.priority}`;
  return el("li", {}, el("time", {}, localTime(e.at)), `${e.user} · ${what} · ${agent ? agent.name : (e.label || e.key)}`);
}

function render() {
  tiles();
  document.getElementById("agents").replaceChildren(...board.agents.map(agentRow));
  document.getElementById("queues").replaceChildren(...board.queues.map(queueCard));
  const recent = board.recent.map(recentItem);
  document.getElementById("recent").replaceChildren(...(recent.length ? recent : [el("li", {class: "empty"}, W("no_recent"))]));
  if (dialogAgent) dialogFacts();
}

function tick() {
  if (!board) return;
  document.getElementById("clock").textContent = localTime(new Date(serverNow()).toISOString());
  for (const t of document.querySelectorAll("[data-since]")) t.textContent = duration(serverNow() - Date.parse(t.dataset.since));
}

function dialogFacts() {
  const a = board.agents.find((x) => x.agent_id === dialogAgent);
  if (!a) return;
  document.getElementById("d-title").textContent = `${a.name}（${a.agent_id}）`;
  document.getElementById("d-facts").replaceChildren(el("span", {class: "badge " + a.state}, stateName(a)), " ",
    a.state === "not_ready" && a.reason ? W("r_" + a.reason) + " · " : "", W("sch_" + a.schedule),
    a.call ? ` · ${a.call.number}` : "");
  for (const b of document.querySelectorAll("#agent-dialog .spy")) b.disabled = !a.can_spy;
}

function openDialog(agentId) {
  dialogAgent = agentId;
  const a = board.agents.find((x) => x.agent_id === agentId);
  document.getElementById("d-queues").replaceChildren(...Object.entries(CONFIG.queues).map(([name, label]) => {
    const box = el("input", {type: "checkbox", value: name, checked: a.queues.includes(name)});
    return el("label", {}, box, label);
  }));
  document.getElementById("d-result").textContent = "";
  dialogFacts();
  document.getElementById("agent-dialog").showModal();
}

async function act(url, body, result) {
  const r = await fetch(url, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(body)});
  const data = await r.json().catch(() => ({}));
  const text = r.ok ? W("done") : (CONFIG.words["err_" + data.error] || W("error"));
  if (result) { result.textContent = text; result.className = "result " + (r.ok ? "ok" : "bad"); }
  else toast(text, !r.ok);
  return r.ok;
}
function toast(text, bad) {
  const t = document.getElementById("toast");
  t.textContent = text; t.className = "toast" + (bad ? " bad" : ""); t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, bad ? 5000 : 2000);
}
const agentUrl = (what) => `/api/supervisor/agents/${encodeURIComponent(dialogAgent)}/${what}`;
const result = () => document.getElementById("d-result");
document.getElementById("d-ready").onclick = () => act(agentUrl("state"), {state: "ready"}, result());
document.getElementById("d-not-ready").onclick = () =>
  act(agentUrl("state"), {state: "not_ready", reason: document.getElementById("d-reason").value}, result());
document.getElementById("d-logout").onclick = () => act(agentUrl("state"), {state: "logged_out"}, result());
document.getElementById("d-save-queues").onclick = () => act(agentUrl("queues"),
  {queues: [...document.querySelectorAll("#d-queues input:checked")].map((b) => b.value)}, result());
for (const b of document.querySelectorAll("#agent-dialog .spy")) b.onclick = () => act(agentUrl("spy"), {mode: b.dataset.mode}, result());
document.getElementById("agent-dialog").addEventListener("close", () => { dialogAgent = null; });
document.getElementById("logout").onclick = async () => {
  await fetch("/logout", {method: "POST", headers: {"X-CSRF-Token": csrf}, credentials: "same-origin"});
  location.href = "/login";
};

const source = new EventSource(CONFIG.stream_url);
source.addEventListener("snapshot", (ev) => {
  board = JSON.parse(ev.data); serverAt = Date.parse(board.now); clientAt = Date.now();
  document.getElementById("banner").hidden = true;
  render(); tick();
});
source.onerror = () => { const b = document.getElementById("banner"); b.textContent = W("reconnecting"); b.hidden = false; };
setInterval(tick, 1000);
