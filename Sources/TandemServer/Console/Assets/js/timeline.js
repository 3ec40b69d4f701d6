// A run's timeline: one swimlane per model on a millisecond axis from run_started.
//
// Marks sit at the times the events themselves measured on the server's monotonic clock
// (first_token.after_ms, completed.latency_ms, timeout.elapsed_ms, client_disconnected.elapsed_ms,
// done.duration_ms), and a first attempt's start at 0; events that carry no time of their own
// (later attempts' starts, retry, failed, cancelled, run_aborted) sit at their commit time (ts)
// minus run_started's, but never after done: every
// event of a run comes before its done, and a commit time includes the commit's own fsync.
// Deltas (runs that streamed them) are thin ticks at their commit times, not focusable marks: a
// Pro answer may have hundreds; each lane says how many bytes were streamed, and by when the
// client left.

import { formatMs, svg, timestampMicros } from "./dom.js";

export const MODELS = ["flash", "pro"];
export const MODEL_NAMES = { flash: "Flash", pro: "Pro" };

/** What each kind of mark means, for labels and the legend. */
export const MARK_KINDS = {
  started: "model call started",
  first_token: "first token",
  retry: "retry",
  completed: "completed",
  timeout: "timed out",
  failed: "failed",
  cancelled: "cancelled",
  run_started: "run started",
  client_disconnected: "client disconnected",
  done: "done",
  run_aborted: "run aborted",
};
const TERMINAL = new Set(["completed", "timeout", "failed", "cancelled"]);
const DEADLINE_NAMES = { total: "total deadline", first_token: "first-token deadline", idle: "idle deadline" };

/**
 * The marks, lanes and deadlines of a run's entries (as GET /api/runs/{id}/events returns them).
 * @returns {{lanes, runMarks, deadlines, endMs, finished}}
 */
export function buildTimeline(entries) {
  const started = entries.find((entry) => entry.type === "run_started") ?? entries[0];
  const origin = started ? timestampMicros(started.ts) : 0;
  const offset = (entry) => Math.max(0, (timestampMicros(entry.ts) - origin) / 1000);
  const lane = () => ({ marks: [], outcome: "running", deltas: [], streamedBytes: 0, streamedWhenClientLeft: null });
  const lanes = { flash: lane(), pro: lane() };
  const departure = entries.find((entry) => entry.type === "client_disconnected");
  const utf8Bytes = (text) => new TextEncoder().encode(text ?? "").length;
  const runMarks = [];
  const deadlines = [];
  let finished = false;
  const config = started?.type === "run_started" ? started.data.config : null;
  if (config) {
    for (const model of MODELS) {
      const seconds = config[`${model}_timeout_s`];
      if (typeof seconds === "number") deadlines.push({ model, kind: "total", ms: seconds * 1000, seconds });
      // The first-token deadline is fixed from the start; an idle deadline moves with each chunk
      // (chunks are not journaled), so it is drawn only where it struck.
      const firstToken = config[`${model}_first_token_timeout_s`];
      if (typeof firstToken === "number") deadlines.push({ model, kind: "first_token", ms: firstToken * 1000, seconds: firstToken });
    }
  }
  const hasDeadline = (model, kind) => deadlines.some((deadline) => deadline.model === model && deadline.kind === kind);
  for (const entry of entries) {
    const data = entry.data ?? {};
    switch (entry.type) {
      case "run_started": runMarks.push({ kind: "run_started", ms: 0, entry }); continue;
      case "client_disconnected": runMarks.push({ kind: "client_disconnected", ms: data.elapsed_ms ?? offset(entry), entry }); continue;
      case "done": runMarks.push({ kind: "done", ms: data.duration_ms ?? offset(entry), entry }); finished = true; continue;
      case "run_aborted": runMarks.push({ kind: "run_aborted", ms: offset(entry), entry, fromCommitTime: true }); finished = true; continue;
    }
    const match = /^(flash|pro)_(.+)$/.exec(entry.type);
    if (!match || (!MARK_KINDS[match[2]] && match[2] !== "delta")) continue;
    const [, model, kind] = match;
    if (kind === "delta") {
      const bytes = utf8Bytes(data.text);
      lanes[model].deltas.push({ ms: offset(entry), bytes, offset: data.offset, entry, fromCommitTime: true });
      lanes[model].streamedBytes += bytes;
      continue;
    }
    let ms = null;
    // A first attempt starts with the run (once run_started is durable); its entry may be
    // committed later, held back to share a commit (TANDEM_PROGRESS_HOLD_MS).
    if (kind === "started" && data.attempt === 1) ms = 0;
    if (kind === "first_token" && typeof data.after_ms === "number") ms = data.after_ms;
    if (kind === "completed" && typeof data.latency_ms === "number") ms = data.latency_ms;
    if (kind === "timeout" && typeof data.elapsed_ms === "number") {
      ms = data.elapsed_ms;
      // Runs journaled before run_started named the first-token deadline show it where it struck.
      if (data.phase === "first_token" && !hasDeadline(model, "first_token")) deadlines.push({ model, kind: "first_token", ms: data.timeout_s * 1000, seconds: data.timeout_s });
      if (data.phase === "idle") deadlines.push({ model, kind: "idle", ms: data.elapsed_ms, seconds: data.timeout_s });
    }
    lanes[model].marks.push(ms === null ? { kind, ms: offset(entry), entry, fromCommitTime: true } : { kind, ms, entry });
    if (TERMINAL.has(kind)) lanes[model].outcome = kind;
  }
  if (departure) {
    for (const model of MODELS) {
      lanes[model].streamedWhenClientLeft = lanes[model].deltas
        .filter((delta) => delta.entry.seq < departure.seq).reduce((sum, delta) => sum + delta.bytes, 0);
    }
  }
  const done = runMarks.find((mark) => mark.kind === "done");
  if (done) {
    for (const mark of [...lanes.flash.marks, ...lanes.pro.marks, ...runMarks, ...lanes.flash.deltas, ...lanes.pro.deltas]) {
      if (mark.fromCommitTime) mark.ms = Math.min(mark.ms, done.ms);
    }
  }
  const times = [...runMarks, ...lanes.flash.marks, ...lanes.pro.marks].map((mark) => mark.ms);
  return { lanes, runMarks, deadlines, endMs: Math.max(0, ...times), finished };
}

