// The tickets workspace: the workflow buttons of the detail view post to the ticket API, then reload.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("tickets-config").textContent);
  const detail = document.getElementById("detail");
  const result = document.getElementById("action-result");
  // The filters apply as soon as one changes (the search box on Enter or the button).
  const filters = document.getElementById("filters");
  for (const select of filters.querySelectorAll("select")) {
    select.addEventListener("change", () => filters.submit());
  }
  if (!detail) return;
  // The audited reveal: the reason goes to the audit log, the full number and name are shown here only.
  const reveal = document.getElementById("reveal");
  if (reveal) {
    reveal.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const shown = document.getElementById("revealed");
      const r = await fetch("/api/tickets/" + encodeURIComponent(detail.dataset.number) + "/reveal", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf },
        body: JSON.stringify({ reason: reveal.elements.reason.value }),
      });
      let data = {};
      try { data = await r.json(); } catch (e) { /* not JSON */ }
      shown.textContent = r.ok ? [data.caller_number, data.caller_name].filter(Boolean).join(" · ")
        : config.text.failed.replace("{e}", data.detail || String(r.status));
      shown.className = r.ok ? "revealed" : "revealed error";
    });
  }
  for (const form of detail.querySelectorAll("form.action")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { action: form.dataset.action, version: Number(detail.dataset.version) };
      for (const input of form.querySelectorAll("input")) {
        if (!input.value) continue;
        if (input.name === "department") {
          // The picker shows names; the API takes the department's code.
          const option = [...input.list.options].find((o) => o.value === input.value);
          body.department = option ? option.dataset.code : input.value;
        } else {
          body[input.name] = input.name === "days" ? Number(input.value) : input.value;
        }
      }
      const button = form.querySelector("button");
      button.disabled = true;
      const r = await fetch("/api/tickets/" + encodeURIComponent(detail.dataset.number) + "/transition", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf },
        body: JSON.stringify(body),
      });
      if (r.ok) {
        result.textContent = config.text.done.replace("{a}", button.textContent);
        result.className = "saved";
        window.location.reload();
        return;
      }
      let why = String(r.status);
      try { const err = await r.json(); why = err.detail || err.error || why; } catch (e) { /* not JSON */ }
      result.textContent = config.text.failed.replace("{e}", why);
      result.className = "error";
      button.disabled = false;
    });
  }
})();
