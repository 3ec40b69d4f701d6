// Calls to tandem's HTTP API, with the API key (kept in sessionStorage) as a header on every one.

const KEY_NAME = "tandem.apiKey";

/** A refusal from the API: HTTP status, the stable `code` and the server's sentence. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_NAME);
}

export function storeKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_NAME);
}

/** Headers for a call: `extra`, plus `x-api-key` when a key is stored. */
export function authHeaders(extra = {}) {
  const headers = new Headers(extra);
  const key = storedKey();
  if (key) headers.set("x-api-key", key);
  return headers;
}

/** The ApiError of a refused response; a 401 is also announced as `tandem:unauthorized`. */
export async function refusal(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page?): the status says enough.
  }
  const error = new ApiError(response.status, body.code ?? `http_${response.status}`, body.error ?? `The server answered HTTP ${response.status}.`);
  if (response.status === 401) window.dispatchEvent(new CustomEvent("tandem:unauthorized", { detail: error }));
  return error;
}

/** The JSON of `GET path` (or another method), or an ApiError. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = authHeaders(body === undefined ? {} : { "content-type": "application/json" });
  const response = await fetch(path, {
    method, headers, signal, cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await refusal(response);
  return response.status === 204 ? null : response.json();
}

/** Whether `error` is the abort of a page the user left (not worth a message). */
export function isAbort(error) {
  return error?.name === "AbortError";
}
