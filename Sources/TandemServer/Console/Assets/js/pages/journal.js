// Journal: head seq and hash, entries, bytes, and the last verify; a button runs a verify of the
// whole chain over HTTP (POST /api/journal/verify, one at a time).

import { api, ApiError } from "../api.js";
import { formatBytes, formatMs, formatTime, h, message, pageHeading } from "../dom.js";

function verifyResult(result) {
  if (!result) return h("p", { class: "muted", text: "No verify has run since the server started." });
  return h("div", { class: `verify-result ${result.ok ? "verify-ok" : "verify-broken"}`, "data-ok": String(result.ok) },
    h("p", {}, h("strong", { text: result.ok ? "✓ Verified" : "✕ BROKEN" }),
      result.ok ? ` — ${result.entries} entries chain from seq 1 to the head.` : ` at seq ${result.broken_at}: ${result.reason}`),
    h("p", { class: "muted", text: `Finished ${formatTime(result.finished_at)} in ${formatMs(result.duration_ms)}; head seq ${result.head_seq}.` }));
}

export async function renderJournal(main, { signal }) {
  const facts = h("dl", { class: "summary" });
  const verifySlot = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button", text: "Verify the whole journal" });
  main.append(pageHeading("Journal"), facts,
    h("section", { "aria-labelledby": "verify-heading" },
      h("h2", { id: "verify-heading", text: "Last verify" }), verifySlot, button));

  const load = async () => {
    const journal = await api("/api/journal", { signal });
    facts.replaceChildren(
      h("dt", { text: "Head seq" }), h("dd", { class: "mono", "data-field": "head_seq", text: journal.head_seq }),
      h("dt", { text: "Head hash" }), h("dd", { class: "mono hash", "data-field": "head_hash", text: journal.head_hash }),
      h("dt", { text: "Entries" }), h("dd", { "data-field": "entries", text: journal.entries }),
      h("dt", { text: "Bytes" }), h("dd", { text: `${formatBytes(journal.bytes)} of lines · ${formatBytes(journal.file_bytes)} on disk` }),
      h("dt", { text: "Span" }), h("dd", { text: `${formatTime(journal.first_ts)} – ${formatTime(journal.last_ts)}` }),
      h("dt", { text: "Open runs" }), h("dd", { text: journal.open_runs }),
    );
    verifySlot.replaceChildren(verifyResult(journal.last_verify));
    if (journal.verify_in_progress) verifySlot.append(message("info", "A verify is running now."));
  };

  button.addEventListener("click", async () => {
    button.disabled = true;
    verifySlot.replaceChildren(message("info", "Verifying every entry's hash chain…"));
    try {
      verifySlot.replaceChildren(verifyResult(await api("/api/journal/verify", { method: "POST", signal })));
      await load();
    } catch (error) {
      if (signal.aborted) return;
      verifySlot.replaceChildren(message("error", error instanceof ApiError && error.code === "verify_in_progress"
        ? "A verify is already running (started elsewhere); try again when it has finished."
        : `Verify failed: ${error.message}`));
    } finally {
      button.disabled = false;
    }
  });
  await load();
}
