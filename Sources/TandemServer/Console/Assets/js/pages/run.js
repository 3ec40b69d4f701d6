// Run: the timeline of one run, its answers, errors and usage, its raw journal entries, and a
// chain badge from GET /api/runs/{id}/verify. A run still going is followed over its stream.

import { api, ApiError } from "../api.js";
import { formatMs, formatTime, h, message, pageHeading, prettyJSON, statusBadge, svg } from "../dom.js";
import { followRun } from "../sse.js";
import { buildTimeline, drawTimeline, MARK_KINDS, markShape, MODEL_NAMES, MODELS } from "../timeline.js";

function chainBadge(result) {
  if (!result) return h("span", { class: "badge chain-unknown", text: "chain: checking…" });
  if (result.ok) {
    return h("span", { class: "badge chain-ok", "data-ok": "true", title: `seq ${result.first_seq}–${result.last_seq}` },
      h("span", { "aria-hidden": "true", text: "✓" }), `chain verified · ${result.entries} entries, seq ${result.first_seq}–${result.last_seq}`);
  }
  return h("span", { class: "badge chain-broken", "data-ok": "false" },
    h("span", { "aria-hidden": "true", text: "✕" }), `chain BROKEN at seq ${result.broken_at}: ${result.reason ?? "see tandem journal verify"}`);
}

function legend() {
  const kinds = ["run_started", "started", "first_token", "retry", "completed", "timeout", "failed", "cancelled", "client_disconnected", "done"];
  return h("ul", { class: "legend", "aria-label": "Timeline legend" },
    kinds.map((kind) => h("li", {},
      svg("svg", { width: 16, height: 16, viewBox: "0 0 16 16", class: `legend-icon mark-${kind}`, "aria-hidden": "true" }, markShape(kind, 8, 8)),
      MARK_KINDS[kind])),
    h("li", {}, svg("svg", { width: 16, height: 16, class: "legend-icon deadline", "aria-hidden": "true" }, svg("line", { x1: 8, x2: 8, y1: 0, y2: 16 })), "deadline"));
}

function entryDetail(entry) {
  return [
    h("p", {}, h("strong", { text: entry.type }), ` · seq ${entry.seq} · ${entry.ts}`),
    h("pre", { class: "json", text: prettyJSON(entry.data) }),
  ];
}

function answers(entries) {
  return MODELS.map((model) => {
    const completed = entries.find((entry) => entry.type === `${model}_completed`);
    const endings = entries.filter((entry) => [`${model}_timeout`, `${model}_failed`, `${model}_cancelled`].includes(entry.type));
    return h("section", { class: `answer answer-${model}`, "aria-labelledby": `answer-${model}` },
      h("h3", { id: `answer-${model}`, text: `${MODEL_NAMES[model]}${completed ? ` · ${completed.data.model}` : ""}` }),
      completed ? h("div", { class: "answer-text", text: completed.data.content }) : null,
      endings.map((entry) => h("p", { class: `answer-ending ending-${entry.type.replace(`${model}_`, "")}` },
        h("strong", { text: MARK_KINDS[entry.type.replace(`${model}_`, "")] }), ": ",
        entry.data.reason ?? entry.data.message ?? `${String(entry.data.phase).replace("_", "-")} deadline ${entry.data.timeout_s} s after ${formatMs(entry.data.elapsed_ms)}`,
        entry.data.error_class ? ` (${entry.data.error_class})` : "")),
      !completed && endings.length === 0 ? h("p", { class: "muted", text: "No answer yet." }) : null);
  });
}

