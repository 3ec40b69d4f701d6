// Runs: newest first from GET /api/runs, filtered by status and time, paged with the cursor, and
// refreshed every few seconds while the first page is shown.

import { api, ApiError } from "../api.js";
import { formatMs, formatTime, h, message, pageHeading, statusBadge } from "../dom.js";

const STATUSES = ["running", "ok", "partial", "timeout", "error", "cancelled", "aborted"];
const SINCE = [
  ["", "any time"], ["15", "last 15 minutes"], ["60", "last hour"], ["1440", "last 24 hours"], ["10080", "last 7 days"],
];
const PAGE_SIZE = 25;
const REFRESH_MS = 2000;

/** `since` for the API: now minus `minutes`, as `YYYY-MM-DDTHH:MM:SSZ`. */
function sinceParameter(minutes) {
  return new Date(Date.now() - minutes * 60_000).toISOString().slice(0, 19) + "Z";
}

function modelCell(trace) {
  if (!trace) return h("span", { class: "muted", text: "—" });
  return [
    statusBadge(trace.outcome), " ",
    h("span", { class: "number", text: formatMs(trace.latency_ms) }),
  ];
}

function row(run) {
  return h("tr", { "data-run-id": run.run_id },
    h("td", { "data-label": "Run" }, h("a", { href: `#/run/${encodeURIComponent(run.run_id)}`, class: "mono", text: run.run_id })),
    h("td", { "data-label": "Status" }, statusBadge(run.status)),
    h("td", { "data-label": "Started" }, formatTime(run.started_at)),
    h("td", { "data-label": "Duration", class: "number" }, formatMs(run.duration_ms)),
    h("td", { "data-label": "Flash" }, modelCell(run.flash)),
    h("td", { "data-label": "Pro" }, modelCell(run.pro)),
  );
}

export async function renderRuns(main, { signal }) {
  const state = { status: "", since: "", cursors: [null], page: 0 };
  const statusSelect = h("select", { id: "filter-status", name: "status" },
    h("option", { value: "", text: "any status" }), STATUSES.map((status) => h("option", { value: status, text: status })));
  const sinceSelect = h("select", { id: "filter-since", name: "since" }, SINCE.map(([value, text]) => h("option", { value, text })));
  const searchInput = h("input", { id: "run-search", name: "run_id", type: "search", placeholder: "run id", autocomplete: "off", spellcheck: "false" });
  const searchResult = h("div", { class: "search-result" });
  const body = h("tbody");
  // Not a live region: a refresh every 2 s is not worth announcing.
  const live = h("p", { class: "muted live-note" });
  const older = h("button", { type: "button", text: "Older →" });
  const newer = h("button", { type: "button", text: "← Newer" });
  const pageNote = h("span", { class: "muted" });
  const errorSlot = h("div");

  main.append(
    pageHeading("Runs"),
    h("form", { class: "filters", role: "search", onsubmit: (event) => { event.preventDefault(); openRun(); } },
      h("div", { class: "field" }, h("label", { for: "run-search", text: "Find a run by id" }), searchInput),
      h("button", { type: "submit", text: "Open run" })),
    searchResult,
    h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "filter-status", text: "Status" }), statusSelect),
      h("div", { class: "field" }, h("label", { for: "filter-since", text: "Started" }), sinceSelect)),
    live,
    errorSlot,
    h("div", { class: "table-wrap" },
      h("table", { class: "runs responsive" },
        h("caption", { class: "visually-hidden", text: "Runs, newest first" }),
        h("thead", {}, h("tr", {}, ["Run", "Status", "Started", "Duration", "Flash", "Pro"].map((name) => h("th", { scope: "col", text: name })))),
        body)),
    h("nav", { class: "pager", "aria-label": "Pages of runs" }, newer, pageNote, older),
  );

  async function openRun() {
    const id = searchInput.value.trim();
    searchResult.replaceChildren();
    if (!id) return;
    try {
      await api(`/api/runs/${encodeURIComponent(id)}`, { signal });
      location.hash = `#/run/${encodeURIComponent(id)}`;
    } catch (error) {
      if (signal.aborted) return;
      searchResult.append(message("error", error instanceof ApiError && error.code === "run_not_found"
        ? `No run with id “${id}” is in the journal.` : error.message));
    }
  }

  let timer = null;
  let shown = null;
  /** Replaces the rows only when they changed, keeping the keyboard focus on the same run's link. */
  function showRuns(runs) {
    const key = JSON.stringify(runs);
    if (key === shown) return;
    shown = key;
    const focused = document.activeElement?.closest?.("tr[data-run-id]")?.dataset.runId;
    body.replaceChildren(...runs.map(row));
    if (runs.length === 0) body.append(h("tr", {}, h("td", { colspan: "6", class: "muted", text: "No runs match." })));
    if (focused) body.querySelector(`tr[data-run-id="${CSS.escape(focused)}"] a`)?.focus();
  }

  async function load() {
    clearTimeout(timer);
    const parameters = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.status) parameters.set("status", state.status);
    if (state.since) parameters.set("since", sinceParameter(Number(state.since)));
    const cursor = state.cursors[state.page];
    if (cursor) parameters.set("cursor", cursor);
    try {
      const page = await api(`/api/runs?${parameters}`, { signal });
      errorSlot.replaceChildren();
      showRuns(page.runs);
      state.cursors[state.page + 1] = page.next_cursor;
      older.disabled = !page.next_cursor;
      newer.disabled = state.page === 0;
      pageNote.textContent = `page ${state.page + 1}`;
      live.textContent = state.page === 0
        ? `Live: refreshed ${new Date().toLocaleTimeString()}, every ${REFRESH_MS / 1000} s.`
        : "Showing an older page (not refreshed).";
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 401) return;
      errorSlot.replaceChildren(message("error", `Could not list runs: ${error.message}`));
    }
    if (state.page === 0 && !signal.aborted) timer = setTimeout(load, REFRESH_MS);
  }
  signal.addEventListener("abort", () => clearTimeout(timer));

  const restart = () => {
    state.status = statusSelect.value;
    state.since = sinceSelect.value;
    state.cursors = [null];
    state.page = 0;
    load();
  };
  statusSelect.addEventListener("change", restart);
  sinceSelect.addEventListener("change", restart);
  older.addEventListener("click", () => { state.page += 1; load(); });
  newer.addEventListener("click", () => { state.page = Math.max(0, state.page - 1); load(); });
  await load();
}
