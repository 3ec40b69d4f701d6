// Server-Sent Events over fetch: EventSource cannot send the API key header, so frames are read
// from the response body with a stream reader and parsed here; a dropped connection is resumed
// from the last frame's id with Last-Event-ID.

import { authHeaders, refusal, ApiError } from "./api.js";

/** Parses one frame's lines (`id:`, `event:`, `data:`; `:` comments are pings). */
export function parseFrame(block) {
  const frame = { id: null, event: "message", data: "" };
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") frame.id = value;
    else if (field === "event") frame.event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  frame.data = data.join("\n");
  try {
    frame.json = JSON.parse(frame.data);
  } catch {
    frame.json = null;
  }
  return frame;
}

/** Yields the frames of a `text/event-stream` response as they arrive. */
export async function* frames(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replaceAll("\r\n", "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = parseFrame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (frame) yield frame;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
});

/**
 * Follows a run's frames until `done`: `first` opens the stream (a POST that starts a run, or the
 * run's stream endpoint); after a dropped connection, `GET /api/runs/{runId}/stream` with
 * Last-Event-ID resumes after the last frame seen, so no frame is lost or shown twice.
 *
 * @param {object} options
 * @param {string} options.runId the run followed
 * @param {() => Promise<Response>} [options.first] opens the first connection (default: the stream endpoint)
 * @param {(frame) => void} options.onFrame each frame, once
 * @param {(state, detail) => void} [options.onState] "connecting" | "open" | "reconnecting" | "ended"
 * @param {AbortSignal} options.signal stops following
 * @returns {Promise<string>} "done" once the done frame came, "aborted" when stopped
 */
export async function followRun({ runId, first, onFrame, onState = () => {}, signal }) {
  let lastId = null;
  let failures = 0;
  let reconnects = 0;
  const resume = () => {
    const headers = authHeaders();
    if (lastId !== null) headers.set("Last-Event-ID", lastId);
    return fetch(`/api/runs/${encodeURIComponent(runId)}/stream`, { headers, signal, cache: "no-store" });
  };
  let open = first ?? resume;
  while (!signal.aborted) {
    try {
      onState(reconnects === 0 ? "connecting" : "reconnecting", { reconnects, lastId });
      const response = await open();
      open = resume;
      if (response.status === 204) {
        // Resumed at or after the run's done: nothing more will come.
        onState("ended", { reconnects, lastId });
        return "done";
      }
      if (!response.ok) throw await refusal(response);
      onState("open", { reconnects, lastId });
      for await (const frame of frames(response)) {
        failures = 0;
        if (frame.id !== null) lastId = frame.id;
        onFrame(frame);
        if (frame.event === "done") {
          onState("ended", { reconnects, lastId });
          return "done";
        }
      }
      throw new Error("the stream ended before its done frame");
    } catch (error) {
      if (signal.aborted) return "aborted";
      // A refusal (bad key, unknown run, bad request) will not change by retrying.
      if (error instanceof ApiError && error.status < 500) throw error;
      failures += 1;
      reconnects += 1;
      onState("reconnecting", { reconnects, lastId, error });
      await sleep(Math.min(250 * 2 ** (failures - 1), 4000), signal);
    }
  }
  return "aborted";
}
