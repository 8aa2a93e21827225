"use strict";
// The IVR editor: the menu YAML in CodeMirror 6 (vendor/codemirror.js), checked by the server as one types
// (POST /api/ivr/validate, debounced by CodeMirror's linter) with each problem at its line; the menu drawn
// beside it by the same renderer as `callcenter ivr render`; each prompt text spoken by the PBX's own
// synthesis (试听); a diff before saving or rolling back.
const $ = (id) => document.getElementById(id);
Object.assign(TEXTS.zh, {v_admin: "管理", v_title: "语音导航编辑器", v_save: "保存为新版本", v_graph: "菜单图",
  v_fit: "适应", v_problems: "问题", v_prompts: "提示语", v_history: "版本历史", v_version: "版本", v_author: "作者",
  v_time: "时间", v_note: "说明", v_cancel: "取消", v_dirty: "有未保存的修改", v_checking: "检查中…",
  v_ok: "检查通过", v_errors: "个错误", v_warnings: "个提醒", v_line: "第 {n} 行", v_no_problems: "没有问题",
  v_listen: "试听", v_playing: "正在播放：{node}", v_goto: "定位", v_speaking: "正在合成语音…", v_serving: "当前版本",
  v_rollback: "回滚到此版本", v_view: "查看改动", v_confirm_save: "确认保存", v_confirm_rollback: "确认回滚",
  v_diff_save: "保存前核对：与当前版本 v{n} 的差异", v_diff_rollback: "回滚到 v{to}：与当前版本 v{n} 的差异",
  v_diff_view: "v{n} 相对 v{m} 的改动", v_close: "关闭", v_same: "与当前版本相同，无需保存",
  v_fix_first: "请先修正 {n} 个错误再保存", v_saved: "已保存为版本 v{n}，新来电即按此版本", v_rolled: "已回滚，当前为版本 v{n}",
  v_refused: "未保存：菜单有问题，当前版本继续使用", v_stale: "菜单有错误，图为上次能加载的版本",
  v_engine_dot: "graphviz 绘制", v_engine_builtin: "内置布局", v_from_config: "来自配置文件",
  v_config: "配置文件", v_rollback_to: "回滚到 v{n}", v_lang_zh: "中文", v_lang_en: "英文", v_survey: "满意度评价",
  v_speech_failed: "语音合成失败", v_added: "新增 {a} 行，删除 {r} 行", v_error: "出错了"});
Object.assign(TEXTS.en, {v_admin: "Admin", v_title: "IVR editor", v_save: "Save as a new version", v_graph: "Menu",
  v_fit: "Fit", v_problems: "Problems", v_prompts: "Prompts", v_history: "Versions", v_version: "Version",
  v_author: "Author", v_time: "Time", v_note: "Note", v_cancel: "Cancel", v_dirty: "Unsaved changes",
  v_checking: "Checking…", v_ok: "No problems", v_errors: "errors", v_warnings: "warnings", v_line: "line {n}",
  v_no_problems: "No problems", v_listen: "Listen", v_playing: "Playing: {node}", v_goto: "Go to", v_speaking: "Speaking…", v_serving: "serving",
  v_rollback: "Roll back to this", v_view: "Changes", v_confirm_save: "Save", v_confirm_rollback: "Roll back",
  v_diff_save: "Before saving: changes against the serving v{n}", v_diff_rollback: "Roll back to v{to}: changes against the serving v{n}",
  v_diff_view: "v{n} against v{m}", v_close: "Close", v_same: "Same as the serving version: nothing to save",
  v_fix_first: "Fix {n} errors before saving", v_saved: "Saved as v{n}; new calls take it", v_rolled: "Rolled back: v{n} serves",
  v_refused: "Not saved: the menu has problems; the serving version stays", v_stale: "The menu has errors: the picture is the last one that loaded",
  v_engine_dot: "drawn by graphviz", v_engine_builtin: "built-in layout", v_from_config: "from the config file",
  v_config: "config file", v_rollback_to: "rollback to v{n}", v_lang_zh: "Chinese", v_lang_en: "English", v_survey: "survey",
  v_speech_failed: "Speech failed", v_added: "{a} lines added, {r} removed", v_error: "Error"});
