// Gateway Zero web console: a client of the admin API, nothing more. No framework, no
// build step; every user-written string is put into the page as text (textContent), never
// parsed as HTML. The credential lives in sessionStorage (this tab only, gone when it
// closes); a 401 or 403 from the API sends the user back to sign in.
"use strict";

const KEY = "gateway-zero-console";
let credential = sessionStorage.getItem(KEY);
let timer = null;

// ------------------------------------------------------------------ DOM helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (sel) => document.querySelector(sel);
const page = () => $("#page");
const fmt = new Intl.NumberFormat("en-US");
const num = (n) => (n === null || n === undefined ? "—" : fmt.format(n));
const usd = (n) => (n === null || n === undefined ? "—" : "$" + Number(n).toFixed(n >= 100 ? 2 : 4));
const ms = (n) => (n === null || n === undefined ? "—" : Number(n).toFixed(n < 10 ? 2 : 0) + " ms");
const when = (s) => (s ? new Date(s).toLocaleString() : "—");

function toast(text) {
  const t = $("#toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 3000);
}

function pill(text, kind) {
  return h("span", { class: "pill " + (kind || "") }, text);
}

function bar(used, limit) {
  if (limit === null || limit === undefined || limit <= 0) return h("span", { class: "muted" }, "no limit");
  const share = Math.min(1, used / limit);
  const kind = share >= 0.95 ? "bad" : share >= 0.75 ? "warn" : "";
  const fill = h("span");
  fill.style.width = (share * 100).toFixed(1) + "%";
  return h("div", {}, h("div", { class: "bar " + kind }, fill), h("div", { class: "muted" }, `${Math.round(share * 100)} %`));
}

// ------------------------------------------------------------------ API

class Unauthorized extends Error {}

async function api(method, path, body) {
  const init = { method, headers: { Authorization: "Bearer " + credential } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401 || res.status === 403) {
    signOut("Your session is not (or no longer) an admin's: sign in again.");
    throw new Unauthorized();
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error((data && data.error && data.error.message) || res.status + " " + res.statusText);
  return data;
}

// Every page of a short admin list (keys, prices, redirects), 1,000 at a time.
async function apiAll(path) {
  let all = [], cursor = null;
  do {
    const q = new URLSearchParams({ limit: 1000 });
    if (cursor) q.set("cursor", cursor);
    const r = await api("GET", path + "?" + q);
    all = all.concat(r.data);
    cursor = r.next_cursor;
  } while (cursor);
  return all;
}

// ------------------------------------------------------------------ sign-in

function showSignin(message) {
  clearInterval(timer);
  $("#signin").hidden = false;
  $("#nav").hidden = true;
  $("#who").hidden = true;
  page().replaceChildren();
  $("#signin-error").textContent = message || "";
}

function signOut(message) {
  credential = null;
  sessionStorage.removeItem(KEY);
  showSignin(message);
}

async function signIn(token) {
  credential = token;
  try {
    await api("GET", "/admin/metrics/summary?window_minutes=1");
  } catch (e) {
    if (!(e instanceof Unauthorized)) showSignin("Cannot reach the gateway: " + e.message);
    return;
  }
  sessionStorage.setItem(KEY, token);
  $("#signin").hidden = true;
  $("#nav").hidden = false;
  $("#who").hidden = false;
  $("#who-text").textContent = token.startsWith("gzs-") ? "admin session" : "admin token " + token.slice(0, 8) + "…";
  if (!location.hash || location.hash === "#/") location.hash = "#/overview";
  route();
}

const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const unb64 = (text) => Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0));
const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

// The key file holds the 32-byte Ed25519 seed (base64). WebCrypto takes it as PKCS#8, signs
// the challenge here, and gives the public key (for the fingerprint) through its JWK.
async function signInWithKey(file) {
  const seed = unb64(await file.text());
  if (seed.length !== 32) throw new Error("not an Ed25519 key file (32-byte seed, base64)");
  const pkcs8 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, ...seed]);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const publicKey = unb64(jwk.x.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (jwk.x.length % 4)) % 4));
  const fingerprint = hex(await crypto.subtle.digest("SHA-256", publicKey));
  const post = async (path, body) => {
    const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const data = await res.json();
    if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
    return data;
  };
  const challenge = await post("/auth/challenge", { fingerprint });
  const message = new TextEncoder().encode(`gateway-zero-login:v1:${challenge.challenge_id}:${challenge.nonce}`);
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, message);
  const session = await post("/auth/verify", { challenge_id: challenge.challenge_id, fingerprint, signature: b64(signature) });
  await signIn(session.session_token);
}

