// The codex-pool console: plain JS, no framework, nothing fetched from
// outside. Every call goes to /console/api/ on this origin with the session
// cookie; the admin token is sent once, to log in, and never kept here.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
};
const fmt = (n) => (n === null || n === undefined) ? "—" : Number(n).toLocaleString("en-US");

async function call(path, opts) {
  const o = Object.assign({ credentials: "same-origin", headers: {} }, opts || {});
  if (o.body !== undefined) { o.method = o.method || "POST"; o.headers["content-type"] = "application/json"; o.body = JSON.stringify(o.body); }
  const r = await fetch("api/" + path, o);
  const text = await r.text();
  let v = null; try { v = JSON.parse(text); } catch (_) { v = text; }
  if (r.status === 401 && path !== "login") { showLogin(); throw new Error("log in first"); }
  if (!r.ok) throw new Error((v && v.error && v.error.message) || ("HTTP " + r.status));
  return v;
}
const post = (path, body) => call(path, { method: "POST", body: body || {} });

function countdown(unix) {
  if (!unix) return "";
  let s = Math.max(0, unix - Date.now() / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60);
  return "resets in " + (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m";
}

function bar(label, w) {
  if (!w) return el("div", { class: "bar" }, el("div", { class: "label" }, el("span", {}, label), el("span", {}, "not known yet")));
  const pct = Math.max(0, Math.min(100, w.used_percent));
  const fill = el("div", { class: "fill" + (pct >= 100 ? " full" : pct >= 80 ? " high" : "") });
  fill.style.width = pct + "%";
  return el("div", { class: "bar" },
    el("div", { class: "label" }, el("span", {}, label + ": " + pct.toFixed(0) + "% used"), el("span", {}, countdown(w.resets_at))),
    el("div", { class: "track" }, fill));
}

// ---------------------------------------------------------------- session
function showLogin() {
  $("login").hidden = false; $("tabs").hidden = true;
  for (const v of document.querySelectorAll(".view")) v.hidden = true;
}

async function start() {
  const s = await call("session");
  if (!s.authenticated) { showLogin(); return; }
  $("login").hidden = true; $("tabs").hidden = false; $("logout").hidden = s.open;
  show(location.hash.slice(1) || "pool");
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  const token = $("token").value; $("token").value = "";
  try { await post("login", { token }); await start(); } catch (e) { $("login-error").textContent = e.message; }
});
$("logout").addEventListener("click", async () => { await post("logout"); showLogin(); });

// ---------------------------------------------------------------- views
let timer = null;
const views = { pool: loadPool, keys: loadKeys, usage: loadUsage, activity: loadActivity, accounts: loadAccounts };
function show(name) {
  if (!views[name]) name = "pool";
  for (const b of document.querySelectorAll("nav button[data-view]")) b.classList.toggle("on", b.dataset.view === name);
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== name;
  history.replaceState(null, "", "#" + name);
  clearInterval(timer);
  const load = () => views[name]().catch((e) => console.warn(e.message));
  load();
  timer = setInterval(load, name === "activity" ? 2000 : 5000);
}
for (const b of document.querySelectorAll("nav button[data-view]")) b.addEventListener("click", () => show(b.dataset.view));

function sum(rows, f) { return rows.reduce((a, r) => a + (r[f] || 0), 0); }

async function loadPool() {
  const [acc, hour, week] = await Promise.all([
    call("admin/accounts"), call("admin/usage?since=1h&by="), call("admin/usage?since=7d&by=account,hour"),
  ]);
  const h = hour.rows;
  const cards = [
    ["Requests, last hour", fmt(sum(h, "requests"))], ["Errors, last hour", fmt(sum(h, "errors"))],
    ["Failovers, last hour", fmt(sum(h, "failovers"))], ["Weekly capacity", forecast(acc.accounts, week.rows)],
  ];
  $("pool-summary").replaceChildren(...cards.map(([l, n]) => el("div", { class: "card" }, el("div", { class: "n" }, n), el("div", { class: "l" }, l))));
  $("pool-accounts").replaceChildren(...acc.accounts.map((a) => {
    const q = a.quota || {};
    const why = a.state === "cooling" && a.cooling_until ? "cooling until " + a.cooling_until + (a.reason ? " (" + a.reason + ")" : "")
      : a.reason || (a.unsaved ? "refreshed login not saved to its file" : "");
    return el("div", { class: "account", "data-account": a.name },
      el("div", { class: "head" }, el("span", { class: "name" }, a.name), el("span", { class: "state " + a.state }, a.state)),
      el("div", { class: "why" }, [a.plan ? "plan " + a.plan : "plan unknown", a.email || "", why].filter(Boolean).join(" · ")),
      bar("5-hour window", q.primary), bar("Weekly window", q.secondary),
      q.credits !== undefined ? el("div", { class: "why" }, "credits: " + JSON.stringify(q.credits)) : null);
  }));
}