/** A round step for about `count` ticks over `span` ms. */
function tickStep(span, count) {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (raw <= factor * power) return factor * power;
  return 10 * power;
}

function tickLabel(ms, step) {
  return step >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/** The SVG shape of a mark kind, centred on (x, y). */
export function markShape(kind, x, y) {
  const r = 6;
  switch (kind) {
    case "started": return svg("circle", { cx: x, cy: y, r: r - 1, class: "shape hollow" });
    case "first_token": return svg("polygon", { points: `${x},${y - r} ${x + r},${y} ${x},${y + r} ${x - r},${y}`, class: "shape" });
    case "completed": return svg("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r, class: "shape" });
    case "timeout": return svg("path", { d: `M${x - r},${y - r}L${x + r},${y + r}M${x + r},${y - r}L${x - r},${y + r}`, class: "shape stroke" });
    case "failed": return svg("polygon", { points: `${x},${y - r} ${x + r},${y + r} ${x - r},${y + r}`, class: "shape" });
    case "cancelled": return svg("g", { class: "shape-group" },
      svg("circle", { cx: x, cy: y, r: r - 1, class: "shape hollow" }),
      svg("path", { d: `M${x - 4},${y + 4}L${x + 4},${y - 4}`, class: "shape stroke" }));
    case "retry": return svg("path", { d: `M${x - r},${y}A${r},${r} 0 1 1 ${x},${y + r}`, class: "shape stroke" });
    case "run_started": return svg("polygon", { points: `${x - 4},${y - r} ${x + r},${y} ${x - 4},${y + r}`, class: "shape" });
    case "client_disconnected": return svg("rect", { x: x - r + 1, y: y - r + 1, width: 2 * r - 2, height: 2 * r - 2, class: "shape hollow" });
    case "done": return svg("circle", { cx: x, cy: y, r, class: "shape" });
    case "run_aborted": return svg("path", { d: `M${x - r},${y - r}L${x + r},${y + r}M${x + r},${y - r}L${x - r},${y + r}`, class: "shape stroke" });
    default: return svg("circle", { cx: x, cy: y, r: 3, class: "shape" });
  }
}

/** A mark: focusable, labelled, with its entry on hover, focus and click. */
function markGroup(mark, model, x, y, onSelect) {
  const who = model ? `${MODEL_NAMES[model]} ` : "";
  const label = `${who}${MARK_KINDS[mark.kind]} at ${formatMs(mark.ms)} (seq ${mark.entry.seq})`;
  const group = svg("g", {
    class: `mark mark-${mark.kind}`, tabindex: "0", role: "button", "aria-label": label,
    "data-type": mark.entry.type, "data-seq": mark.entry.seq, "data-ms": mark.ms, "data-x": x.toFixed(1),
  }, svg("title", { text: label }), svg("circle", { cx: x, cy: y, r: 11, class: "hit" }), markShape(mark.kind, x, y));
  const select = () => onSelect(mark, group);
  group.addEventListener("mouseenter", select);
  group.addEventListener("focus", select);
  group.addEventListener("click", select);
  group.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(); } });
  return group;
}

/**
 * Draws `model` (from buildTimeline) `width` pixels wide.
 * @param {(mark, element) => void} onSelect called with the mark hovered, focused or clicked
 * @returns {{element: SVGSVGElement, hiddenDeadlines: Array}} the drawing, and the deadlines beyond its axis
 */