// ------------------------------------------------------------------ modal forms

function modal(title, fields, submitText, onSubmit) {
  const error = h("p", { class: "error" });
  const form = h("form", {}, ...fields.map((f) => field(f)), error,
    h("div", { class: "buttons" },
      h("button", { type: "button", class: "secondary", onclick: () => back.remove() }, "Cancel"),
      h("button", { type: "submit" }, submitText)));
  const box = h("div", { class: "modal", role: "dialog" }, h("h2", {}, title), form);
  const back = h("div", { class: "modal-back" }, box);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    for (const f of fields) if (f.type === "checkbox") values[f.name] = form.elements[f.name].checked;
    try {
      const done = await onSubmit(values, box);
      if (done !== false) back.remove();
    } catch (e) {
      if (!(e instanceof Unauthorized)) error.textContent = e.message;
    }
  });
  document.body.append(back);
  const first = form.querySelector("input, select, textarea");
  if (first) first.focus();
  return box;
}

function field(f) {
  if (f.type === "select") {
    return h("label", {}, f.label, h("select", { name: f.name }, ...f.options.map((o) => h("option", { value: o, selected: o === f.value }, o))));
  }
  if (f.type === "checkbox") {
    return h("label", {}, h("input", { type: "checkbox", name: f.name, checked: !!f.value }), " ", f.label);
  }
  return h("label", {}, f.label, h("input", { name: f.name, type: f.type || "text", value: f.value ?? "", placeholder: f.placeholder || "", required: f.required, step: f.step }));
}

const optNum = (v) => (v === "" || v === undefined ? null : Number(v));
const optList = (v) => (v && v.trim() ? v.split(",").map((s) => s.trim()).filter(Boolean) : null);

// ------------------------------------------------------------------ charts (SVG)

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// `series`: [{values, color, kind: "line"|"bars"}]; labels: x labels (times).
function chart(title, series, unit, labels) {
  const W = 600, H = 160, L = 44, B = 18, T = 8;
  const max = Math.max(1e-9, ...series.flatMap((x) => x.values.filter((v) => v !== null)));
  const n = Math.max(1, ...series.map((x) => x.values.length));
  const x = (i) => L + (i + 0.5) * ((W - L - 4) / n);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" });
  for (let k = 0; k <= 3; k++) {
    const v = (max * k) / 3;
    svg.append(s("line", { x1: L, x2: W, y1: y(v), y2: y(v), stroke: "#2a333d", "stroke-width": 1 }));
    const t = s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", fill: "#8b97a3", "font-size": 10 });
    t.textContent = v >= 100 ? Math.round(v) : v.toFixed(v >= 1 ? 1 : 3);
    svg.append(t);
  }
  for (const [i, label] of labels.entries()) {
    if (i % Math.ceil(labels.length / 6) !== 0) continue;
    const t = s("text", { x: x(i), y: H - 4, "text-anchor": "middle", fill: "#8b97a3", "font-size": 10 });
    t.textContent = label;
    svg.append(t);
  }
  for (const line of series) {
    if (line.kind === "bars") {
      const w = Math.max(1, ((W - L - 4) / n) * 0.7);
      line.values.forEach((v, i) => {
        if (!v) return;
        svg.append(s("rect", { x: x(i) - w / 2, y: y(v), width: w, height: H - B - y(v), fill: line.color, opacity: 0.85 }));
      });
    } else {
      const pts = line.values.map((v, i) => (v === null ? null : `${x(i)},${y(v)}`)).filter(Boolean);
      if (pts.length) svg.append(s("polyline", { points: pts.join(" "), fill: "none", stroke: line.color, "stroke-width": 2 }));
    }
  }
  return h("div", { class: "chart" }, h("h3", {}, title),
    h("div", { class: "legend" }, ...series.map((l) => { const i = h("i"); i.style.background = l.color; return h("span", {}, i, l.name); }),
      unit ? h("span", {}, "(" + unit + ")") : null),
    svg);
}

