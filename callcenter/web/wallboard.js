// Wallboard live script: renders the snapshot pushed over Server-Sent Events. No libraries.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("cc-config").textContent);
  const S = config.strings;
  // The display rule of metrics/kpi.py (rate_text, rate_level), its figures from the server.
  const RULE = config.rate_rule;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const AGENT_STATES = ["ready", "reserved", "on_call", "wrap_up", "not_ready", "logged_out"];

  const $ = (id) => document.getElementById(id);

  // Rates are cut, not rounded (96.96 % shows 96.9 %), so a rate under target never reads as on it.
  function percentShown(r, digits) {
    const f = Math.pow(10, digits);
    return Math.floor(r * 100 * f + 1e-6) / f;
  }
  function pctFloor(r, digits) {
    return percentShown(r, digits).toFixed(digits);
  }
  function fmtRate(r) {
    return r === null || r === undefined ? "—" : pctFloor(r, RULE.digits) + " %";
  }
  function fmtCount(n) {
    return n === null || n === undefined ? "—" : String(n);
  }
  function pad2(n) {
    return String(n).padStart(2, "0");
  }
  // 12 s under a minute, 1:05 above, 1:02:03 above an hour.
  function fmtSecs(s) {
    if (s === null || s === undefined) return "—";
    const t = Math.round(s);
    if (t < 60) return t + S.seconds_suffix;
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
    return h > 0 ? h + ":" + pad2(m) + ":" + pad2(sec) : m + ":" + pad2(sec);
  }
  // Judged on the figure shown: good at/above the target, warn at/above the national standard, else bad;
  // one rule for today, the last hour and the last 24 hours.
  function rateClass(r, target) {
    if (r === null || r === undefined) return "rate-na";
    const shown = percentShown(r, RULE.digits);
    if (shown >= target * 100 - 1e-9) return "rate-good";
    if (shown >= RULE.standard * 100 - 1e-9) return "rate-warn";
    return "rate-bad";
  }
  function setRateClass(el, cls) {
    el.classList.remove("rate-good", "rate-warn", "rate-bad", "rate-na");
    el.classList.add(cls);
  }
  // The snapshot's "now" is already in the centre's time zone: show its own HH:MM:SS.
  function clockOf(iso) {
    const m = /T(\d{2}:\d{2}:\d{2})/.exec(iso || "");
    return m ? m[1] : "--:--:--";
  }
  function text(id, value) {
    const el = $(id);
    if (el.textContent !== value) el.textContent = value;
  }

  // With short abandons excluded the rates are not the plain ones: every rate label says so.
  const RATE_LABELS = { "label-today": S.today_rate, "label-1h": S.rate_1h, "label-24h": S.rate_24h };
  function renderRateLabels(snap) {
    const n = snap.short_abandon_seconds || 0;
    const suffix = n > 0 ? S.excl_short.replace("{n}", String(n)) : "";
    for (const id in RATE_LABELS) text(id, RATE_LABELS[id] + suffix);
  }

  function renderCentre(snap) {
    const c = snap.centre, target = snap.target;
    renderRateLabels(snap);
    text("clock", clockOf(snap.now));
    text("rate-today", fmtRate(c.connection_rate));
    setRateClass($("tile-today"), rateClass(c.connection_rate, target));
    text("rate-1h", fmtRate(c.connection_rate_1h));
    setRateClass($("tile-1h"), rateClass(c.connection_rate_1h, target));
    text("rate-24h", fmtRate(c.connection_rate_24h));
    setRateClass($("tile-24h"), rateClass(c.connection_rate_24h, target));
    text("target", fmtRate(target));
    document.querySelectorAll(".target-copy").forEach((el) => { el.textContent = fmtRate(target); });
    text("offered", fmtCount(c.offered));
    text("answered", fmtCount(c.answered));
    text("abandoned", fmtCount(c.abandoned));
    text("waiting", fmtCount(c.waiting));
    $("waiting").classList.toggle("alert", c.waiting > 0);
    text("asa", fmtSecs(c.asa));
    text("answered-15s", fmtRate(c.answered_15s_rate));
    text("longest-wait-now", fmtSecs(c.longest_wait_now));
    $("longest-wait-now").classList.toggle("alert", (c.longest_wait_now || 0) > 0);
    text("longest-wait-today", fmtSecs(c.longest_wait_today));
    const cb = snap.callbacks || {};  // callbacks (预约回电): pending now, answered / given up today
    text("callbacks-pending", fmtCount(cb.pending || 0));
    $("callbacks-pending").classList.toggle("alert", (cb.pending || 0) > 0);
    text("callbacks-answered", fmtCount(cb.answered || 0));
    text("callbacks-failed", fmtCount(cb.failed || 0));
  }

  function cell(row, value, cls) {
    const td = document.createElement("td");
    td.textContent = value;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function renderQueues(snap) {
    const body = $("queue-rows");
    const rows = [];
    for (const q of snap.queues) {
      const tr = document.createElement("tr");
      tr.dataset.queue = q.name;
      cell(tr, q.label || q.name, "name");
      cell(tr, fmtCount(q.waiting), "waiting" + (q.waiting > 0 ? " waiting-some" : ""));
      cell(tr, fmtSecs(q.longest_wait_now), "longest");
      cell(tr, fmtCount(q.offered), "offered");
      cell(tr, fmtCount(q.answered), "answered");
      cell(tr, fmtRate(q.connection_rate), "rate " + rateClass(q.connection_rate, snap.target));
      rows.push(tr);
    }
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell(tr, S.no_queues);
      td.colSpan = 6;
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    fitTable();
  }

  // Many queues: shrink the table's text until every row fits its panel, rather than hide rows.
  function fitTable() {
    const box = document.querySelector(".queues .table-box");
    const vh = window.innerHeight / 100;
    let size = 2.7;
    box.style.setProperty("--table-font", size * vh + "px");
    while (box.scrollHeight > box.clientHeight + 1 && size > 1.3) {
      size -= 0.1;
      box.style.setProperty("--table-font", size * vh + "px");
    }
  }

  function renderAgents(snap) {
    for (const state of AGENT_STATES) {
      const tile = $("agent-" + state);
      tile.querySelector(".count").textContent = fmtCount(snap.agents[state]);
    }
  }

  // Today's intervals grouped by local hour (the starts are local ISO times). One interval per hour keeps
  // its own rate; several are combined weighted by offered calls, so the metrics' definition is kept.
  function byHour(intervals) {
    const hours = [];
    for (let h = 0; h < 24; h++) hours.push({ hour: h, offered: 0, answered: 0, weighted: 0, rated: 0, n: 0 });
    for (const iv of intervals) {
      const m = /T(\d{2}):/.exec(iv.start || "");
      if (!m) continue;
      const b = hours[Number(m[1])];
      b.offered += iv.offered;
      b.answered += iv.answered;
      b.n += 1;
      if (iv.connection_rate !== null && iv.connection_rate !== undefined) {
        b.weighted += iv.connection_rate * iv.offered;
        b.rated += iv.offered;
        b.single = iv.connection_rate;
      }
    }
    for (const b of hours) {
      if (b.n === 1 && b.single !== undefined) b.rate = b.single;
      else b.rate = b.rated > 0 ? b.weighted / b.rated : null;
    }
    return hours;
  }

  function svgEl(name, attrs, content) {
    const el = document.createElementNS(SVG_NS, name);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    if (content !== undefined) el.textContent = content;
    return el;
  }

  function niceMax(v) {
    if (v <= 5) return 5;
    const mag = Math.pow(10, Math.floor(Math.log10(v)));
    for (const f of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (f * mag >= v) return f * mag;
    return 10 * mag;
  }

  function renderChart(snap) {
    const svg = $("hour-chart");
    const box = svg.getBoundingClientRect();
    const W = Math.max(300, box.width), H = Math.max(120, box.height);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    const font = Math.max(12, Math.min(H * 0.1, W * 0.011));
    const left = font * 3, right = 8, top = font * 1.5, bottom = font * 1.5;
    const plotW = W - left - right, plotH = H - top - bottom;
    const hours = byHour(snap.intervals);
    const maxOffered = Math.max(0, ...hours.map((b) => b.offered));
    const yMax = niceMax(maxOffered);
    const y = (v) => top + plotH - (v / yMax) * plotH;
    const nodes = [];
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4, yy = y(v);
      nodes.push(svgEl("line", { x1: left, x2: W - right, y1: yy, y2: yy, class: "grid" }));
      nodes.push(svgEl("text", { x: left - font * 0.4, y: yy + font * 0.35, "text-anchor": "end",
        "font-size": font, class: "axis" }, String(Math.round(v))));
    }
    const slot = plotW / 24, barW = slot * 0.36;
    for (const b of hours) {
      const x0 = left + b.hour * slot + slot * 0.12;
      if (b.offered > 0) {
        nodes.push(svgEl("rect", { x: x0, y: y(b.offered), width: barW, height: y(0) - y(b.offered),
          class: "bar-offered", "data-hour": b.hour }));
        nodes.push(svgEl("rect", { x: x0 + barW, y: y(b.answered), width: barW,
          height: y(0) - y(b.answered), class: "bar-answered" }));
        nodes.push(svgEl("text", { x: x0 + barW, y: y(b.offered) - font * 0.3, "text-anchor": "middle",
          "font-size": font * 0.9, "font-weight": 700, class: rateClass(b.rate, snap.target) },
          b.rate === null ? "" : pctFloor(b.rate, 0) + "%"));
      }
      nodes.push(svgEl("text", { x: x0 + barW, y: H - font * 0.35, "text-anchor": "middle",
        "font-size": font, class: "axis" }, pad2(b.hour)));
    }
    if (maxOffered === 0) {
      nodes.push(svgEl("text", { x: left + plotW / 2, y: top + plotH / 2, "text-anchor": "middle",
        "font-size": font * 1.4, class: "empty-note" }, S.no_calls_yet));
    }
    svg.replaceChildren(...nodes);
  }

  // Incident candidates (incidents/): a pulsing banner that links to the supervisor's incidents page.
  function renderIncidents(snap) {
    const list = snap.incidents || [], zh = document.documentElement.lang !== "en";
    const el = $("banner-incident");
    el.hidden = !list.length;
    el.textContent = list.map((i) => {
      const c = i.candidate, where = c.where || "*", what = c.what || "*", t = (c.since || "").slice(11, 16);
      return zh ? `${i.state === "candidate" ? "疑似突发" : "突发事件"}：${where} ${what}，${t}起 ${c.calls} 通`
                : `${i.state === "candidate" ? "Surge?" : "Incident"}: ${what} at ${where}, ${c.calls} calls since ${t}`;
    }).join("　·　");
  }

  // Operations (callcenter/ha/health.py): dependencies down, and a takeover by the standby (local time).
  const fill = (tpl, values) => tpl.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  function renderOps(snap) {
    const ops = snap.ops || {down: [], takeover: null};
    const names = (ops.down || []).flatMap((d) => {
      if (d === "database") return [S.dep_database];
      if (d === "broker") return [S.dep_broker];
      const pbx = d.slice(4);  // "ami:<pbx>"; the single PBX is the AMI banner's already
      return pbx === "default" ? [] : [fill(S.dep_ami, {pbx})];
    });
    const down = $("banner-ops-down");
    down.hidden = !names.length;
    down.textContent = names.length ? fill(S.ops_down, {list: names.join(document.documentElement.lang === "en" ? ", " : "、")}) : "";
    const t = ops.takeover, el = $("banner-takeover");
    el.hidden = !t;
    el.textContent = t ? fill(S.ops_takeover, t) : "";
  }

  let last = null;
  function render(snap) {
    last = snap;
    document.body.dataset.now = snap.now || ""; // which snapshot is shown (tests wait for a recent one)
    $("banner-ami").hidden = snap.ami_connected !== false;
    const risk = snap.centre.next_hour_rate;  // staffing: the next hour's expected rate, absent without a forecast
    $("banner-risk").hidden = !(typeof risk === "number" && risk < snap.target - 1e-9);
    text("risk-rate", fmtRate(risk));
    renderCentre(snap);
    renderQueues(snap);
    renderAgents(snap);
    renderChart(snap);
    renderIncidents(snap);
    renderOps(snap);
  }
  // Banners and window changes resize the panels: refit the table and redraw the chart to the new size.
  const resized = new ResizeObserver(() => {
    if (last) {
      fitTable();
      renderChart(last);
    }
  });
  resized.observe(document.querySelector(".queues .table-box"));
  resized.observe($("hour-chart"));

  // EventSource reconnects by itself (the server sends retry:); we only show that it is doing so.
  function connect() {
    const es = new EventSource(config.stream_url);
    es.addEventListener("snapshot", (ev) => {
      $("banner-sse").hidden = true;
      render(JSON.parse(ev.data));
    });
    es.addEventListener("open", () => { $("banner-sse").hidden = true; });
    es.addEventListener("error", () => {
      $("banner-sse").hidden = false;
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000); // the browser gave up: retry
    });
  }
  connect();
})();