translatePage();
const fill = (key, values) => t(key).replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
const DATA = JSON.parse($("page-data").textContent);
const CSRF = document.querySelector("meta[name=csrf-token]").content;
const TZ = DATA.timezone;
let serving = {number: DATA.current, text: DATA.text};
let result = {problems: [], prompts: [], nodes: {}, ok: true, loaded: true};
let zoom = 0;  // 0: fit the width (down to READABLE); else a scale factor
const READABLE = 0.6;

async function call(method, url, body) {
  const res = await fetch(url, {method, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
    body: body === undefined ? undefined : JSON.stringify(body)});
  if (res.status === 401) location.href = "/login?next=/admin/ivr";
  const type = res.headers.get("Content-Type") || "";
  const data = type.startsWith("application/json") ? await res.json() : await res.blob();
  return {ok: res.ok, status: res.status, data};
}

// --- the editor -------------------------------------------------------------------------------------------
const ZH_PHRASES = {"Find": "查找", "Replace": "替换", "next": "下一个", "previous": "上一个", "all": "全部",
  "match case": "区分大小写", "regexp": "正则", "by word": "整词", "replace": "替换", "replace all": "全部替换",
  "close": "关闭", "Go to line": "跳到行", "go": "跳转", "Diagnostics": "问题", "No diagnostics": "没有问题",
  "Folded lines": "已折叠", "Unfolded lines": "已展开", "Fold line": "折叠", "Unfold line": "展开"};

function diagnostic(doc, p) {
  const line = doc.line(Math.min(Math.max(p.line, 1), doc.lines));
  const from = Math.min(line.from + Math.max((p.column || 1) - 1, 0), line.to);
  return {from, to: Math.max(line.to, from), severity: p.severity, message: p.message};
}

async function lint(view) {
  const text = view.state.doc.toString();
  setStatus("", t("v_checking"));
  const r = await call("POST", "/api/ivr/validate", {text});
  if (!r.ok) { setStatus("bad", (r.data && r.data.detail) || t("v_error")); return []; }
  if (view.state.doc.toString() !== text) return [];  // typed on meanwhile: the next run answers
  showResult(r.data, text);
  return r.data.problems.filter((p) => p.line).map((p) => diagnostic(view.state.doc, p));
}

const view = new CM.EditorView({
  doc: DATA.text,
  parent: $("editor"),
  extensions: [
    CM.basicSetup, CM.yaml(), CM.lintGutter(), CM.linter(lint, {delay: 400}),
    CM.EditorState.tabSize.of(2), CM.EditorView.lineWrapping,
    CM.EditorState.phrases.of(LANG === "zh" ? ZH_PHRASES : {}),
    CM.EditorView.updateListener.of((u) => { if (u.docChanged) markDirty(); }),
    CM.keymap.of([{key: "Mod-s", preventDefault: true, run: () => { $("save").click(); return true; }}]),
    // The page's Content-Security-Policy admits inline styles only with the response's nonce.
    CM.EditorView.cspNonce.of(document.querySelector("meta[name=csp-nonce]").content),
  ],
});
window.ivrEditor = view;  // for the browser test and the console

function text() { return view.state.doc.toString(); }
function markDirty() { $("dirty").hidden = text() === serving.text; }
function setText(value) {
  view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: value}});
  markDirty();
}
function goTo(line) {
  const doc = view.state.doc;
  const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
  view.dispatch({selection: {anchor: l.from + (l.text.length - l.text.trimStart().length), head: l.to},
                 effects: CM.EditorView.scrollIntoView(l.from, {y: "center"})});
  view.focus();
}
function setStatus(kind, message) { const s = $("status"); s.className = "status " + kind; s.textContent = message; }

// --- what the check found ---------------------------------------------------------------------------------
function showResult(data, checked) {
  result = data;
  const errors = data.problems.filter((p) => p.severity === "error").length;
  const warns = data.problems.length - errors;
  setStatus(errors ? "bad" : "ok", errors ? `${errors} ${t("v_errors")}` + (warns ? `，${warns} ${t("v_warnings")}` : "")
    : t("v_ok") + (warns ? `（${warns} ${t("v_warnings")}）` : ""));
  $("problem-count").textContent = String(data.problems.length);
  $("problem-count").className = "count" + (errors ? " bad" : warns ? " warn" : "");
  renderProblems(data.problems);
  renderPrompts(data.prompts);
  if (data.loaded) scheduleGraph(checked); else $("graph-note").textContent = t("v_stale");
  markBadNodes();
}