// ------------------------------------------------------------------ pages

const pages = {
  overview: { title: "Overview", render: overview },
  providers: { title: "Providers", render: providers },
  tokens: { title: "Tokens", render: tokens },
  logs: { title: "Logs", render: logs },
  audit: { title: "Audit", render: audit },
  prices: { title: "Prices", render: prices },
  redirects: { title: "Redirects", render: redirects },
};

function route() {
  clearInterval(timer);
  if (!credential) return showSignin();
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1] || "overview";
  const p = pages[name] || pages.overview;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === name);
  document.title = p.title + " · Gateway Zero";
  page().replaceChildren(h("h1", {}, p.title), h("p", { class: "muted" }, "Loading…"));
  p.render().catch((e) => {
    if (!(e instanceof Unauthorized)) page().replaceChildren(h("h1", {}, p.title), h("p", { class: "error" }, e.message));
  });
}

let windowMinutes = 60;

async function overview() {
  const select = h("select", { name: "window", onchange: (e) => { windowMinutes = Number(e.target.value); draw(); } },
    ...[[15, "15 minutes"], [60, "1 hour"], [360, "6 hours"], [1440, "24 hours"], [10080, "7 days"]]
      .map(([v, t]) => h("option", { value: v, selected: v === windowMinutes }, t)));
  const body = h("div");
  const stamp = h("span", { class: "muted" });
  page().replaceChildren(h("h1", {}, "Overview"),
    h("div", { class: "toolbar" }, h("label", {}, "Window", select), h("span", { class: "spacer" }), stamp), body);
  async function draw() {
    const [sum, series] = await Promise.all([
      api("GET", `/admin/metrics/summary?window_minutes=${windowMinutes}`),
      api("GET", `/admin/metrics/series?window_minutes=${windowMinutes}`),
    ]);
    const pts = series.points;
    const perMin = 60 / series.step_seconds;
    const labels = pts.map((p) => {
      const d = new Date(p.at);
      return windowMinutes > 1440 ? d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    });
    const last = pts.slice(-2).reduce((a, p) => a + p.requests, 0) / Math.min(2, pts.length || 1) * perMin;
    const p50s = pts.filter((p) => p.p50_latency_ms !== null).map((p) => p.p50_latency_ms);
    body.replaceChildren(
      h("div", { class: "stats" },
        stat("Requests", num(sum.requests), `${last.toFixed(1)} / min now`),
        stat("Error rate", (sum.error_rate * 100).toFixed(2) + " %", `${num(sum.errors)} errors`),
        stat("Latency p95", ms(sum.p95_latency_ms), `avg ${ms(sum.avg_latency_ms)} · p50 ${ms(p50s.length ? p50s[Math.floor(p50s.length / 2)] : null)}`),
        stat("Spend", usd(sum.amount), `${num(sum.total_tokens)} tokens`),
        stat("First token", ms(sum.avg_first_token_ms), "average, streams")),
      h("div", { class: "charts" },
        chart("Requests and errors per minute", [
          { name: "requests", color: "#4f9cf9", kind: "bars", values: pts.map((p) => p.requests * perMin) },
          { name: "errors", color: "#f5455c", kind: "line", values: pts.map((p) => p.errors * perMin) },
        ], "calls/min", labels),
        chart("Latency", [
          { name: "p50", color: "#3ecf8e", kind: "line", values: pts.map((p) => p.p50_latency_ms) },
          { name: "p95", color: "#f5a524", kind: "line", values: pts.map((p) => p.p95_latency_ms) },
        ], "ms", labels),
        chart("Spend", [{ name: "USD", color: "#b48ef9", kind: "bars", values: pts.map((p) => p.amount) }], "USD per step", labels),
        chart("Tokens", [{ name: "tokens", color: "#4fd1c5", kind: "bars", values: pts.map((p) => p.total_tokens) }], "per step", labels)),
      h("div", { class: "grid2" },
        topTable("By model", sum.top_models), topTable("By provider", sum.top_providers), topTable("Top tokens by spend", sum.top_tokens, (i) => i.name || "token " + i.key)));
    stamp.textContent = "updated " + new Date().toLocaleTimeString() + " · every 5 s";
  }
  await draw();
  timer = setInterval(() => draw().catch(() => {}), 5000);
}

