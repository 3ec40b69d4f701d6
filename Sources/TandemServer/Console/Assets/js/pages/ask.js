// Ask: sends a query to POST /api/reasoning/query with "stream": "deltas" and shows Flash and Pro
// side by side, each answer growing as its journaled deltas arrive (read with fetch and a stream
// reader, so the API key goes along); the preliminary/final frame then shows the whole answer.

import { authHeaders } from "../api.js";
import { formatMs, h, message, pageHeading, statusBadge } from "../dom.js";
import { followRun } from "../sse.js";

/** 32 lowercase hex digits, like the run ids the server makes. */
function newRunId() {
  return crypto.randomUUID().replaceAll("-", "");
}

function column(model, title) {
  const state = h("p", { class: "column-state", role: "status", text: "waiting…" });
  const body = h("div", { class: "answer-text" });
  const section = h("section", { class: `answer answer-${model}`, "data-model": model, "data-state": "waiting", "aria-labelledby": `ask-${model}` },
    h("h2", { id: `ask-${model}`, text: title }), state, body);
  // `streamed`: UTF-8 bytes of deltas shown, the offset the next delta must have.
  return { section, state, body, streamed: 0 };
}

export async function renderAsk(main, { signal }) {
  const input = h("textarea", { id: "ask-query", name: "query", rows: "3", required: true, maxlength: "20000" });
  const button = h("button", { type: "submit", text: "Ask both models" });
  const outcome = h("div", { class: "ask-outcome" });
  const columns = h("div", { class: "answers" });
  main.append(
    pageHeading("Ask"),
    h("p", { class: "muted", text: "Sends the question to Flash and Pro at once and shows each answer as it streams; every piece shown is journaled first." }),
    h("form", { class: "ask-form", onsubmit: (event) => { event.preventDefault(); ask(); } },
      h("label", { for: "ask-query", text: "Question" }), input, button),
    outcome, columns,
  );

  let runSignal = null;
  async function ask() {
    const query = input.value.trim();
    if (!query) return;
    runSignal?.abort();
    const controller = new AbortController();
    runSignal = controller;
    signal.addEventListener("abort", () => controller.abort(), { once: true });
    const runId = newRunId();
    const flash = column("flash", "Flash · preliminary");
    const pro = column("pro", "Pro · verified");
    const byModel = { flash, pro };
    columns.replaceChildren(flash.section, pro.section);
    outcome.replaceChildren(h("p", { class: "muted" }, "Run ", h("a", { href: `#/run/${runId}`, class: "mono", text: runId }), " started."));
    button.disabled = true;
    const started = performance.now();
    const ticker = setInterval(() => {
      for (const item of [flash, pro]) {
        const state = item.section.dataset.state;
        if (state === "waiting" || state === "streaming") item.state.textContent = `${state}… ${formatMs(performance.now() - started)}`;
      }
    }, 200);
    const show = (item, state, text, content) => {
      item.section.dataset.state = state;
      item.state.textContent = text;
      if (content !== undefined) item.body.textContent = content;
    };
    try {
      await followRun({
        runId, signal: controller.signal,
        first: () => fetch("/api/reasoning/query", {
          method: "POST", signal: controller.signal, cache: "no-store",
          headers: authHeaders({ "content-type": "application/json" }),
          body: JSON.stringify({ query, run_id: runId, stream: "deltas" }),
        }),
        onFrame: (frame) => {
          const payload = frame.json ?? {};
          if (frame.event === "delta") {
            const item = byModel[payload.model];
            // A resumed stream never repeats a delta, but the offset says where the text belongs.
            if (item && item.section.dataset.state !== "answered" && payload.offset === item.streamed) {
              if (item.section.dataset.state !== "streaming") item.body.textContent = "";
              item.section.dataset.state = "streaming";
              item.state.textContent = `streaming… ${formatMs(performance.now() - started)}`;
              item.body.append(payload.text);
              item.streamed += new TextEncoder().encode(payload.text).length;
            }
          } else if (frame.event === "preliminary") {
            show(flash, "answered", `answered in ${formatMs(payload.response?.latency_ms)} · ${payload.response?.model}`, payload.response?.content);
          } else if (frame.event === "final") {
            show(pro, "answered", `answered in ${formatMs(payload.response?.latency_ms)} · ${payload.response?.model}`, payload.response?.content);
          } else if (frame.event === "error") {
            const item = byModel[payload.model];
            if (item) show(item, "error", `${payload.error} (${payload.code})`);
            else outcome.append(message("error", `${payload.error} (${payload.code})`));
          } else if (frame.event === "done") {
            for (const item of [flash, pro]) {
              if (item.section.dataset.state === "waiting" || item.section.dataset.state === "streaming") {
                show(item, item.section.dataset.state === "streaming" ? "partial" : "none", item === flash ? "no preliminary answer (Pro answered first, or the run ended)" : "no verified answer");
              }
            }
            outcome.replaceChildren(h("p", {}, "Run ", h("a", { href: `#/run/${runId}`, class: "mono", text: runId }), " finished: ",
              statusBadge(payload.status), " — open it for the timeline."));
          }
        },
      });
    } catch (error) {
      if (!controller.signal.aborted) outcome.append(message("error", `${error.message}${error.code ? ` (${error.code})` : ""}`));
    } finally {
      clearInterval(ticker);
      button.disabled = false;
    }
  }
}