function renderProblems(problems) {
  const box = $("problems");
  box.textContent = "";
  if (!problems.length) { const p = document.createElement("p"); p.className = "muted"; p.textContent = t("v_no_problems"); box.appendChild(p); return; }
  for (const p of problems) {
    const div = document.createElement("div");
    div.className = "problem " + p.severity;
    div.dataset.line = p.line || "";
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = p.line ? fill("v_line", {n: p.line}) : (p.severity === "warning" ? "⚠" : "✖");
    const msg = document.createElement("span");
    msg.className = "message";
    msg.textContent = (p.node ? p.node + "：" : "") + p.message;
    div.append(where, msg);
    div.addEventListener("click", () => { if (p.line) goTo(p.line); if (p.node) showNode(p.node); });
    box.appendChild(div);
  }
}

function renderPrompts(list) {
  const ul = $("prompt-list");
  ul.textContent = "";
  $("prompt-count").textContent = String(list.length);
  for (const p of list) {
    const li = document.createElement("li");
    li.className = "prompt";
    li.dataset.node = p.node; li.dataset.key = p.key; li.dataset.language = p.language; li.dataset.menu = p.menu;
    const head = document.createElement("div");
    head.className = "prompt-head";
    const name = document.createElement("b");
    name.textContent = (p.menu === "survey" ? t("v_survey") + " · " : "") + p.node + (p.key === "prompt" ? "" : " · " + p.key);
    const lang = document.createElement("span");
    lang.className = "badge";
    lang.textContent = t("v_lang_" + p.language) === "v_lang_" + p.language ? p.language : t("v_lang_" + p.language);
    const listen = document.createElement("button");
    listen.type = "button"; listen.className = "listen"; listen.textContent = "▶ " + t("v_listen");
    listen.addEventListener("click", () => play(p, li));
    head.append(name, lang, listen);
    if (p.line) {
      const go = document.createElement("button");
      go.type = "button"; go.className = "goto"; go.textContent = fill("v_line", {n: p.line});
      go.addEventListener("click", () => goTo(p.line));
      head.appendChild(go);
    }
    const body = document.createElement("div");
    body.className = "prompt-text";
    body.textContent = p.text;
    li.append(head, body);
    ul.appendChild(li);
  }
}

let playing = null;
async function play(p, li) {
  for (const el of document.querySelectorAll(".prompt.playing")) el.classList.remove("playing");
  li.classList.add("playing");
  setStatus("", t("v_speaking"));
  const r = await call("POST", "/api/ivr/listen", {text: p.text, language: p.language});
  if (!r.ok) { setStatus("bad", t("v_speech_failed") + "：" + ((r.data && r.data.detail) || r.status)); return; }
  if (playing) URL.revokeObjectURL(playing);
  playing = URL.createObjectURL(r.data);
  const player = $("player");
  player.src = playing;
  player.dataset.node = p.node; player.dataset.language = p.language;
  setStatus("ok", fill("v_playing", {node: p.node}));
  player.play().catch(() => {});  // a browser may refuse to start sound; the controls still work
}

// --- the graph --------------------------------------------------------------------------------------------
let drawn = null, drawTimer = null, drawing = null;
function scheduleGraph(checked) {
  if (checked === drawn) return;
  clearTimeout(drawTimer);
  drawTimer = setTimeout(() => drawGraph(checked), 300);
}