function stat(label, value, sub) {
  return h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), h("div", { class: "sub" }, sub));
}

function topTable(title, items, name) {
  return h("div", {}, h("h2", {}, title), table(["Name", "Requests", "Errors", "Tokens", "Spend"], items, (i) => [
    name ? name(i) : i.key, num(i.requests), num(i.errors), num(i.total_tokens), usd(i.amount)], { numeric: [1, 2, 3, 4] }));
}

function table(headers, rows, cells, opts = {}) {
  if (!rows.length) return h("div", { class: "card empty" }, opts.empty || "Nothing yet.");
  const numeric = new Set(opts.numeric || []);
  return h("table", {},
    h("thead", {}, h("tr", {}, ...headers.map((t, i) => h("th", { class: numeric.has(i) ? "num" : "" }, t)))),
    h("tbody", {}, ...rows.map((r) => {
      const tr = h("tr", { class: opts.onclick ? "clickable" : "" }, ...cells(r).map((c, i) => h("td", { class: numeric.has(i) ? "num" : "" }, c)));
      if (opts.onclick) tr.addEventListener("click", () => opts.onclick(r));
      return tr;
    })));
}

function keyState(k) {
  if (!k.enabled) return pill("disabled");
  if (k.cooling_down) return pill(`cooling ${k.cooldown_remaining_secs} s`, "warn");
  if (k.consecutive_failures > 0) return pill(`${k.consecutive_failures} failures in a row`, "warn");
  return pill("healthy", "ok");
}

async function providers() {
  const list = (await api("GET", "/providers")).data;
  const keys = await Promise.all(list.map((p) => apiAll(`/providers/${encodeURIComponent(p.name)}/keys`)));
  const blocks = list.map((p, i) => {
    const name = encodeURIComponent(p.name);
    const reload = () => providers();
    return h("div", { class: "card" },
      h("div", { class: "toolbar" },
        h("div", {}, h("strong", {}, p.name), " ", pill(p.api_type), " ", p.enabled ? pill("enabled", "ok") : pill("disabled", "bad"), " ",
          h("span", { class: "muted mono" }, p.base_url)),
        h("span", { class: "spacer" }),
        h("div", { class: "actions" },
          h("button", { class: "small secondary", onclick: async () => { await api("PATCH", `/providers/${name}`, { enabled: !p.enabled }); toast(`${p.name} ${p.enabled ? "disabled" : "enabled"}`); reload(); } }, p.enabled ? "Disable" : "Enable"),
          h("button", { class: "small secondary", onclick: () => modal(`Edit ${p.name}`, [
            { name: "models", label: "Models (comma-separated names or * globs; empty: any model)", value: (p.models || []).join(", ") },
            { name: "weight", label: "Weight", type: "number", value: p.weight },
          ], "Save", async (v) => { await api("PATCH", `/providers/${name}`, { models: optList(v.models), weight: Number(v.weight) }); toast("Saved"); reload(); }) }, "Edit"),
          h("button", { class: "small", onclick: () => modal(`Add a key to ${p.name}`, [
            { name: "key", label: "API key", type: "password", required: true },
            { name: "description", label: "Description" },
          ], "Add key", async (v) => { const k = await api("POST", `/providers/${name}/keys`, { key: v.key, description: v.description || null }); toast("Added " + k.masked_key); reload(); }) }, "Add key"))),
      h("div", { class: "muted" }, `models: ${p.models ? p.models.join(", ") : "any"} · weight ${p.weight} · responses: ${p.responses || "chat"} · ${p.enabled_key_count}/${p.key_count} keys enabled`),
      h("h2", {}, "Keys"),
      table(["Key", "Description", "Health", "Calls ok / failed", "Last error", ""], keys[i], (k) => [
        h("span", { class: "mono" }, k.masked_key), k.description || "", keyState(k), `${num(k.successes)} / ${num(k.failures)}`,
        k.last_error ? h("span", { class: "mono muted" }, k.last_error) : "",
        h("div", { class: "actions" },
          h("button", { class: "small secondary", onclick: async () => { await api("PATCH", `/providers/${name}/keys/${k.id}`, { enabled: !k.enabled }); reload(); } }, k.enabled ? "Disable" : "Enable"),
          h("button", { class: "small danger", onclick: async () => { if (!confirm(`Remove key ${k.masked_key}?`)) return; await api("DELETE", `/providers/${name}/keys/${k.id}`); toast("Removed"); reload(); } }, "Remove"))],
        { empty: "No keys: add one." }));
  });
  page().replaceChildren(h("h1", {}, "Providers"), ...(blocks.length ? blocks : [h("div", { class: "card empty" }, "No providers yet.")]));
  timer = setInterval(() => { if (!document.querySelector(".modal-back")) providers().catch(() => {}); }, 10000);
}

