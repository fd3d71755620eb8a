// Gateway Zero console — the Teams page (loaded after console.js, whose helpers it uses).
// Each team's usage in its current period against its budgets, the reset time, its tokens,
// create and edit. Everything a user wrote is put in the page as text (h() never parses
// HTML).
"use strict";

const periodHelp = "none, daily, weekly, monthly, or a length like 15m, 1h, 30d";

function teamFields(t) {
  t = t || {};
  return [
    { name: "name", label: "Name", required: true, value: t.name ?? "" },
    { name: "budget_period", label: `Budget period (${periodHelp})`, value: t.budget_period ?? "monthly" },
    { name: "max_amount", label: "Money budget per period (USD; empty: none)", type: "number", step: "any", value: t.max_amount ?? "" },
    { name: "max_tokens", label: "Token budget per period (empty: none)", type: "number", value: t.max_tokens ?? "" },
    { name: "rpm", label: "Requests per minute, all its tokens (empty: none)", type: "number", value: t.rpm ?? "" },
    { name: "tpm", label: "Tokens per minute, all its tokens (empty: none)", type: "number", value: t.tpm ?? "" },
    { name: "max_parallel", label: "Calls in flight at once, all its tokens (empty: no cap)", type: "number", value: t.max_parallel ?? "" },
    { name: "allowed_models", label: "Allowed models (comma-separated; empty: all)", value: (t.allowed_models || []).join(", ") },
  ];
}

function teamBody(v) {
  return {
    name: v.name, budget_period: v.budget_period || "none",
    max_amount: optNum(v.max_amount), max_tokens: optNum(v.max_tokens),
    rpm: optNum(v.rpm), tpm: optNum(v.tpm), max_parallel: optNum(v.max_parallel),
    allowed_models: optList(v.allowed_models),
  };
}

async function teams() {
  const search = h("form", { class: "toolbar", id: "team-search" },
    h("label", {}, "Name contains", h("input", { name: "q", type: "search", size: 20 })),
    h("button", { type: "submit" }, "Search"));
  const rows = h("div");
  const members = h("div", { id: "team-tokens" });
  const more = h("button", { type: "button", class: "secondary", id: "more-teams", hidden: true }, "Load more");
  let cursor = null, shown = [];
  const create = () => modal("Create a team", teamFields(), "Create", async (v) => {
    await api("POST", "/admin/teams", teamBody(v));
    toast("Team created"); teams();
  });
  const edit = (t) => modal(`Edit ${t.name}`, teamFields(t), "Save", async (v) => {
    await api("PATCH", `/admin/teams/${t.id}`, teamBody(v));
    toast("Saved"); teams();
  });
  const remove = async (t) => {
    if (!confirm(`Delete team ${t.name}? Its tokens leave it and keep only their own limits.`)) return;
    await api("DELETE", `/admin/teams/${t.id}?force=true`);
    toast("Deleted"); teams();
  };
  const showTokens = async (t) => {
    const r = await api("GET", `/admin/tokens?team_id=${t.id}&limit=100`);
    members.replaceChildren(h("h2", {}, `Tokens of ${t.name}`),
      table(["Name", "Status", "Tokens this period", "Spend this period", "Resets"], r.data, (k) => [
        k.name, k.enabled ? pill("enabled", "ok") : pill("disabled", "bad"),
        num(k.spent_tokens), usd(k.spent_amount), when(k.resets_at)],
      { empty: "No tokens in this team yet: set team_id on a token to add it." }),
      r.next_cursor ? h("p", { class: "muted" }, "The first 100 are shown; the terminal admin lists them all.") : null);
  };
  const load = async (reset) => {
    if (reset) { cursor = null; shown = []; }
    const q = new URLSearchParams({ limit: 100 });
    const name = new FormData(search).get("q");
    if (name) q.set("q", name);
    if (cursor) q.set("cursor", cursor);
    const r = await api("GET", "/admin/teams?" + q);
    shown = shown.concat(r.data);
    cursor = r.next_cursor;
    more.hidden = !cursor;
    rows.replaceChildren(table(["Name", "Status", "Period", "Tokens this period", "Spend this period", "Resets", "Limits", ""], shown, (t) => [
      h("strong", {}, t.name),
      t.enabled ? pill("enabled", "ok") : pill("disabled", "bad"),
      t.budget_period,
      h("div", {}, `${num(t.spent_tokens)}${t.max_tokens ? " of " + num(t.max_tokens) : ""}`, t.max_tokens ? bar(t.spent_tokens, t.max_tokens) : null),
      h("div", {}, `${usd(t.spent_amount)}${t.max_amount ? " of " + usd(t.max_amount) : ""}`, t.max_amount ? bar(t.spent_amount, t.max_amount) : null),
      when(t.resets_at),
      h("div", { class: "muted" }, `rpm ${t.rpm ?? "∞"} · tpm ${t.tpm ?? "∞"} · parallel ${t.max_parallel ?? "∞"}`, h("br"), `models: ${t.allowed_models ? t.allowed_models.join(", ") : "all"}`),
      h("div", { class: "actions" },
        h("button", { class: "small secondary", onclick: () => showTokens(t).catch((e) => toast(e.message)) }, "Tokens"),
        h("button", { class: "small secondary", onclick: () => edit(t) }, "Edit"),
        h("button", { class: "small secondary", onclick: async () => { await api("PATCH", `/admin/teams/${t.id}`, { enabled: !t.enabled }); teams(); } }, t.enabled ? "Disable" : "Enable"),
        h("button", { class: "small danger", onclick: () => remove(t).catch((e) => toast(e.message)) }, "Delete"))],
    { empty: name ? "No team matches." : "No teams yet." }));
  };
  search.addEventListener("submit", (e) => { e.preventDefault(); load(true).catch((err) => toast(err.message)); });
  more.addEventListener("click", () => load(false).catch((err) => toast(err.message)));
  page().replaceChildren(
    h("div", { class: "toolbar" }, h("h1", {}, "Teams"), h("span", { class: "spacer" }), h("button", { type: "button", id: "create-team", onclick: create }, "Create")),
    search, rows, h("p", {}, more), members);
  await load(true);
}

pages.teams = { title: "Teams", render: teams };