function usageTable(entries) {
  const rows = MODELS.map((model) => {
    const completed = entries.find((entry) => entry.type === `${model}_completed`);
    const usage = completed?.data.usage;
    return h("tr", {},
      h("th", { scope: "row", text: MODEL_NAMES[model] }),
      h("td", { class: "number", text: usage?.input_tokens ?? "—" }),
      h("td", { class: "number", text: usage?.output_tokens ?? "—" }),
      h("td", { class: "number", text: formatMs(completed?.data.latency_ms) }),
      h("td", { class: "number", text: formatMs(completed?.data.ttft_ms) }));
  });
  return h("table", { class: "usage" },
    h("caption", { text: "Usage" }),
    h("thead", {}, h("tr", {}, ["Model", "Input tokens", "Output tokens", "Latency", "TTFT"].map((name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, rows));
}

function rawEntries(entries) {
  return h("table", { class: "entries" },
    h("caption", { text: "Journal entries" }),
    h("thead", {}, h("tr", {}, ["seq", "ts", "type", "prev", "data"].map((name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, entries.map((entry) => h("tr", { id: `seq-${entry.seq}` },
      h("td", { class: "number mono", text: entry.seq }),
      h("td", { class: "mono", text: entry.ts }),
      h("td", { class: "mono", text: entry.type }),
      h("td", { class: "mono prev", title: entry.prev, text: `${entry.prev.slice(0, 12)}…` }),
      h("td", {}, h("details", {}, h("summary", { text: "data" }), h("pre", { class: "json", text: prettyJSON(entry.data) })))))));
}

export async function renderRun(main, { signal, param: runId }) {
  if (!runId) {
    main.append(pageHeading("Run"), message("error", "No run id in the address (#/run/<run id>)."));
    return;
  }
  const heading = pageHeading(h("span", {}, "Run ", h("span", { class: "mono", text: runId })));
  const statusSlot = h("span", { class: "status-slot" });
  const chainSlot = h("span", { class: "chain-slot" }, chainBadge(null));
  const summary = h("dl", { class: "summary" });
  const streamNote = h("p", { class: "stream-note muted", role: "status", "data-state": "idle", "data-reconnects": "0" });
  const figure = h("div", { class: "timeline-wrap" });
  const hidden = h("p", { class: "muted small" });
  const detail = h("div", { class: "mark-detail", "aria-live": "polite" }, h("p", { class: "muted", text: "Hover over or focus a mark to see its journal entry." }));
  const answerSlot = h("div", { class: "answers" });
  const usageSlot = h("div");
  const entriesSlot = h("div", { class: "table-wrap" });
  const errorSlot = h("div");
  main.append(
    heading, h("div", { class: "badges" }, statusSlot, chainSlot), errorSlot, summary, streamNote,
    h("section", { "aria-labelledby": "timeline-heading" },
      h("h2", { id: "timeline-heading", text: "Timeline" }), figure, hidden, legend(), detail),
    h("section", { "aria-labelledby": "answers-heading" }, h("h2", { id: "answers-heading", text: "Answers" }), answerSlot),
    usageSlot,
    h("section", { "aria-labelledby": "entries-heading" }, h("h2", { id: "entries-heading", text: "Raw entries" }), entriesSlot),
  );

  let entries = [];
  let selectedSeq = null;
  const draw = () => {
    if (!entries.length) return;
    const model = buildTimeline(entries);
    const { element, hiddenDeadlines } = drawTimeline(model, Math.max(320, figure.clientWidth || main.clientWidth), (mark) => {
      selectedSeq = mark.entry.seq;
      detail.replaceChildren(...entryDetail(mark.entry));
    });
    figure.replaceChildren(element);
    hidden.textContent = hiddenDeadlines.length
      ? `Beyond the axis: ${hiddenDeadlines.map((deadline) => `${MODEL_NAMES[deadline.model]} ${deadline.kind.replace("_", "-")} deadline ${deadline.seconds} s`).join(", ")}.`
      : "";
    return model;
  };

  const render = (record) => {
    const model = draw();
    const started = entries.find((entry) => entry.type === "run_started");
    const config = started?.data.config ?? {};
    const status = record?.status ?? (model?.finished ? "…" : "running");
    statusSlot.replaceChildren(statusBadge(status));
    summary.replaceChildren(
      h("dt", { text: "Query" }), h("dd", { class: "query", text: started?.data.query ?? "—" }),
      h("dt", { text: "Started" }), h("dd", { text: formatTime(started?.ts) }),
      h("dt", { text: "Duration" }), h("dd", { text: formatMs(record?.duration_ms) }),
      h("dt", { text: "Models" }), h("dd", { text: `${config.flash_model ?? "?"} / ${config.pro_model ?? "?"} (${config.provider ?? "?"})` }),
      h("dt", { text: "Deadlines" }), h("dd", { text: ["flash", "pro"].map((model) => describeDeadlines(model, config)).join(" · ") }),
    );
    answerSlot.replaceChildren(...answers(entries));
    usageSlot.replaceChildren(usageTable(entries));
    entriesSlot.replaceChildren(rawEntries(entries));
    if (selectedSeq !== null) {
      const entry = entries.find((item) => item.seq === selectedSeq);
      if (entry) detail.replaceChildren(...entryDetail(entry));
    }
    return model;
  };

  // Reloads entries and record; calls that overlap are folded into one more reload.
  let loading = null;
  let again = false;
  const reload = async () => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      do {
        again = false;
        entries = await api(`/api/runs/${encodeURIComponent(runId)}/events`, { signal });
        let record = null;
        try {
          record = await api(`/api/runs/${encodeURIComponent(runId)}`, { signal });
        } catch (error) {
          if (!(error instanceof ApiError) || error.status === 401) throw error;
          // A projection that is catching up (503) leaves the record out for a moment; the entries are the truth.
        }
        render(record);
      } while (again && !signal.aborted);
    })().finally(() => { loading = null; });
    return loading;
  };

  const verify = async () => {
    try {
      chainSlot.replaceChildren(chainBadge(await api(`/api/runs/${encodeURIComponent(runId)}/verify`, { signal })));
    } catch (error) {
      if (!signal.aborted) chainSlot.replaceChildren(h("span", { class: "badge chain-unknown", text: `chain: not checked (${error.message})` }));
    }
  };

  await reload();
  const resize = () => draw();
  window.addEventListener("resize", resize);
  signal.addEventListener("abort", () => window.removeEventListener("resize", resize));

  if (!buildTimeline(entries).finished) {
    const frameIds = [];
    const poll = setInterval(() => reload().catch(() => {}), 1000);
    signal.addEventListener("abort", () => clearInterval(poll));
    const describe = (state, { reconnects, lastId }) => {
      streamNote.dataset.state = state;
      streamNote.dataset.reconnects = String(reconnects);
      const resumed = reconnects ? ` · the connection dropped ${reconnects}× and was resumed after the last frame seen` : "";
      streamNote.textContent = {
        connecting: "Following the run live…",
        open: `Following the run live${resumed}.`,
        reconnecting: `Connection lost; reconnecting from the last seen id${lastId ? ` (${lastId})` : ""}…`,
        ended: `Run finished${resumed}.`,
      }[state];
    };
    try {
      await followRun({
        runId, signal, onState: describe,
        onFrame: (frame) => {
          frameIds.push(frame.id);
          streamNote.dataset.frames = frameIds.join(",");
          reload().catch(() => {});
        },
      });
    } finally {
      clearInterval(poll);
    }
    if (signal.aborted) return;
    await reload();
  }
  await verify();
}

/** A model's deadlines as run_started recorded them: total, then first-token and idle when set. */
function describeDeadlines(model, config) {
  const parts = [`${config[`${model}_timeout_s`] ?? "?"} s`];
  if (typeof config[`${model}_first_token_timeout_s`] === "number") parts.push(`first token ${config[`${model}_first_token_timeout_s`]} s`);
  if (typeof config[`${model}_idle_timeout_s`] === "number") parts.push(`idle ${config[`${model}_idle_timeout_s`]} s`);
  return `${MODEL_NAMES[model]} ${parts.join(", ")}`;
}