async function tokens() {
  // Pages of 100 by id, searched by name: an organisation has tens of thousands of tokens.
  const search = h("form", { class: "toolbar", id: "token-search" },
    h("label", {}, "Name contains", h("input", { name: "q", type: "search", size: 20 })),
    h("button", { type: "submit" }, "Search"));
  const rows = h("div");
  const more = h("button", { type: "button", class: "secondary", id: "more-tokens", hidden: true }, "Load more");
  let cursor = null, shown = [];
  const create = () => modal("Create a token", [
    { name: "name", label: "Name", required: true },
    { name: "role", label: "Role", type: "select", options: ["client", "admin"], value: "client" },
    { name: "max_amount", label: "Money budget (USD; empty: none)", type: "number", step: "any" },
    { name: "max_tokens", label: "Token budget (empty: none)", type: "number" },
    { name: "rpm", label: "Requests per minute (empty: none)", type: "number" },
    { name: "tpm", label: "Tokens per minute (empty: none)", type: "number" },
    { name: "max_parallel", label: "Calls in flight at once (empty: no cap)", type: "number" },
    { name: "allowed_models", label: "Allowed models (comma-separated; empty: all)" },
    { name: "budget_period", label: "Budget period (none, daily, weekly, monthly, 15m, 1h, 30d…)", value: "none" },
    { name: "team_id", label: "Team id (empty: none)", type: "number" },
    { name: "expires_at", label: "Expires (empty: never)", type: "datetime-local" },
  ], "Create", async (v, box) => {
    const created = await api("POST", "/admin/tokens", {
      name: v.name, role: v.role, max_amount: optNum(v.max_amount), max_tokens: optNum(v.max_tokens),
      budget_period: v.budget_period || "none", team_id: optNum(v.team_id),
      rpm: optNum(v.rpm), tpm: optNum(v.tpm), max_parallel: optNum(v.max_parallel), allowed_models: optList(v.allowed_models),
      expires_at: v.expires_at ? new Date(v.expires_at).toISOString() : null,
    });
    const secret = h("code", { class: "mono", id: "new-token" }, created.token);
    box.replaceChildren(h("h2", {}, "Token created"),
      h("p", {}, "Copy it now: it is shown once and cannot be read again."),
      h("div", { class: "secret" }, secret, h("button", { class: "small", type: "button", onclick: async () => { await navigator.clipboard.writeText(created.token); toast("Copied"); } }, "Copy")),
      h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => { box.parentElement.remove(); tokens(); } }, "Done")));
    return false;
  });
  const edit = (t) => modal(`Edit ${t.name}`, [
    { name: "max_amount", label: "Money budget (USD; empty: none)", type: "number", step: "any", value: t.max_amount ?? "" },
    { name: "max_tokens", label: "Token budget (empty: none)", type: "number", value: t.max_tokens ?? "" },
    { name: "rpm", label: "Requests per minute", type: "number", value: t.rpm ?? "" },
    { name: "tpm", label: "Tokens per minute", type: "number", value: t.tpm ?? "" },
    { name: "max_parallel", label: "Calls in flight at once", type: "number", value: t.max_parallel ?? "" },
    { name: "allowed_models", label: "Allowed models (comma-separated; empty: all)", value: (t.allowed_models || []).join(", ") },
    { name: "budget_period", label: "Budget period (a change starts a fresh one)", value: t.budget_period },
    { name: "team_id", label: "Team id (empty: none)", type: "number", value: t.team_id ?? "" },
  ], "Save", async (v) => {
    await api("PATCH", `/admin/tokens/${t.id}`, { max_amount: optNum(v.max_amount), max_tokens: optNum(v.max_tokens), rpm: optNum(v.rpm), tpm: optNum(v.tpm), max_parallel: optNum(v.max_parallel), allowed_models: optList(v.allowed_models), budget_period: v.budget_period || "none", team_id: optNum(v.team_id) });
    toast("Saved"); tokens();
  });
  const load = async (reset) => {
    if (reset) { cursor = null; shown = []; }
    const q = new URLSearchParams({ limit: 100 });
    const name = new FormData(search).get("q");
    if (name) q.set("q", name);
    if (cursor) q.set("cursor", cursor);
    const r = await api("GET", "/admin/tokens?" + q);
    shown = shown.concat(r.data);
    cursor = r.next_cursor;
    more.hidden = !cursor;
    rows.replaceChildren(table(["Name", "Role", "Status", "Tokens this period", "Spend this period", "Limits", "Expires", ""], shown, (t) => [
      h("div", {}, h("strong", {}, t.name), h("div", { class: "muted mono" }, t.token_prefix + "…")),
      t.role,
      t.enabled ? pill("enabled", "ok") : pill("disabled", "bad"),
      h("div", {}, `${num(t.spent_tokens)}${t.max_tokens ? " of " + num(t.max_tokens) : ""}`, t.max_tokens ? bar(t.spent_tokens, t.max_tokens) : null),
      h("div", {}, `${usd(t.spent_amount)}${t.max_amount ? " of " + usd(t.max_amount) : ""}`, t.max_amount ? bar(t.spent_amount, t.max_amount) : null),
      h("div", { class: "muted" }, `rpm ${t.rpm ?? "∞"} · tpm ${t.tpm ?? "∞"} · parallel ${t.max_parallel ?? "∞"}`, h("br"), `models: ${t.allowed_models ? t.allowed_models.join(", ") : "all"}`,
        h("br"), `period: ${t.budget_period}${t.resets_at ? " · resets " + when(t.resets_at) : ""}${t.team_id ? " · team " + t.team_id : ""}`),
      when(t.expires_at),
      h("div", { class: "actions" },
        h("button", { class: "small secondary", onclick: () => edit(t) }, "Edit"),
        h("button", { class: "small secondary", onclick: async () => { await api("PATCH", `/admin/tokens/${t.id}`, { enabled: !t.enabled }); tokens(); } }, t.enabled ? "Disable" : "Enable"),
        h("button", { class: "small danger", onclick: async () => { if (!confirm(`Delete token ${t.name}?`)) return; await api("DELETE", `/admin/tokens/${t.id}`); toast("Deleted"); tokens(); } }, "Delete"))],
    { empty: name ? "No token matches." : "No tokens yet." }));
  };
  search.addEventListener("submit", (e) => { e.preventDefault(); load(true).catch((err) => toast(err.message)); });
  more.addEventListener("click", () => load(false).catch((err) => toast(err.message)));
  page().replaceChildren(
    h("div", { class: "toolbar" }, h("h1", {}, "Tokens"), h("span", { class: "spacer" }), h("button", { type: "button", id: "create-token", onclick: create }, "Create")),
    search, rows, h("p", {}, more));
  await load(true);
}

