"use strict";
// The ticket form. Its draft belongs to one call and lives in localStorage under that call's id, written
// on every keystroke: the same call coming back (held caller taken back, or the hold running out) keeps
// it, a reload restores it, and a new caller gets a clear form while the unsaved draft stays listed under
// "未保存的草稿" to resume. A ticket saved during the call is marked pending in its draft and sent once
// the call has ended (its record gives the ticket the caller's number), even after a reload.
const Form = (() => {
  const PREFIX = "desk-draft:";
  const FIELDS = {category: "t-category", topic: "t-topic", county: "t-district", township: "t-township",
    address: "t-address", contact: "t-contact", content: "t-content", department: "t-department"};
  const el = (id) => document.getElementById(id);
  let callId = "";
  let prefill = {};
  let api = null;
  const inFlight = new Set();  // call ids whose ticket is being sent: never two tickets for one draft

  function key(c) { return PREFIX + c; }
  function read(c) { try { return JSON.parse(localStorage.getItem(key(c)) || "null"); } catch (e) { return null; } }
  function write(c, d) { localStorage.setItem(key(c), JSON.stringify(d)); }
  function all() {
    const out = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k && k.startsWith(PREFIX)) { const d = read(k.slice(PREFIX.length)); if (d) out.push(d); }
    }
    return out.sort((a, b) => (a.updated || 0) - (b.updated || 0));
  }

  function values() {
    const v = {};
    for (const [name, id] of Object.entries(FIELDS)) v[name] = el(id).value;
    return v;
  }
  function show(v) {
    for (const [name, id] of Object.entries(FIELDS)) el(id).value = v[name] !== undefined ? v[name] : "";
    showPicked();
  }
  function dirty(v) {
    return Object.keys(FIELDS).some((name) => (v[name] || "") !== (prefill[name] || ""));
  }

  function persist() {  // every change, at once: a closed tab or a re-offer loses nothing
    if (!callId) return;
    const old = read(callId) || {};
    const v = values();
    if (!dirty(v) && !old.pending && !old.number) { localStorage.removeItem(key(callId)); return; }
    write(callId, {...old, call_id: callId, fields: v, prefill, updated: Date.now()});
  }

  function open(id, fill) {
    if (id === callId) return;  // the same call rings again: the draft stays as it is
    callId = id;
    prefill = fill;
    const saved = read(id);
    show(saved ? saved.fields : fill);  // a new caller: nothing of the last one's district or department left
    el("t-department-search").value = "";
    filter("");
    el("t-call").value = id;
    el("ticket").hidden = false;
    el("ticket").dataset.callId = id;
    result("", "");
    el("incident-suggest").hidden = true;
    listDrafts();
  }

  function resume(d) {
    callId = "";
    open(d.call_id, d.prefill || {});
  }

  function listDrafts() {
    const box = el("drafts");
    box.textContent = "";
    const list = all().filter((d) => d.call_id !== callId && !d.pending);
    for (const d of list) {
      const li = document.createElement("li");
      const text = (d.fields.content || "").slice(0, 24);
      li.textContent = t("draft_of", {c: d.call_id}) + " " + text + " ";
      const b = document.createElement("button");
      b.type = "button"; b.className = "resume"; b.textContent = t("resume");
      b.addEventListener("click", () => resume(d));
      li.appendChild(b);
      box.appendChild(li);
    }
    el("drafts-box").hidden = list.length === 0;
  }

  // -- the department picker: grouped as the directory is, filtered as one types
  function buildPicker(groups) {
    const select = el("t-department");
    select.textContent = "";
    for (const g of groups || []) {
      const og = document.createElement("optgroup");
      og.label = g.label;
      for (const [code, name] of g.departments) {
        const o = document.createElement("option");
        o.value = code; o.textContent = name;
        og.appendChild(o);
      }
      select.appendChild(og);
    }
    el("t-department-search").addEventListener("input", (ev) => filter(ev.target.value));
    el("t-department-search").addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      const first = [...select.options].find((o) => !o.hidden);
      if (first) { select.value = first.value; showPicked(); persist(); }
    });
    select.addEventListener("change", showPicked);
  }
  function filter(text) {
    const q = text.trim().toLowerCase();
    for (const og of el("t-department").querySelectorAll("optgroup")) {
      let shown = 0;
      for (const o of og.children) {
        o.hidden = q !== "" && !o.textContent.toLowerCase().includes(q) && o.value.toLowerCase() !== q;
        if (!o.hidden) shown += 1;
      }
      og.hidden = shown === 0;
    }
  }
  function showPicked() {
    const o = el("t-department").selectedOptions[0];
    el("t-department-picked").textContent = o ? o.parentNode.label + " · " + o.textContent : "—";
  }

  function result(text, cls) {
    const out = el("ticket-result");
    out.textContent = text;
    out.className = cls;
  }

  // -- saving: now, or (during the call) as soon as the call has ended
  function save(dispatch, talking) {
    if (!el("ticket-form").reportValidity() || !callId) return;
    if (!OPTIONS.tickets_api) { result(t("no_tickets_api"), "error"); return; }
    persist();
    const d = {...(read(callId) || {call_id: callId, prefill}), fields: values(), pending: {dispatch},
      updated: Date.now()};
    write(callId, d);
    if (talking) { result(t("saving_after_call"), "pending"); return; }
    submit(d);
  }

  function sendPending() {
    for (const d of all()) if (d.pending && !inFlight.has(d.call_id)) submit(d);
  }

  function failure(r) {
    return (r.data.fields ? Object.entries(r.data.fields).map(([k, v]) => k + ": " + v).join("; ") : "")
      || r.data.detail || t("error");
  }

  async function submit(d) {
    if (inFlight.has(d.call_id)) return;
    inFlight.add(d.call_id);
    const here = () => d.call_id === callId;
    const {department, ...fields} = d.fields;
    const dispatch = d.pending.dispatch;
    try {
      if (!d.number) {
        let r;
        for (let attempt = 0; ; attempt++) {  // the record is written a moment after the hang-up
          r = await api("POST", "/api/tickets", {call_id: d.call_id, channel: "phone", ...fields});
          const early = r.status === 422 && /no call record/.test(r.data.detail || "");
          if (!early || attempt >= 10) break;
          await new Promise((done) => setTimeout(done, 500));
        }
        if (!r.ok) { if (here()) result(failure(r), "error"); return; }
        d.number = r.data.number;
        write(d.call_id, d);
      }
      if (dispatch && department) {
        const r = await api("POST", "/api/tickets/" + encodeURIComponent(d.number) + "/transition",
          {action: "dispatch", department});
        if (!r.ok) { if (here()) result(d.number + ": " + failure(r), "error"); return; }
      }
      localStorage.removeItem(key(d.call_id));
      const text = d.number + " " + (dispatch && department ? t("dispatched") : t("saved"));
      const li = document.createElement("li");
      li.textContent = text;
      for (const none of el("saved-list").querySelectorAll(".none")) none.remove();
      el("saved-list").prepend(li);
      if (here()) { result(text, "saved"); el("ticket").dataset.number = d.number; suggest(d.number); }
      listDrafts();
    } finally {
      inFlight.delete(d.call_id);
    }
  }

  // -- 同源件: the system suggests the incident this ticket looks like; the agent links it in one click
  async function suggest(number) {
    const r = await api("GET", "/api/incidents/suggest?ticket=" + encodeURIComponent(number));
    const box = el("incident-suggest");
    box.textContent = "";
    if (!r.ok || !r.data.incidents || !r.data.incidents.length) { box.hidden = true; return; }
    const hint = document.createElement("span");
    hint.textContent = t("incident_hint");
    box.appendChild(hint);
    for (const inc of r.data.incidents) {
      const b = document.createElement("button");
      b.type = "button"; b.className = "link-incident primary"; b.dataset.incident = inc.number;
      b.textContent = t("incident_link", {n: inc.number, what: inc.what, where: inc.where ? " · " + inc.where : "",
        calls: inc.calls});
      b.addEventListener("click", async () => {
        const done = await api("POST", "/api/incidents/" + inc.number + "/tickets", {ticket: number});
        const note = document.createElement("span");
        note.className = done.ok ? "saved linked" : "error";
        note.textContent = done.ok ? t(done.data.lead ? "incident_lead" : "incident_linked", {n: inc.number})
          : failure(done);
        box.textContent = "";
        box.appendChild(note);
      });
      box.appendChild(b);
    }
    box.hidden = false;
  }

  function init(callApi, groups) {
    api = callApi;
    buildPicker(groups);
    el("ticket-form").addEventListener("input", persist);
    el("ticket-form").addEventListener("change", persist);
    listDrafts();
  }

  function forget() {  // signing out: the drafts (citizens' details) do not stay on a shared PC
    const left = all();
    if (left.length && !window.confirm(t("drafts_forget", {n: left.length}))) return false;
    for (const d of left) localStorage.removeItem(key(d.call_id));
    return true;
  }

  return {init, open, save, sendPending, persist, forget, get callId() { return callId; }};
})();