export function drawTimeline(model, width, onSelect) {
  const left = 58;
  const right = 18;
  const top = 26;
  const runRow = 30;
  const laneHeight = 58;
  const height = top + runRow + laneHeight * MODELS.length + 8;
  // The axis covers the events; a deadline far beyond them (Pro's 45 s in a 1 s run) is listed instead.
  const visible = model.deadlines.filter((deadline) => deadline.kind !== "total" || deadline.ms <= Math.max(model.endMs * 1.3, 1));
  const hiddenDeadlines = model.deadlines.filter((deadline) => !visible.includes(deadline));
  const span = Math.max(10, model.endMs, ...visible.map((deadline) => deadline.ms)) * 1.04;
  const plot = width - left - right;
  const x = (ms) => left + (Math.min(ms, span) / span) * plot;

  const root = svg("svg", {
    class: "timeline", width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
    "aria-label": `Timeline of the run, 0 to ${formatMs(span)}: one lane per model; each mark can be focused to show its journal entry`,
  });
  const step = tickStep(span, width < 600 ? 4 : 8);
  const axis = svg("g", { class: "axis", "aria-hidden": "true" });
  for (let tick = 0; tick <= span; tick += step) {
    axis.append(
      svg("line", { x1: x(tick), x2: x(tick), y1: top - 4, y2: height - 8, class: "grid" }),
      svg("text", { x: x(tick), y: top - 10, class: "tick", "text-anchor": tick === 0 ? "start" : "middle", text: tickLabel(Math.round(tick), step) }),
    );
  }
  root.append(axis);

  MODELS.forEach((name, index) => {
    const laneTop = top + runRow + index * laneHeight;
    root.append(
      svg("rect", { x: 0, y: laneTop, width, height: laneHeight, class: `lane lane-${name}` }),
      svg("text", { x: 6, y: laneTop + laneHeight / 2 + 10, class: "lane-label", text: MODEL_NAMES[name] }),
    );
  });

  // The run's own row: started, client disconnect, done (the latter two as lines across the lanes).
  const runY = top + runRow / 2;
  root.append(svg("text", { x: 6, y: runY + 4, class: "lane-label", text: "Run" }));
  for (const mark of model.runMarks) {
    if (mark.kind !== "run_started") {
      root.append(svg("line", { x1: x(mark.ms), x2: x(mark.ms), y1: top + 4, y2: height - 8, class: `run-line run-line-${mark.kind}`, "aria-hidden": "true" }));
    }
    root.append(markGroup(mark, null, x(mark.ms), runY, onSelect));
  }

  MODELS.forEach((name, index) => {
    const lane = model.lanes[name];
    const laneTop = top + runRow + index * laneHeight;
    const y = laneTop + laneHeight / 2 + 6;
    for (const deadline of visible.filter((item) => item.model === name)) {
      const dx = x(deadline.ms);
      root.append(svg("g", {
        class: `deadline deadline-${deadline.kind}`, "data-model": name, "data-kind": deadline.kind, "data-ms": deadline.ms, "data-x": dx.toFixed(1),
      },
      svg("title", { text: `${MODEL_NAMES[name]} ${DEADLINE_NAMES[deadline.kind]}: ${deadline.seconds} s` }),
      svg("line", { x1: dx, x2: dx, y1: laneTop + 3, y2: laneTop + laneHeight - 3 }),
      svg("text", { x: dx - 3, y: laneTop + 13, "text-anchor": "end", text: `${DEADLINE_NAMES[deadline.kind]} ${deadline.seconds} s` })));
    }
    const marks = lane.marks;
    if (marks.length) {
      const start = Math.min(...marks.map((mark) => mark.ms));
      const end = Math.max(...marks.map((mark) => mark.ms));
      root.append(svg("line", { x1: x(start), x2: x(end), y1: y, y2: y, class: `lane-bar lane-bar-${lane.outcome}`, "aria-hidden": "true" }));
    }
    for (const delta of lane.deltas) {
      const dx = x(delta.ms);
      root.append(svg("line", {
        x1: dx, x2: dx, y1: y - 14, y2: y - 8, class: "delta-tick", "data-seq": delta.entry.seq, "data-offset": delta.offset,
        "data-bytes": delta.bytes, "aria-hidden": "true",
      }));
    }
    if (lane.deltas.length) {
      const left = lane.streamedWhenClientLeft === null ? "" : `, ${lane.streamedWhenClientLeft} B when the client left`;
      root.append(svg("text", {
        x: width - 6, y: laneTop + 13, "text-anchor": "end", class: "streamed-label", "data-model": name,
        "data-streamed-bytes": lane.streamedBytes, "data-streamed-when-client-left": lane.streamedWhenClientLeft ?? "",
        text: `${lane.deltas.length} deltas, ${lane.streamedBytes} B streamed${left}`,
      }));
    }
    for (const mark of marks) root.append(markGroup(mark, name, x(mark.ms), y, onSelect));
    const last = marks.filter((mark) => TERMINAL.has(mark.kind)).at(-1);
    if (last) {
      const lx = x(last.ms);
      const anchorEnd = lx > width - 150;
      root.append(svg("text", {
        x: anchorEnd ? lx - 10 : lx + 10, y: y + 20, "text-anchor": anchorEnd ? "end" : "start", class: `end-label end-${last.kind}`,
        text: `${MARK_KINDS[last.kind]}${last.kind === "cancelled" && last.entry.data?.reason ? ` (${last.entry.data.reason})` : ""} · ${formatMs(last.ms)}`,
      }));
    }
  });
  return { element: root, hiddenDeadlines };
}