// At the last 24 hours' token rate, when the pool's weekly windows run out:
// each account's tokens per weekly percent (tokens since its window began
// over the percent used) turns the percent left into tokens left.
function forecast(accounts, rows) {
  const now = Date.now() / 1000;
  let left = 0, rate = 0;
  for (const a of accounts) {
    const w = a.quota && a.quota.secondary;
    if (!w || !w.used_percent || !w.resets_at || !w.window_minutes) continue;
    const begun = w.resets_at - w.window_minutes * 60;
    const mine = rows.filter((r) => r.account === a.name);
    const since = mine.filter((r) => Date.parse(r.hour) / 1000 >= begun);
    const last24 = mine.filter((r) => Date.parse(r.hour) / 1000 >= now - 86400);
    const tokens = sum(since, "input") + sum(since, "output");
    if (!tokens) continue;
    left += (100 - w.used_percent) * tokens / w.used_percent;
    rate += (sum(last24, "input") + sum(last24, "output")) / 24;
  }
  if (!rate) return "no recent use";
  const hours = left / rate;
  return hours > 24 * 14 ? "lasts > 2 weeks" : "runs out in " + (hours >= 48 ? (hours / 24).toFixed(1) + " days" : hours.toFixed(0) + " h");
}

async function loadKeys() {
  const v = await call("keys");
  $("keys-table").tBodies[0].replaceChildren(...v.keys.map((k) => el("tr", { "data-key": k.name },
    el("td", {}, k.name),
    el("td", {}, fmt(k.requests_this_hour)),
    el("td", {}, fmt(k.requests_today)),
    el("td", {}, fmt(k.tokens_this_hour) + (k.tokens_per_hour ? " / " + fmt(k.tokens_per_hour) : "")),
    el("td", {}, fmt(k.tokens_today) + (k.tokens_per_day ? " / " + fmt(k.tokens_per_day) : "")),
    el("td", { class: "muted" }, [k.accounts ? "accounts: " + k.accounts.join(", ") : "", k.models ? "models: " + k.models.join(", ") : "", k.requests_per_minute ? k.requests_per_minute + " rpm" : ""].filter(Boolean).join("; ") || "all"),
    el("td", { class: "muted" }, k.last_used || "—"),
    el("td", {}, v.writable ? el("button", { onclick: () => revoke(k.name) }, "Revoke") : ""))));
  $("key-form").hidden = !v.writable;
}
async function revoke(name) {
  if (!confirm("Revoke the key " + name + "? Clients using it are refused at once.")) return;
  try { await post("keys/" + encodeURIComponent(name) + "/revoke"); await loadKeys(); } catch (e) { $("keys-error").textContent = e.message; }
}
$("key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); $("keys-error").textContent = "";
  try {
    const v = await post("keys", { name: $("key-name").value.trim() });
    $("key-name").value = "";
    $("key-secret-name").textContent = v.name; $("key-secret-value").textContent = v.key; $("key-secret").hidden = false;
    await loadKeys();
  } catch (e) { $("keys-error").textContent = e.message; }
});
$("key-secret-close").addEventListener("click", () => { $("key-secret-value").textContent = ""; $("key-secret").hidden = true; });

const COLORS = ["#2f6fde", "#e07b24", "#2c8a4b", "#9b4dca", "#c8372d", "#1a9fa8", "#b38b00", "#6b7385"];
async function loadUsage() {
  const by = $("usage-by").value;
  $("usage-col").textContent = by === "key" ? "Key" : "Model";
  const v = await call("admin/usage?since=30d&by=day," + by);
  const rows = v.rows;
  $("usage-table").tBodies[0].replaceChildren(...rows.slice().reverse().map((r) => el("tr", { "data-usage": r.day + "/" + r[by] },
    el("td", {}, r.day), el("td", {}, r[by]), el("td", {}, fmt(r.requests)), el("td", {}, fmt(r.errors)),
    el("td", {}, fmt(r.input)), el("td", {}, fmt(r.cached)), el("td", {}, fmt(r.output)), el("td", {}, fmt(r.reasoning)))));
  $("usage-chart").replaceChildren(chart(rows, by));
}
$("usage-by").addEventListener("change", () => loadUsage());