async function logs() {
  const filters = h("form", { class: "toolbar" },
    ...[["token_id", "Token id"], ["model", "Model"], ["provider", "Provider"], ["end_user", "End user"], ["session_id", "Session"]].map(([n, l]) => h("label", {}, l, h("input", { name: n, size: 12 }))),
    h("label", {}, "Status", h("select", { name: "status" }, h("option", { value: "" }, "any"), h("option", { value: "success" }, "success"), h("option", { value: "error" }, "error"))),
    h("label", {}, "Since", h("input", { name: "since", type: "datetime-local" })),
    h("label", {}, "Until", h("input", { name: "until", type: "datetime-local" })),
    h("button", { type: "submit" }, "Apply"));
  const rows = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const detail = h("div");
  let cursor = null, shown = [];
  const query = () => {
    const q = new URLSearchParams({ limit: 50 });
    for (const [k, v] of new FormData(filters).entries()) if (v) q.set(k, k === "since" || k === "until" ? new Date(v).toISOString() : v);
    if (cursor) q.set("cursor", cursor);
    return q;
  };
  const load = async (reset) => {
    if (reset) { cursor = null; shown = []; }
    const r = await api("GET", "/admin/logs/requests?" + query());
    shown = shown.concat(r.data);
    cursor = r.next_cursor;
    more.hidden = !cursor;
    rows.replaceChildren(table(["Time", "Status", "Endpoint", "Model", "Provider", "Token", "End user", "Tokens", "Cost", "Latency"], shown, (l) => [
      when(l.created_at), l.status === "success" ? pill(String(l.status_code), "ok") : pill(String(l.status_code), "bad"), l.endpoint,
      l.model || l.requested_model || "—", l.provider || "—", l.token_name || l.token_id || "—", l.end_user || "—", num(l.total_tokens), usd(l.amount), ms(l.latency_ms)],
    { numeric: [7, 8, 9], onclick: show, empty: "No calls match." }));
  };
  const show = async (l) => {
    const d = await api("GET", `/admin/logs/requests/${l.id}`);
    const rowsOf = [["Request id", d.request_id], ["Time", when(d.created_at)], ["Endpoint", d.endpoint], ["Status", `${d.status_code} ${d.status}`],
      ["Model asked / served", `${d.requested_model || "—"} / ${d.model || "—"}`], ["Provider / key", `${d.provider || "—"} / key ${d.key_id ?? "—"}`],
      ["Token", d.token_name ? `${d.token_name} (${d.token_id})` : (d.token_id ?? "—")], ["End user / session", `${d.end_user || "—"} / ${d.session_id || "—"}`],
      ["Stream", d.stream ? "yes" : "no"], ["Attempts", d.attempts],
      ["Latency / first token", `${ms(d.latency_ms)} / ${ms(d.first_byte_ms)}`],
      ["Tokens", `${num(d.prompt_tokens)} prompt (${num(d.cached_tokens)} cached, ${num(d.cache_write_tokens)} cache writes) · ${num(d.completion_tokens)} completion (${num(d.reasoning_tokens)} reasoning)${d.usage_estimated ? " · estimated" : ""}`],
      ["Cost", usd(d.amount)], ["Error", d.error_type ? `${d.error_type}: ${d.error_message || ""}` : "—"],
      ["Trace", d.trace_url ? h("a", { href: d.trace_url, target: "_blank", rel: "noopener noreferrer", id: "trace-link" }, d.trace_id) : (d.trace_id || "—")]];
    detail.replaceChildren(h("div", { class: "card", id: "log-detail" }, h("h2", {}, "Call " + d.id),
      h("dl", { class: "detail" }, ...rowsOf.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v instanceof Node ? v : String(v))]))));
    detail.scrollIntoView({ behavior: "smooth" });
  };
  filters.addEventListener("submit", (e) => { e.preventDefault(); load(true).catch((err) => toast(err.message)); });
  more.addEventListener("click", () => load(false).catch((err) => toast(err.message)));
  page().replaceChildren(h("h1", {}, "Logs"), filters, rows, h("p", {}, more), detail);
  await load(true);
}

