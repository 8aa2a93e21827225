"use strict";
// Sign in with JSON so that errors (wrong password, rate limit) show on the page.
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = document.getElementById("login-error");
  err.hidden = true;
  const body = {
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
    csrf_token: document.getElementById("csrf").value,
  };
  const res = await fetch("/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body), credentials: "same-origin"});
  const data = await res.json().catch(() => ({}));
  if (res.ok) { location.href = data.next || "/desk"; return; }
  err.textContent = t(data.error || "error");
  err.hidden = false;
});