async function drawGraph(checked) {
  if (drawing === checked) return;
  drawing = checked;
  const r = await call("POST", "/api/ivr/graph", {text: checked});
  drawing = null;
  if (!r.ok) { $("graph-note").textContent = t("v_stale"); return; }
  const doc = new DOMParser().parseFromString(r.data.svg, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") return;
  // The labels are the admin's own text, escaped by the renderer; drop anything active all the same.
  for (const el of svg.querySelectorAll("script, foreignObject, a")) el.remove();
  for (const el of svg.querySelectorAll("*")) for (const a of [...el.attributes]) if (/^on/i.test(a.name)) el.removeAttribute(a.name);
  const box = $("graph");
  box.textContent = "";
  box.appendChild(document.importNode(svg, true));
  drawn = checked;
  $("graph-note").textContent = r.data.engine === "graphviz dot" ? t("v_engine_dot") : t("v_engine_builtin");
  for (const g of box.querySelectorAll("g.node")) {
    const title = g.querySelector("title");
    const name = title ? title.textContent.slice(title.textContent.indexOf(":") + 1) : "";
    g.dataset.node = name;
    g.addEventListener("click", () => { const line = result.nodes[name]; if (line) goTo(line); });
  }
  markBadNodes();
  const first = !box.dataset.shown;
  applyZoom();
  if (first) { box.dataset.shown = "1"; box.scrollTop = 0; showNode(result.start); }
}

function markBadNodes() {
  const bad = new Set(result.problems.filter((p) => p.severity === "error" && p.node).map((p) => p.node));
  for (const g of $("graph").querySelectorAll("g.node")) g.classList.toggle("bad", bad.has(g.dataset.node));
}

function applyZoom() {
  const svg = $("graph").querySelector("svg");
  if (!svg) return;
  if (!svg.dataset.w) { svg.dataset.w = svg.width.baseVal.value || 800; svg.dataset.h = svg.height.baseVal.value || 600; }
  const w = Number(svg.dataset.w), h = Number(svg.dataset.h);
  // Fit the width, but never so small that the labels cannot be read: then scroll, the start in view.
  const fit = Math.min(1, ($("graph").clientWidth - 8) / w);
  const scale = zoom || Math.max(fit, READABLE);
  svg.setAttribute("width", String(Math.round(w * scale)));
  svg.setAttribute("height", String(Math.round(h * scale)));
}

function showNode(name) {
  const box = $("graph");
  const g = [...box.querySelectorAll("g.node")].find((el) => el.dataset.node === name);
  if (!g) return;
  const at = g.getBoundingClientRect(), frame = box.getBoundingClientRect();
  box.scrollLeft += at.left + at.width / 2 - (frame.left + frame.width / 2);
  box.scrollTop += at.top + at.height / 2 - (frame.top + frame.height / 3);
}
$("zoom-in").addEventListener("click", () => { zoom = (zoom || currentScale()) * 1.25; applyZoom(); });
$("zoom-out").addEventListener("click", () => { zoom = (zoom || currentScale()) / 1.25; applyZoom(); });
$("zoom-fit").addEventListener("click", () => {  // the whole menu at once, however small
  const svg = $("graph").querySelector("svg");
  if (svg) { zoom = Math.min(1, ($("graph").clientWidth - 8) / Number(svg.dataset.w)); applyZoom(); }
});
function currentScale() { const svg = $("graph").querySelector("svg"); return svg ? svg.width.baseVal.value / Number(svg.dataset.w) : 1; }
window.addEventListener("resize", () => { if (!zoom) applyZoom(); });

// --- tabs -------------------------------------------------------------------------------------------------
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".tab")) other.classList.toggle("active", other === tab);
    for (const body of document.querySelectorAll(".tab-body")) body.hidden = body.dataset.body !== tab.dataset.tab;
  });
}

// --- diff, save, roll back --------------------------------------------------------------------------------
function renderDiff(d) {
  const table = $("diff");
  table.textContent = "";
  for (const row of d.lines) {
    const tr = document.createElement("tr");
    tr.className = row.op;
    const sign = {add: "+", del: "−", same: " ", hunk: ""}[row.op];
    for (const cell of [row.op === "hunk" ? "…" : row.old || "", row.op === "hunk" ? "" : row.new || "", sign, row.op === "hunk" ? "" : row.text]) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.appendChild(td);
    }
    table.appendChild(tr);
  }
  $("diff-stats").textContent = fill("v_added", {a: d.added, r: d.removed});
}

let onConfirm = null;
function openDialog(title, d, confirmKey, withNote, action) {
  $("diff-title").textContent = title;
  renderDiff(d);
  $("note-label").hidden = !withNote;
  $("diff-confirm").hidden = !confirmKey;
  $("diff-confirm").textContent = confirmKey ? t(confirmKey) : "";
  $("diff-cancel").textContent = confirmKey ? t("v_cancel") : t("v_close");
  onConfirm = action;
  $("diff-dialog").showModal();
}
$("diff-cancel").addEventListener("click", () => $("diff-dialog").close());
$("diff-confirm").addEventListener("click", async () => { if (onConfirm) await onConfirm(); });