async function audit() {
  const rows = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  let cursor = null, shown = [];
  const json = (v) => (v === null || v === undefined ? "—" : h("pre", {}, JSON.stringify(v, null, 1)));
  const load = async () => {
    const q = new URLSearchParams({ limit: 50 });
    if (cursor) q.set("cursor", cursor);
    const r = await api("GET", "/admin/audit?" + q);
    shown = shown.concat(r.data);
    cursor = r.next_cursor;
    more.hidden = !cursor;
    rows.replaceChildren(table(["Time", "Who", "Action", "Resource", "Before", "After"], shown, (a) => [
      when(a.created_at), h("span", { class: "mono" }, a.actor), a.action, a.resource, json(a.before), json(a.after)], { empty: "No admin changes yet." }));
  };
  more.addEventListener("click", () => load().catch((e) => toast(e.message)));
  page().replaceChildren(h("h1", {}, "Audit"), rows, h("p", {}, more));
  await load();
}

async function prices() {
  const list = await apiAll("/admin/model-prices");
  const edit = (p) => modal(p ? `Price of ${p.model}` : "Set a price", [
    { name: "model", label: "Model", value: p ? p.model : "", required: true },
    { name: "provider", label: "Provider (empty: any)", value: p ? p.provider || "" : "" },
    { name: "input_per_million", label: "Input, USD per million tokens", type: "number", step: "any", value: p ? p.input_per_million : "", required: true },
    { name: "output_per_million", label: "Output, USD per million tokens", type: "number", step: "any", value: p ? p.output_per_million : "", required: true },
    { name: "cached_input_per_million", label: "Cached input (empty: input price)", type: "number", step: "any", value: p ? p.cached_input_per_million ?? "" : "" },
    { name: "max_output_tokens", label: "Largest output (tokens)", type: "number", value: p ? p.max_output_tokens ?? "" : "" },
  ], "Save", async (v) => {
    await api("PUT", "/admin/model-prices", { model: v.model, provider: v.provider || null, input_per_million: Number(v.input_per_million),
      output_per_million: Number(v.output_per_million), cached_input_per_million: optNum(v.cached_input_per_million), max_output_tokens: optNum(v.max_output_tokens) });
    toast("Saved"); prices();
  });
  page().replaceChildren(h("div", { class: "toolbar" }, h("h1", {}, "Prices"), h("span", { class: "spacer" }), h("button", { type: "button", onclick: () => edit(null) }, "Set a price")),
    table(["Model", "Provider", "Input / M", "Output / M", "Cached / M", "Max output", ""], list, (p) => [
      p.model, p.provider || "any", usd(p.input_per_million), usd(p.output_per_million), usd(p.cached_input_per_million), num(p.max_output_tokens),
      h("button", { class: "small secondary", onclick: () => edit(p) }, "Edit")], { numeric: [2, 3, 4, 5] }));
}

