// Building DOM and SVG without innerHTML: every text the API returns is set as text, never parsed.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Attributes that load or navigate: only the console's own URLs go there. */
const URL_ATTRIBUTES = new Set(["href", "src", "xlink:href", "action", "formaction"]);

/** `#…` (a console route) or `/…` on this origin — never `//host`, `/\host`, `javascript:` or another site. */
function isLocalURL(value) {
  return value.startsWith("#") || (value.startsWith("/") && !value.startsWith("//") && !value.startsWith("/\\"));
}

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") element.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name.startsWith("on")) throw new TypeError(`event handler attribute ${name} must be a function`);
    else if (URL_ATTRIBUTES.has(name.toLowerCase()) && !isLocalURL(String(value))) {
      throw new TypeError(`${name} must be a console URL (# or /), not ${JSON.stringify(String(value).slice(0, 40))}`);
    }
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: `h("a", {href: "#/runs", class: "x"}, "text", child…)`. */
export function h(tag, attributes, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** An SVG element, as `h`. */
export function svg(tag, attributes, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

/** Milliseconds for people: `850 ms`, `1.24 s`, `2 min 5 s`; `—` when unknown. */
export function formatMs(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms * 10) / 10} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A journal timestamp (`…T08:05:30.123456Z`) as local date and time to the second. */
export function formatTime(ts) {
  if (!ts) return "—";
  const date = new Date(ts.slice(0, 23) + "Z");
  return Number.isNaN(date.getTime()) ? ts : date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

/** Microseconds since the epoch of a journal timestamp (which has six decimals). */
export function timestampMicros(ts) {
  const millis = Date.parse(ts.slice(0, 23) + "Z");
  const extra = Number((ts.slice(23).match(/^\d+/) ?? ["0"])[0].padEnd(3, "0").slice(0, 3));
  return millis * 1000 + extra;
}

/** Bytes for people: `812 B`, `4.1 MiB`. */
export function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} ${units[0]}` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Each status has a symbol and a word as well as a colour. */
const STATUS_SYMBOLS = {
  ok: "✓", partial: "◐", timeout: "◷", error: "✕", cancelled: "⊘", aborted: "!", running: "…",
  completed: "✓", failed: "✕",
};

/** A status badge: symbol (decorative) and word, coloured by a class. */
export function statusBadge(status) {
  const name = status ?? "unknown";
  return h("span", { class: `badge status-${name}` },
    h("span", { "aria-hidden": "true", text: STATUS_SYMBOLS[name] ?? "?" }), " ", name);
}

/** A page heading that takes the focus, so a keyboard or screen-reader user lands on the new page. */
export function pageHeading(text, ...extra) {
  return h("h1", { tabindex: "-1", class: "page-heading" }, text, ...extra);
}

/** A message in an alert region: `error` (role alert) or `info` (role status). */
export function message(kind, text) {
  return h("p", { class: `message message-${kind}`, role: kind === "error" ? "alert" : "status", text });
}

/** The JSON of an entry's data, indented for reading. */
export function prettyJSON(value) {
  return JSON.stringify(value, null, 2);
}
