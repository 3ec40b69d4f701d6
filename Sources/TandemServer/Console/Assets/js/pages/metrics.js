// Metrics: per-model latency and time-to-first-token histograms (SVG) with p50/p90/p99, and the
// counters — runs by status, timeouts by phase, errors by class — all from GET /api/metrics.

import { api } from "../api.js";
import { formatMs, h, pageHeading, svg } from "../dom.js";
import { MODEL_NAMES, MODELS } from "../timeline.js";

function boundLabel(ms) {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A bar per bucket (≤ bound), plus the calls beyond the last bound. */
function histogram(title, summary, bounds) {
  const counts = [...(summary.buckets ?? [])];
  const overflow = Math.max(0, summary.count - counts.reduce((sum, count) => sum + count, 0));
  counts.push(overflow);
  const labels = [...bounds.map((bound) => `≤${boundLabel(bound)}`), `>${boundLabel(bounds.at(-1))}`];
  const width = 420;
  const height = 150;
  const base = height - 34;
  const barWidth = (width - 20) / counts.length;
  const top = Math.max(1, ...counts);
  const chart = svg("svg", {
    class: "histogram", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${title}: ${summary.count} calls; ${counts.map((count, index) => `${labels[index]}: ${count}`).filter((text) => !text.endsWith(": 0")).join(", ") || "none yet"}`,
  });
  counts.forEach((count, index) => {
    const barHeight = (count / top) * (base - 14);
    const x = 10 + index * barWidth;
    chart.append(svg("rect", { x: x + 1, y: base - barHeight, width: barWidth - 2, height: Math.max(barHeight, count ? 1 : 0), class: "bar" },
      svg("title", { text: `${labels[index]}: ${count}` })));
    if (count) chart.append(svg("text", { x: x + barWidth / 2, y: base - barHeight - 3, "text-anchor": "middle", class: "bar-count", text: count }));
    if (index % 3 === 0 || index === counts.length - 1) {
      chart.append(svg("text", { x: x + barWidth / 2, y: base + 14, "text-anchor": "middle", class: "tick", text: labels[index] }));
    }
  });
  chart.append(svg("line", { x1: 10, x2: width - 10, y1: base, y2: base, class: "baseline" }));
  if (summary.count === 0) chart.append(svg("text", { x: width / 2, y: base / 2, "text-anchor": "middle", class: "empty", text: "no calls yet" }));
  return h("figure", { class: "chart" },
    h("figcaption", {}, h("strong", { text: title }), ` · ${summary.count} calls`),
    chart,
    h("p", { class: "percentiles" },
      ["p50", "p90", "p99"].map((name) => h("span", {}, h("abbr", { title: `${name.slice(1)}th percentile`, text: name }),
        ` ${summary.count ? formatMs(summary[name]) : "—"}`))));
}

/** A counter as a table: one row per label, its count. */
function counterTable(caption, counters, columns) {
  const keys = Object.keys(counters ?? {}).sort();
  return h("table", { class: "counters" },
    h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, [...columns, "count"].map((name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, keys.length
      ? keys.map((key) => h("tr", {}, key.split("|").map((part) => h("td", { text: part })), h("td", { class: "number", text: counters[key] })))
      : h("tr", {}, h("td", { colspan: String(columns.length + 1), class: "muted", text: "none" }))));
}

export async function renderMetrics(main, { signal }) {
  main.append(pageHeading("Metrics"), h("p", { class: "muted", text: "Projections of the journal: rebuilt from it at any time." }));
  const metrics = await api("/api/metrics", { signal });
  const bounds = metrics.bucket_bounds_ms ?? [];
  for (const model of MODELS) {
    const summaries = metrics.models?.[model] ?? {};
    main.append(h("section", { class: "model-metrics", "aria-labelledby": `metrics-${model}` },
      h("h2", { id: `metrics-${model}`, text: MODEL_NAMES[model] }),
      h("div", { class: "charts" },
        histogram(`${MODEL_NAMES[model]} latency`, summaries.latency_ms ?? { count: 0 }, bounds),
        histogram(`${MODEL_NAMES[model]} time to first token`, summaries.ttft_ms ?? { count: 0 }, bounds))));
  }
  main.append(h("section", { "aria-labelledby": "metrics-counters" },
    h("h2", { id: "metrics-counters", text: "Counters" }),
    h("div", { class: "counter-grid" },
      counterTable("Runs by status", metrics.runs, ["status"]),
      counterTable("Timeouts by phase", metrics.timeouts, ["model", "phase"]),
      counterTable("Errors by class", metrics.errors, ["model", "error class"]),
      counterTable("Cancellations by reason", metrics.cancellations, ["model", "reason"]),
      counterTable("Tokens", metrics.tokens, ["model", "kind"]))));
}
