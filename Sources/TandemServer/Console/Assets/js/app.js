// The console's shell: hash routes to pages, the API key prompt, and errors shown as sentences.

import { api, ApiError, forgetKey, isAbort, storedKey, storeKey } from "./api.js";
import { h, message, pageHeading } from "./dom.js";
import { renderRuns } from "./pages/runs.js";
import { renderRun } from "./pages/run.js";
import { renderAsk } from "./pages/ask.js";
import { renderMetrics } from "./pages/metrics.js";
import { renderJournal } from "./pages/journal.js";

const pages = { runs: renderRuns, run: renderRun, ask: renderAsk, metrics: renderMetrics, journal: renderJournal };
const main = document.getElementById("main");
const forgetButton = document.getElementById("forget-key");
let current = null;
let firstRoute = true;
let prompting = false;

/** Renders the page the location's hash names (`#/runs`, `#/run/<id>`, …); stops the previous one. */
function route() {
  current?.abort();
  prompting = false;
  const controller = new AbortController();
  current = controller;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const pageName = pages[name] ? name : "runs";
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    const active = link.dataset.page === pageName || (pageName === "run" && link.dataset.page === "runs");
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  forgetButton.hidden = !storedKey();
  main.replaceChildren();
  main.dataset.page = pageName;
  const param = rest.length ? decodeURIComponent(rest.join("/")) : "";
  Promise.resolve(pages[pageName](main, { signal: controller.signal, param }))
    .then(() => {
      if (!firstRoute && !controller.signal.aborted) main.querySelector(".page-heading")?.focus();
      firstRoute = false;
    })
    .catch((error) => {
      if (isAbort(error) || controller.signal.aborted) return;
      showError(error);
    });
}

/** Shows an error that ended a page: the server's sentence and code, or the browser's reason. */
function showError(error) {
  if (error instanceof ApiError && error.status === 401) return; // the key prompt handles it
  const text = error instanceof ApiError
    ? `${error.message} (${error.code}, HTTP ${error.status})`
    : `The console could not reach the server: ${error.message}`;
  main.append(message("error", text));
}

/** Whether the API takes the stored key (or needs none); a refusal raises the key prompt. */
async function probe() {
  try {
    await api("/api/runs?limit=1");
    return true;
  } catch {
    return false;
  }
}

/** Asks for the API key: on a first 401 because keys are on, on a later one because the key was refused. */
function askForKey(refusedKey) {
  current?.abort();
  prompting = true;
  const refused = Boolean(refusedKey);
  forgetKey();
  forgetButton.hidden = true;
  const input = h("input", { id: "api-key", name: "api-key", type: "password", autocomplete: "off", required: true, "aria-describedby": "key-help" });
  const form = h("form", { class: "key-form", onsubmit: (event) => {
    event.preventDefault();
    storeKey(input.value.trim());
    prompting = false;
    // Tried at once, so a wrong key is refused here rather than on some later call.
    probe().then((accepted) => { if (accepted) route(); });
  } },
  h("label", { for: "api-key", text: "API key" }), input,
  h("button", { type: "submit", text: "Use this key" }));
  main.replaceChildren(
    pageHeading("API key needed"),
    refused
      ? message("error", "The server refused that API key (401 unauthorized). Check the key and enter it again.")
      : message("info", "This server has API keys turned on (TANDEM_API_KEYS): enter one to use the console."),
    h("p", { id: "key-help", class: "muted", text: "The key stays in this browser tab (sessionStorage) and is sent as the x-api-key header on every call." }),
    form,
  );
  input.focus();
}

// The calls of one page may all be refused: the first refusal asks, the others are the same answer.
window.addEventListener("tandem:unauthorized", () => { if (!prompting) askForKey(storedKey()); });
window.addEventListener("hashchange", route);
forgetButton.addEventListener("click", () => askForKey(null));
route();
// Pages that call nothing at first (ask) still learn at once whether keys are on.
probe();