// Stacked bars of tokens (input + output) per day, one colour per key or model.
function chart(rows, by) {
  const NS = "http://www.w3.org/2000/svg";
  const days = [];
  for (let i = 29; i >= 0; i--) days.push(new Date(Date.now() - i * 86400000).toISOString().slice(0, 10));
  const names = [...new Set(rows.map((r) => r[by]))];
  const total = (d) => sum(rows.filter((r) => r.day === d), "input") + sum(rows.filter((r) => r.day === d), "output");
  const max = Math.max(1, ...days.map(total));
  const W = 900, H = 220, bw = W / days.length;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + (H + 20)); svg.setAttribute("width", "100%"); svg.setAttribute("role", "img");
  days.forEach((d, i) => {
    let y = H;
    for (const r of rows.filter((r) => r.day === d)) {
      const hgt = ((r.input + r.output) / max) * (H - 10);
      const rect = document.createElementNS(NS, "rect");
      rect.setAttribute("x", i * bw + 2); rect.setAttribute("y", y - hgt); rect.setAttribute("width", bw - 4); rect.setAttribute("height", hgt);
      rect.setAttribute("fill", COLORS[names.indexOf(r[by]) % COLORS.length]);
      const t = document.createElementNS(NS, "title"); t.textContent = d + " " + r[by] + ": " + fmt(r.input + r.output) + " tokens";
      rect.append(t); svg.append(rect); y -= hgt;
    }
    if (i % 5 === 0) { const t = document.createElementNS(NS, "text"); t.setAttribute("x", i * bw + 2); t.setAttribute("y", H + 15); t.setAttribute("font-size", "11"); t.setAttribute("fill", "#6b7385"); t.textContent = d.slice(5); svg.append(t); }
  });
  const legend = el("div", { class: "legend" }, names.map((n, i) => { const sw = el("i"); sw.style.background = COLORS[i % COLORS.length]; return el("span", {}, sw, n); }));
  return el("div", {}, svg, legend);
}

async function loadActivity() {
  const v = await call("recent?limit=200");
  const fk = $("f-key").value.trim(), fa = $("f-account").value.trim(), fs = $("f-status").value.trim();
  const rows = v.records.filter((r) => (!fk || (r.key || "").includes(fk)) && (!fa || (r.account || "").includes(fa)) && (!fs || String(r.status).startsWith(fs)));
  $("activity-table").tBodies[0].replaceChildren(...rows.map((r) => el("tr", { "data-request": r.request_id },
    el("td", {}, r.time.slice(11, 19)), el("td", {}, r.route), el("td", {}, r.key || "—"), el("td", {}, r.account || "—"),
    el("td", {}, r.model_served || r.model || "—"), el("td", {}, r.status), el("td", {}, r.code),
    el("td", {}, r.latency_ms + " ms"), el("td", {}, r.ttfb_ms === null ? "—" : r.ttfb_ms + " ms"),
    el("td", {}, fmt(r.input_tokens) + " / " + fmt(r.output_tokens)), el("td", {}, r.failovers))));
}
for (const id of ["f-key", "f-account", "f-status"]) $(id).addEventListener("input", () => loadActivity());

async function loadAccounts() {
  const [v, l] = await Promise.all([call("admin/accounts"), call("logins")]);
  $("accounts-table").tBodies[0].replaceChildren(...v.accounts.map((a) => el("tr", { "data-account": a.name },
    el("td", {}, a.name), el("td", {}, a.email || "—"), el("td", {}, a.plan || "—"),
    el("td", {}, el("span", { class: "state " + a.state }, a.state)), el("td", {}, fmt(a.requests)),
    el("td", {}, ...["disable", "enable", "refresh"].map((act) => el("button", { onclick: () => act_on(a.name, act) }, act))))));
  $("device-state").replaceChildren(...Object.entries(l.logins).map(([name, s]) => el("div", { class: "device", "data-login": name, "data-state": s.state },
    el("b", {}, name + ": "),
    s.state === "waiting" ? el("span", {}, "open ", el("a", { href: s.url, target: "_blank", rel: "noopener noreferrer" }, s.url), " and enter ", el("span", { class: "code" }, s.code))
      : s.state === "done" ? el("span", {}, "logged in; the account is in the pool")
      : s.state === "failed" ? el("span", { class: "error" }, s.error) : el("span", {}, "asking for a code…"))));
}
async function act_on(name, action) {
  $("accounts-error").textContent = "";
  try { await post("admin/accounts/" + encodeURIComponent(name) + "/" + action); await loadAccounts(); } catch (e) { $("accounts-error").textContent = e.message; }
}
$("device-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); $("accounts-error").textContent = "";
  try { await post("accounts/login", { name: $("device-name").value.trim() }); await loadAccounts(); } catch (e) { $("accounts-error").textContent = e.message; }
});
$("import-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); $("accounts-error").textContent = "";
  const f = $("import-file").files[0];
  if (!f) return;
  try { await post("accounts/import", { name: $("import-name").value.trim(), auth_json: await f.text() }); $("import-form").reset(); await loadAccounts(); }
  catch (e) { $("accounts-error").textContent = e.message; }
});

start().catch((e) => console.warn(e.message));