async function redirects() {
  const list = await apiAll("/admin/model-redirects");
  const add = () => modal("Redirect a model", [
    { name: "source", label: "Model asked for", required: true },
    { name: "target", label: "Model served", required: true },
    { name: "provider", label: "Only on provider (empty: everywhere)" },
  ], "Save", async (v) => { await api("PUT", "/admin/model-redirects", { source: v.source, target: v.target, provider: v.provider || null }); toast("Saved"); redirects(); });
  page().replaceChildren(h("div", { class: "toolbar" }, h("h1", {}, "Redirects"), h("span", { class: "spacer" }), h("button", { type: "button", onclick: add }, "Add")),
    table(["Asked for", "Served", "Provider", ""], list, (r) => [r.source, r.target, r.provider || "any",
      h("button", { class: "small danger", onclick: async () => { await api("DELETE", "/admin/model-redirects", { source: r.source, provider: r.provider || null }); redirects(); } }, "Remove")],
    { empty: "No redirects." }));
}

// ------------------------------------------------------------------ start

document.addEventListener("DOMContentLoaded", () => {
  $("#token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn(e.target.elements.token.value.trim());
  });
  $("#key-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = e.target.elements.keyfile.files[0];
    if (!file) return ($("#signin-error").textContent = "Choose the key file first.");
    try {
      await signInWithKey(file);
    } catch (err) {
      $("#signin-error").textContent = "Key sign-in failed: " + err.message;
    }
  });
  $("#signout").addEventListener("click", async () => {
    if (credential && credential.startsWith("gzs-")) await fetch("/auth/logout", { method: "POST", headers: { Authorization: "Bearer " + credential } }).catch(() => {});
    signOut("Signed out.");
  });
  window.addEventListener("hashchange", route);
  if (credential) signIn(credential);
  else showSignin();
});