$("save").addEventListener("click", async () => {
  const errors = result.problems.filter((p) => p.severity === "error").length;
  if (errors) { setStatus("bad", fill("v_fix_first", {n: errors})); return; }
  const body = text();
  const r = await call("POST", "/api/ivr/diff", {text: body});
  if (!r.ok) { setStatus("bad", r.data.detail || t("v_error")); return; }
  if (!r.data.changed) { setStatus("ok", t("v_same")); return; }
  $("note").value = "";
  openDialog(fill("v_diff_save", {n: r.data.base}), r.data, "v_confirm_save", true, async () => {
    const saved = await call("POST", "/api/ivr/versions", {text: body, note: $("note").value});
    $("diff-dialog").close();
    if (saved.status !== 201) { setStatus("bad", t("v_refused")); return; }
    serving = {number: saved.data.number, text: body};
    markDirty();
    setStatus("ok", fill("v_saved", {n: saved.data.number}));
    await loadHistory();
  });
});

async function rollback(number) {
  const old = await call("GET", "/api/ivr/versions/" + number);
  if (!old.ok) return;
  const r = await call("POST", "/api/ivr/diff", {text: old.data.text});
  openDialog(fill("v_diff_rollback", {to: number, n: serving.number}), r.data, "v_confirm_rollback", false, async () => {
    const done = await call("POST", "/api/ivr/rollback/" + number, {});
    $("diff-dialog").close();
    if (done.status !== 201) { setStatus("bad", t("v_refused")); return; }
    serving = {number: done.data.number, text: old.data.text};
    setText(old.data.text);
    setStatus("ok", fill("v_rolled", {n: done.data.number}));
    await loadHistory();
  });
}

async function viewChanges(number) {
  const [now, before] = await Promise.all([call("GET", "/api/ivr/versions/" + number),
                                           call("GET", "/api/ivr/versions/" + (number - 1))]);
  if (!now.ok || !before.ok) return;
  const r = await call("POST", "/api/ivr/diff", {text: now.data.text, base: number - 1});
  openDialog(fill("v_diff_view", {n: number, m: number - 1}), r.data, null, false, null);
}

// --- history ----------------------------------------------------------------------------------------------
const TIME = new Intl.DateTimeFormat(LANG === "zh" ? "zh-CN" : "en-GB", {timeZone: TZ, year: "numeric",
  month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false});

function noteText(note) {
  if (note === "from the config file") return t("v_from_config");
  const m = /^rollback to v(\d+)$/.exec(note);
  return m ? fill("v_rollback_to", {n: m[1]}) : note;
}

async function loadHistory() {
  const r = await call("GET", "/api/ivr");
  if (!r.ok) return;
  serving.number = r.data.current.number;
  $("serving").textContent = "v" + serving.number;
  const body = $("history").querySelector("tbody");
  body.textContent = "";
  for (const v of r.data.versions.slice().reverse()) {
    const tr = document.createElement("tr");
    tr.dataset.version = v.number;
    const cells = ["v" + v.number, v.author === "config" ? t("v_config") : v.author, TIME.format(new Date(v.at)), noteText(v.note)];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    const act = document.createElement("td");
    act.className = "actions";
    if (v.number > 1) {
      const view = document.createElement("button");
      view.type = "button"; view.className = "view"; view.textContent = t("v_view");
      view.addEventListener("click", () => viewChanges(v.number));
      act.appendChild(view);
    }
    if (v.number === serving.number) {
      tr.classList.add("serving");
      const badge = document.createElement("span"); badge.className = "badge serving"; badge.textContent = t("v_serving");
      act.appendChild(badge);
    } else {
      const back = document.createElement("button");
      back.type = "button"; back.className = "rollback"; back.dataset.rollback = v.number; back.textContent = t("v_rollback");
      back.addEventListener("click", () => rollback(v.number));
      act.appendChild(back);
    }
    tr.appendChild(act);
    body.appendChild(tr);
  }
}

// Leaving with unsaved changes: the browser asks first.
window.addEventListener("beforeunload", (e) => { if (!$("dirty").hidden) { e.preventDefault(); e.returnValue = ""; } });

async function main() {
  const me = await call("GET", "/api/me");
  if (me.ok) $("who").textContent = me.data.display_name;
  $("logout").addEventListener("click", async () => { await call("POST", "/logout"); location.href = "/login"; });
  await loadHistory();
}
main();
